"""The counter's back-off logic, with a scripted client and a manual clock.

Real Redis behaviour (stopped, paused, back) is covered in tests/integration.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.breaker import Breaker
from app.counter import ViewCounter
from tests.unit.clock import Clock


class Pool:
    """Records each disconnect's inuse_connections; raises `failure` if set,
    or never returns (a Redis that stops answering halfway through)."""

    def __init__(self, failure: BaseException | None = None, hang: bool = False) -> None:
        self.disconnects: list[bool] = []
        self.failure = failure
        self.hang = hang

    async def disconnect(self, inuse_connections: bool = True) -> None:
        self.disconnects.append(inuse_connections)
        if self.hang:
            await asyncio.Event().wait()
        if self.failure is not None:
            raise self.failure


class ScriptedClient:
    """Answers INCRBY from a script: an int, an exception to raise, 'hang', or
    'stubborn' (hangs, and its clean-up after a cancellation hangs too, as a
    close waiting for a frozen peer does); each answer takes `delay` seconds."""

    def __init__(self, *answers: object, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.amounts: list[int] = []
        self.delay = delay
        self.connection_pool = Pool()

    async def incr(self, key: str, amount: int = 1) -> int:
        self.calls += 1
        self.amounts.append(amount)
        await asyncio.sleep(self.delay)
        answer = self.answers.pop(0)
        if answer == "hang":
            await asyncio.sleep(3600)
        if answer == "stubborn":
            try:
                await asyncio.sleep(3600)
            finally:
                await asyncio.shield(asyncio.Event().wait())
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, int)
        return answer


def counter(client: ScriptedClient, clock: Clock) -> ViewCounter:
    breaker = Breaker("Redis", backoff=2.0, consequence="serving without views", clock=clock)
    return ViewCounter(client, "views", timeout=0.05, breaker=breaker)  # type: ignore[arg-type]


def run(coro: Callable[[], Awaitable[object]]) -> object:
    return asyncio.run(coro())  # type: ignore[arg-type]


def test_increment_returns_the_counter() -> None:
    views = counter(ScriptedClient(7), Clock())
    assert run(views.increment) == 7
    assert views.available


def test_failure_skips_redis_during_the_backoff_then_retries() -> None:
    client, clock = ScriptedClient(RedisConnectionError("down"), 8), Clock()
    views = counter(client, clock)
    assert run(views.increment) is None
    assert not views.available
    clock.now += 1.9
    assert run(views.increment) is None
    assert client.calls == 1  # not asked during the back-off
    clock.now += 0.2
    assert run(views.increment) == 8
    assert views.available and client.calls == 2
    # The failure dropped the idle connections (dead after a Redis restart),
    # never those other requests are using.
    assert client.connection_pool.disconnects == [False]


def test_a_failing_disconnect_does_not_escape() -> None:
    client = ScriptedClient(RedisConnectionError("down"))
    client.connection_pool = Pool(RedisTimeoutError("Timed out closing connection after 0.1"))
    views = counter(client, Clock())
    assert run(views.increment) is None
    assert client.connection_pool.disconnects == [False]


def test_a_hanging_redis_costs_the_timeout_once() -> None:
    client, clock = ScriptedClient("hang"), Clock()
    views = counter(client, clock)

    async def twice() -> tuple[object, object, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first = await views.increment()
        second = await views.increment()
        return first, second, loop.time() - start

    first, second, elapsed = asyncio.run(twice())
    assert (first, second) == (None, None)
    assert client.calls == 1
    assert elapsed < 1.0  # bounded by the 0.05 s timeout, not the hang


def test_only_one_request_probes_after_the_backoff() -> None:
    client, clock = ScriptedClient(RedisConnectionError("down"), "hang"), Clock()
    views = counter(client, clock)
    run(views.increment)
    clock.now += 3

    async def concurrent() -> list[object]:
        return list(await asyncio.gather(*(views.increment() for _ in range(5))))

    assert asyncio.run(concurrent()) == [None] * 5
    assert client.calls == 2  # the first failure, then a single probe


def test_state_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    errors = [RedisConnectionError("down")] * 3
    client, clock = ScriptedClient(*errors, 9, 10), Clock()
    views = counter(client, clock)
    with caplog.at_level(logging.INFO, logger="app.breaker"):
        for _ in range(3):
            run(views.increment)
            clock.now += 2.5
        run(views.increment)
        run(views.increment)
    messages = [record.getMessage() for record in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("available again" in m for m in messages) == 1


def test_a_burst_is_counted_by_one_incrby_after_the_one_in_flight() -> None:
    client = ScriptedClient(10, 14, delay=0.01)
    views = counter(client, Clock())

    async def burst() -> list[int | None]:
        return list(await asyncio.gather(*(views.increment() for _ in range(5))))

    # The first request's INCRBY 1 is in flight when the four others arrive:
    # one INCRBY 4 for them, values handed out in arrival order.
    assert asyncio.run(burst()) == [10, 11, 12, 13, 14]
    assert client.amounts == [1, 4]


def test_a_request_gone_while_waiting_leaves_a_gap_never_a_repeat() -> None:
    client = ScriptedClient(10, 12, delay=0.01)
    views = counter(client, Clock())

    async def one_leaves() -> tuple[object, object, bool]:
        first, leaving, last = (asyncio.create_task(views.increment()) for _ in range(3))
        await asyncio.sleep(0)  # all three waiting: the first's INCRBY in flight
        leaving.cancel()
        return await first, await last, leaving.cancelled()

    assert asyncio.run(one_leaves()) == (10, 12, True)  # 11 was the leaver's
    assert client.amounts == [1, 2]


def test_an_unexpected_error_reaches_every_request_of_the_batch() -> None:
    views = counter(ScriptedClient("not a number", "nor this", delay=0.01), Clock())

    async def three() -> list[object]:
        return list(await asyncio.gather(*(views.increment() for _ in range(3)), return_exceptions=True))

    # A bug (here the scripted client's assertion), not an outage: each
    # request of each batch gets it (the API's JSON 500), none waits forever.
    assert [type(answer) for answer in asyncio.run(three())] == [AssertionError] * 3


def test_requests_do_not_wait_behind_the_probe_of_a_redis_down() -> None:
    client, clock = ScriptedClient(RedisConnectionError("down"), "hang"), Clock()
    views = counter(client, clock)
    run(views.increment)
    clock.now += 3

    async def scenario() -> tuple[object, bool, object]:
        probe = asyncio.create_task(views.increment())
        await asyncio.sleep(0)  # the probe's INCRBY is in flight, hanging
        other = await views.increment()
        return other, probe.done(), await probe

    # The other request is answered (without views) while the probe still hangs.
    assert asyncio.run(scenario()) == (None, False, None)


def bounded(scenario: Callable[[], Awaitable[object]], seconds: float = 2.0) -> object:
    """Run the scenario, failing (instead of hanging the suite) past `seconds`."""

    async def within() -> object:
        return await asyncio.wait_for(scenario(), seconds)

    return asyncio.run(within())


@pytest.mark.parametrize("stuck", ["disconnect", "command"])
def test_a_redis_that_stops_answering_never_leaves_the_counter_stuck(stuck: str) -> None:
    """Every await on Redis is bounded: a disconnect that never returns, or a
    command whose clean-up after its timeout never ends, costs the timeout
    once; after the back-off the counter counts again."""
    first = RedisTimeoutError("no answer") if stuck == "disconnect" else "stubborn"
    client, clock = ScriptedClient(first, 9), Clock()
    client.connection_pool = Pool(hang=stuck == "disconnect")
    views = counter(client, clock)

    async def scenario() -> tuple[object, object]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        skipped = await views.increment()
        assert loop.time() - start < 1.0
        clock.now += 2.5
        return skipped, await views.increment()

    assert bounded(scenario) == (None, 9)


def test_a_command_cancelled_inside_redis_py_is_a_failure_not_a_hang() -> None:
    """A cancellation the counter did not ask for (redis-py's own clean-up
    cancelling its command) fails that INCRBY like an outage: its requests go
    without views, and the counter counts again after the back-off instead of
    waiting forever behind a batch that never ended."""
    client, clock = ScriptedClient(asyncio.CancelledError(), 9), Clock()
    views = counter(client, clock)

    async def scenario() -> tuple[object, object]:
        skipped = await views.increment()
        clock.now += 2.5
        return skipped, await views.increment()

    assert bounded(scenario) == (None, 9)
