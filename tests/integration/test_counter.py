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
    """More concurrent INCRs than pooled connections: the extra ones go
    without views, and the counter stays available for the next request."""
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

    async def scenario() -> tuple[list[int | None], int | None]:
        try:
            burst = await asyncio.gather(*(counter.increment() for _ in range(10)))
            return list(burst), await counter.increment()
        finally:
            await counter.close()

    with caplog.at_level(logging.INFO, logger="app.breaker"):
        burst, after = asyncio.run(scenario())
    assert None in burst and any(isinstance(value, int) for value in burst)
    assert not [record.getMessage() for record in caplog.records if "unavailable" in record.getMessage()]
    assert counter.available
    assert isinstance(after, int)
