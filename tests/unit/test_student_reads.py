"""Requests that arrive during a students read share it (app.db.StudentStore).

The read itself is replaced by a counting stand-in: what is tested is who
waits for which read. Real PostgreSQL reads, a frozen database included, are
in tests/integration.
"""

import asyncio
from typing import Any

import pytest

from app.db import JOIN_WINDOW_S, DatabaseUnavailable, StudentStore
from app.settings import Settings


class CountedReads:
    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, query: str) -> list[dict[str, Any]]:
        self.calls += 1
        answer = self.answers.pop(0)
        await asyncio.sleep(3600 if answer == "hang" else 0.01)
        if isinstance(answer, BaseException):
            raise answer
        return [{"id": answer, "nom": "Zoé"}]


def store_reading(reads: CountedReads) -> StudentStore:
    store = StudentStore(Settings())  # the pool is never opened
    store._query = reads  # type: ignore[method-assign]
    return store


def test_requests_during_a_read_share_it_and_later_ones_read_again() -> None:
    reads = CountedReads(1, 2)
    store = store_reading(reads)

    async def burst_then_one() -> tuple[list[Any], list[Any]]:
        burst = await asyncio.gather(*(store.fetch_students() for _ in range(5)))
        return list(burst), await store.fetch_students()

    burst, later = asyncio.run(burst_then_one())
    assert burst == [[{"id": 1, "nom": "Zoé"}]] * 5 and reads.calls == 2
    assert later == [{"id": 2, "nom": "Zoé"}]  # started after the first read ended: a new one


def test_each_request_gets_rows_of_its_own_to_change() -> None:
    store = store_reading(CountedReads(1))

    async def two() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(store.fetch_students(), store.fetch_students()))

    first, second = asyncio.run(two())
    first[0]["views"] = 7
    assert "views" not in second[0]


def test_a_failed_read_fails_each_of_its_sharers() -> None:
    reads = CountedReads(DatabaseUnavailable("down"))
    store = store_reading(reads)

    async def shared_failure() -> list[object]:
        return list(await asyncio.gather(*(store.fetch_students() for _ in range(3)), return_exceptions=True))

    assert [type(answer) for answer in asyncio.run(shared_failure())] == [DatabaseUnavailable] * 3
    assert reads.calls == 1


def test_a_client_gone_does_not_cancel_the_read_the_others_wait_for() -> None:
    reads = CountedReads(4)
    store = store_reading(reads)

    async def one_leaves() -> object:
        leaving, staying = (asyncio.create_task(store.fetch_students()) for _ in range(2))
        await asyncio.sleep(0)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(one_leaves()) == [{"id": 4, "nom": "Zoé"}] and reads.calls == 1


def test_a_read_stuck_past_the_join_window_is_not_joined() -> None:
    """After an outage the pool may wait a second to reconnect: the requests
    that come later read on their own instead of all waiting behind it."""
    reads = CountedReads("hang", 5)
    store = store_reading(reads)

    async def later_one_reads_alone() -> object:
        stuck = asyncio.create_task(store.fetch_students())
        await asyncio.sleep(JOIN_WINDOW_S * 2)
        try:
            return await asyncio.wait_for(store.fetch_students(), JOIN_WINDOW_S * 10)
        finally:
            stuck.cancel()

    assert asyncio.run(later_one_reads_alone()) == [{"id": 5, "nom": "Zoé"}] and reads.calls == 2
