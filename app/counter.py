"""The global view counter in Redis, with bounded latency when Redis is away."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import MaxConnectionsError, RedisError
from redis.maint_notifications import MaintNotificationsConfig

from app.breaker import Breaker, BreakerOpen
from app.metrics import COUNTER_ERRORS
from app.settings import Settings

# Everything a dead, frozen or unreachable Redis can raise through redis-py.
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

T = TypeVar("T")
log = logging.getLogger(__name__)


async def within(seconds: float, operation: Awaitable[T]) -> T:
    """The operation's result, or TimeoutError after `seconds` at the latest.

    Unlike asyncio.wait_for, never waits for a cancelled operation to finish:
    redis-py cleans up after a cancellation by closing its socket, and a close
    can wait on a peer that stopped answering. The operation is cancelled and
    left to end on its own.
    """
    task = asyncio.ensure_future(operation)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        # Whatever it ends with is nobody's any more.
        task.add_done_callback(lambda ended: ended.cancelled() or ended.exception())
        raise TimeoutError(f"no answer within {seconds}s")
    if task.cancelled():
        # Cancelled by someone else (redis-py's own clean-up): for the
        # caller, no answer; a CancelledError would read as its own cancellation.
        raise TimeoutError("the operation was cancelled")
    return task.result()


# The app's shutdown waits this long at most for its Redis connections to close.
CLOSE_TIMEOUT_S = 1.0


class CurrentCredentials(CredentialProvider):
    """The API's Redis user, with its password as the file holds it now: a
    rotated password reaches the next connection without a restart."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        return self._settings.redis_user, self._settings.current("redis_password") or ""

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        return self.get_credentials()


class PoolBusy(Exception):
    """Every pooled connection is in use: Redis is fine, this call goes without."""


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
        # Requests waiting for the next INCRBY, and the one in flight.
        self._waiting: list[asyncio.Future[int | None]] = []
        self._in_flight: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "ViewCounter":
        client = Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            # The API's own ACL user (app/init_secrets.py): INCRBY of its key,
            # PING; its password file read at each new connection.
            credential_provider=CurrentCredentials(settings),
            # No CLIENT SETINFO on connect: a command its user may not run.
            driver_info=None,
            # No socket timeouts of redis-py's own: each call is bounded once,
            # by `within`. Two asyncio timeouts of the same length nested in
            # one task can both fire in one loop pass (CPU saturation), and
            # then a CancelledError escapes the request instead of a
            # TimeoutError, which uvicorn answers with a plain 500.
            socket_timeout=None,
            socket_connect_timeout=None,
            # No retries: the breaker's back-off is the retry policy.
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=0,
            # Off, not "auto": a managed cluster's feature, and while it is on
            # the pool hands out a connection Redis closed (a restart, a
            # CLIENT KILL) without checking it, and the call on it fails.
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
        )
        breaker = Breaker("Redis", settings.redis_backoff, "serving without views")
        return cls(client, settings.counter_key, settings.redis_timeout, breaker)

    @property
    def available(self) -> bool:
        return self._breaker.available

    async def increment(self) -> int | None:
        """The counter after this request's increment, or None while Redis is
        unavailable.

        Requests that arrive while an INCRBY is in flight are counted together
        by the next one (INCRBY n, then values v-n+1 ... v in arrival order):
        one round trip, and one fsync, per burst instead of per request. No
        request shares an INCRBY sent before it arrived, so one that starts
        after another got its value gets a higher one. Never undone: each
        value is handed out once (a request gone meanwhile leaves a gap).
        """
        if self._in_flight is not None and not self._breaker.available:
            return None  # Redis is down and one request probes it: no waiting behind the probe
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._in_flight is None:
            self._send_next_batch()
        return await waiter

    def _send_next_batch(self) -> None:
        batch, self._waiting = self._waiting, []
        self._in_flight = asyncio.ensure_future(self._count(batch))

    async def _count(self, batch: list[asyncio.Future[int | None]]) -> None:
        failure: Exception | None = None
        try:
            total = await self._call(lambda: self._client.incr(self._key, len(batch)))
        except asyncio.CancelledError:  # the app is stopping: so are the requests
            for waiter in batch + self._waiting:
                waiter.cancel()
            raise
        except Exception as exc:  # not a Redis failure (_call takes those): a bug, the requests' 500
            total, failure = None, exc
        self._in_flight = None
        if self._waiting:
            self._send_next_batch()
        for offset, waiter in enumerate(batch):
            if waiter.done():
                continue  # the request is gone: its value is skipped, never reused
            if failure is not None:
                waiter.set_exception(failure)
            else:
                waiter.set_result(None if total is None else total - len(batch) + 1 + offset)

    async def ping(self) -> bool:
        return await self._call(self._client.ping) is not None

    async def close(self) -> None:
        try:
            await within(CLOSE_TIMEOUT_S, self._client.aclose())
        except REDIS_FAILURES:
            log.debug("closing the Redis connections failed", exc_info=True)

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T | None:
        try:
            return await self._breaker.call(lambda: self._bounded(command), REDIS_FAILURES)
        except (BreakerOpen, PoolBusy):
            return None
        except REDIS_FAILURES:
            COUNTER_ERRORS.inc()
            await self._drop_idle_connections()
            return None

    async def _bounded(self, command: Callable[[], Awaitable[T]]) -> T:
        try:
            return await within(self._timeout, command())
        except MaxConnectionsError as exc:
            # Saturation, not an outage: must not open the breaker.
            raise PoolBusy from exc

    async def _drop_idle_connections(self) -> None:
        """After a Redis restart the idle connections are all dead: drop them
        at once rather than failing on each in turn. Never the in-use ones:
        other requests are reading from them, and each sees its own failure.
        Bounded like any call: a close can wait on a peer that stopped answering."""
        try:
            await within(self._timeout, self._client.connection_pool.disconnect(inuse_connections=False))
        except Exception:
            # Closing a dead or frozen socket can fail or time out: nothing to do.
            log.debug("dropping idle Redis connections failed", exc_info=True)
