"""The global view counter in Redis, with bounded latency when Redis is away."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.breaker import Breaker, BreakerOpen
from app.settings import Settings

# Everything a dead, frozen or unreachable Redis can raise through redis-py.
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

T = TypeVar("T")


class ViewCounter:
    """INCR of one key; while Redis is away, the counter is simply absent.

    Each operation is bounded by `timeout`; after a failure Redis is skipped
    for `backoff` seconds (see app.breaker) instead of paying the timeout on
    every request.
    """

    def __init__(self, client: Redis, key: str, timeout: float, breaker: Breaker) -> None:
        self._client = client
        self._key = key
        self._timeout = timeout
        self._breaker = breaker

    @classmethod
    def from_settings(cls, settings: Settings) -> "ViewCounter":
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        client = Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            password=password,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
            # No retries: the breaker's back-off is the retry policy.
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=0,
        )
        breaker = Breaker("Redis", settings.redis_backoff, "serving without views")
        return cls(client, settings.counter_key, settings.redis_timeout, breaker)

    @property
    def available(self) -> bool:
        return self._breaker.available

    async def increment(self) -> int | None:
        """The counter after one INCR, or None while Redis is unavailable."""
        return await self._call(lambda: self._client.incr(self._key))

    async def decrement(self) -> None:
        """Best-effort undo of an increment whose response was not served."""
        await self._call(lambda: self._client.decr(self._key))

    async def ping(self) -> bool:
        return await self._call(self._client.ping) is not None

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T | None:
        try:
            return await self._breaker.call(
                lambda: asyncio.wait_for(command(), self._timeout), REDIS_FAILURES
            )
        except BreakerOpen:
            return None
        except REDIS_FAILURES:
            # Drop every pooled connection: after a Redis restart they are all
            # dead, and reusing them one by one would fail once per back-off.
            await self._client.connection_pool.disconnect()
            return None
