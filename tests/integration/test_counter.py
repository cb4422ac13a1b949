"""The view counter against the real Redis: a busy connection pool is not an outage."""

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from app.breaker import Breaker
from app.counter import ViewCounter
from app.settings import Settings


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
