"""The view counter against the real Redis: a busy connection pool, and a
connection Redis closed, are not an outage."""

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from app.breaker import Breaker
from app.counter import ViewCounter
from app.init_secrets import REDIS_ADMIN_SECRET
from app.settings import REDIS_ADMIN_USER, Settings
from tests.integration.backing import Backing


def test_a_busy_connection_pool_is_not_a_redis_outage(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """More concurrent calls than pooled connections (pings: increments go
    one INCRBY at a time): the extra ones go without an answer, and Redis
    stays available; a burst of increments needs one connection only."""
    assert settings.redis_password is not None
    client = Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        username=settings.redis_user,
        password=settings.redis_password.get_secret_value(),
        driver_info=None,
        max_connections=2,
    )
    breaker = Breaker("Redis", settings.redis_backoff, "serving without views")
    counter = ViewCounter(client, settings.counter_key, timeout=1.0, breaker=breaker)

    async def scenario() -> tuple[list[bool], list[int | None]]:
        try:
            pings = await asyncio.gather(*(counter.ping() for _ in range(10)))
            return list(pings), list(await asyncio.gather(*(counter.increment() for _ in range(10))))
        finally:
            await counter.close()

    with caplog.at_level(logging.INFO, logger="app.breaker"):
        pings, burst = asyncio.run(scenario())
    assert False in pings and True in pings
    assert not [record.getMessage() for record in caplog.records if "unavailable" in record.getMessage()]
    assert counter.available
    values = [value for value in burst if value is not None]
    assert len(values) == 10 and values == list(range(values[0], values[0] + 10))


def test_a_connection_redis_closed_while_idle_is_replaced_not_an_outage(
    settings: Settings, stack: Backing, caplog: pytest.LogCaptureFixture
) -> None:
    """What a Redis restart, a CLIENT KILL or an idle timeout leaves in each
    worker's pool: the next increment opens a new connection and counts,
    instead of failing on the dead one and serving without views."""
    counter = ViewCounter.from_settings(settings)
    password = (stack.secrets_dir / REDIS_ADMIN_SECRET).read_text().strip()
    admin = Redis(
        host=settings.redis_host, port=settings.redis_port, username=REDIS_ADMIN_USER, password=password
    )

    async def scenario() -> tuple[int | None, int, int | None]:
        try:
            first = await counter.increment()
            killed = await admin.client_kill_filter(user=settings.redis_user)
            await asyncio.sleep(0.2)  # the closed socket is seen by the event loop, as an idle one would be
            return first, killed, await counter.increment()
        finally:
            await counter.close()
            await admin.aclose()

    with caplog.at_level(logging.INFO, logger="app.breaker"):
        first, killed, after = asyncio.run(scenario())
    assert killed >= 1, "no connection of the API's user to close"
    assert first is not None and after is not None and after > first
    assert not [record.getMessage() for record in caplog.records if "unavailable" in record.getMessage()]
