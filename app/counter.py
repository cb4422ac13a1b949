"""The global view counter in Redis, with bounded latency when Redis is away."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.settings import Settings

log = logging.getLogger(__name__)

# Everything a dead, frozen or unreachable Redis can raise through redis-py.
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

T = TypeVar("T")


class ViewCounter:
    """INCR of one key, skipped for a back-off period after a failure.

    Each operation is bounded by ``timeout``; after a failure the counter
    reports itself unavailable for ``backoff`` seconds without touching
    Redis, then tries again. State changes are logged once, not per request.
    """

    def __init__(
        self,
        client: Redis,
        key: str,
        timeout: float,
        backoff: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key = key
        self._timeout = timeout
        self._backoff = backoff
        self._clock = clock
        self._retry_at = 0.0
        self._down = False
        self._probe_in_flight = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "ViewCounter":
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        client = Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            password=password,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
            # No retries: the back-off below is the retry policy.
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=0,
        )
        return cls(client, settings.counter_key, settings.redis_timeout, settings.redis_backoff)

    @property
    def available(self) -> bool:
        return not self._down

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
        probing = self._down
        if probing:
            # While down, one request at a time probes Redis once the back-off
            # is over; the others go on without waiting for it.
            if self._probe_in_flight or self._clock() < self._retry_at:
                return None
            self._probe_in_flight = True
        try:
            result = await asyncio.wait_for(command(), self._timeout)
        except REDIS_FAILURES as exc:
            self._mark_down(exc)
            # Drop every pooled connection: after a Redis restart they are all
            # dead, and reusing them one by one would fail once per back-off.
            await self._client.connection_pool.disconnect()
            return None
        finally:
            if probing:
                self._probe_in_flight = False
        self._mark_up()
        return result

    def _mark_down(self, exc: BaseException) -> None:
        self._retry_at = self._clock() + self._backoff
        if not self._down:
            self._down = True
            log.warning(
                "Redis unavailable (%s); serving without views, retrying every %.1fs",
                type(exc).__name__,
                self._backoff,
            )

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            log.info("Redis available again; views are counted")
