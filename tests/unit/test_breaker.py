import asyncio

import pytest

from app.breaker import Breaker, BreakerOpen
from tests.unit.clock import Clock


async def fail() -> None:
    raise ConnectionError("refused")


async def ok() -> str:
    return "ok"


def test_failures_open_it_and_a_probe_after_the_backoff_closes_it() -> None:
    clock = Clock()
    breaker = Breaker("dep", backoff=1.0, consequence="degraded", clock=clock)

    async def scenario() -> None:
        with pytest.raises(ConnectionError):
            await breaker.call(fail, (ConnectionError,))
        assert not breaker.available
        with pytest.raises(BreakerOpen):
            await breaker.call(ok, (ConnectionError,))
        clock.now = 1.0
        assert await breaker.call(ok, (ConnectionError,)) == "ok"
        assert breaker.available

    asyncio.run(scenario())


def test_other_exceptions_do_not_open_it() -> None:
    breaker = Breaker("dep", backoff=1.0, consequence="degraded", clock=Clock())

    async def bug() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        asyncio.run(breaker.call(bug, (ConnectionError,)))
    assert breaker.available


def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = Breaker("dep", backoff=1.0, consequence="degraded", clock=clock)

    async def scenario() -> None:
        with pytest.raises(ConnectionError):
            await breaker.call(fail, (ConnectionError,))
        clock.now = 2.0
        probe = asyncio.ensure_future(breaker.call(lambda: asyncio.sleep(10), (ConnectionError,)))
        await asyncio.sleep(0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        # Not stuck "probing": the next call is let through.
        assert await breaker.call(ok, (ConnectionError,)) == "ok"

    asyncio.run(scenario())
