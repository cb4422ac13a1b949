"""Requests that arrive during a read of the same page share it (app.db.StudentStore).

The query itself is replaced by a counting stand-in: what is tested is who
waits for which read. Real PostgreSQL reads, a frozen database included, are
in tests/integration.
"""

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

import pytest

from app.db import JOIN_WINDOW_S, DatabaseUnavailable, StudentStore
from app.settings import Settings


class CountedReads:
    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, query: str, params: tuple[int, ...] = ()) -> list[dict[str, Any]]:
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


def first_page(store: StudentStore) -> Awaitable[list[Any]]:
    """The first page's rows, as a client receives them (no views)."""

    async def read() -> list[Any]:
        return list(json.loads((await store.fetch_page(None, 10)).body(None)))

    return read()


def test_requests_during_a_read_share_it_and_later_ones_read_again() -> None:
    reads = CountedReads(1, 2)
    store = store_reading(reads)

    async def burst_then_one() -> tuple[list[Any], list[Any]]:
        burst = await asyncio.gather(*(first_page(store) for _ in range(5)))
        return list(burst), await first_page(store)

    burst, later = asyncio.run(burst_then_one())
    assert burst == [[{"id": 1, "nom": "Zoé"}]] * 5 and reads.calls == 2
    assert later == [{"id": 2, "nom": "Zoé"}]  # started after the first read ended: a new one


def test_only_requests_for_the_same_page_share_a_read() -> None:
    reads = CountedReads(1, 2, 3)
    store = store_reading(reads)

    async def three_pages() -> list[Any]:
        pages = (store.fetch_page(None, 10), store.fetch_page(None, 20), store.fetch_page(4, 10))
        return [json.loads(page.body(None)) for page in await asyncio.gather(*pages)]

    assert asyncio.run(three_pages()) == [[{"id": n, "nom": "Zoé"}] for n in (1, 2, 3)]
    assert reads.calls == 3


def test_a_failed_read_fails_each_of_its_sharers() -> None:
    reads = CountedReads(DatabaseUnavailable("down"))
    store = store_reading(reads)

    async def shared_failure() -> list[object]:
        return list(await asyncio.gather(*(first_page(store) for _ in range(3)), return_exceptions=True))

    assert [type(answer) for answer in asyncio.run(shared_failure())] == [DatabaseUnavailable] * 3
    assert reads.calls == 1


def test_a_client_gone_does_not_cancel_the_read_the_others_wait_for() -> None:
    reads = CountedReads(4)
    store = store_reading(reads)

    async def one_leaves() -> object:
        leaving, staying = (asyncio.create_task(first_page(store)) for _ in range(2))
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
        stuck = asyncio.create_task(first_page(store))
        await asyncio.sleep(JOIN_WINDOW_S * 2)
        try:
            return await asyncio.wait_for(first_page(store), JOIN_WINDOW_S * 10)
        finally:
            stuck.cancel()

    assert asyncio.run(later_one_reads_alone()) == [{"id": 5, "nom": "Zoé"}] and reads.calls == 2
