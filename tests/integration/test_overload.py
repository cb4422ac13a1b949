"""Overload of a real API process: fast 503s with Retry-After, never a 500.

Hundreds of concurrent connections against one uvicorn worker with a tiny
database pool, on the integration stack's real PostgreSQL and Redis.
"""

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from bench.load import Answer, Event, blocking, burst
from tests.integration.backing import Backing
from tests.integration.live_server import LiveServer, live_server

CONNECTIONS = 300
# A pool far smaller than the load, and a short wait for a connection: the
# pool is saturated all along, while PostgreSQL itself is fine.
TINY_POOL = {"db_pool_min_size": 1, "db_pool_max_size": 2, "db_acquire_timeout": 0.01}


def assert_only_200_and_fast_503(answers: list[Answer | str], server: LiveServer) -> None:
    errors = [answer for answer in answers if isinstance(answer, str)]
    assert not errors, f"{len(errors)} transport errors, e.g. {errors[:3]}"
    statuses = Counter(answer.status for answer in answers if isinstance(answer, Answer))
    assert set(statuses) == {200, 503}, statuses
    unavailable = [answer for answer in answers if isinstance(answer, Answer) and answer.status == 503]
    assert all(answer.headers.get("retry-after") == "2" for answer in unavailable)
    assert all(answer.headers.get("content-type") == "application/json" for answer in unavailable)
    log = server.log_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def warm_up(server: LiveServer) -> None:
    """Pools filled, as make bench does before measuring."""
    assert httpx.get(f"{server.url}/", timeout=5).status_code == 200


def test_overload_with_redis_paused_then_stopped_answers_only_200_or_503(
    stack: Backing, tmp_path: Path
) -> None:
    events: list[Event] = [
        (1.0, blocking(lambda: stack.pause("redis"))),
        (2.0, blocking(lambda: stack.unpause("redis"))),
        (2.5, blocking(lambda: stack.stop("redis"))),
        (3.5, blocking(lambda: stack.start("redis"))),
    ]
    try:
        with live_server(stack, tmp_path / "api.log", redis_backoff=0.5, **TINY_POOL) as server:
            warm_up(server)
            answers = asyncio.run(burst(server.url, CONNECTIONS, 5.0, events))
            assert_only_200_and_fast_503(answers, server)
    finally:
        stack.start("redis")


def test_a_saturated_pool_is_not_a_database_outage(stack: Backing, tmp_path: Path) -> None:
    with live_server(stack, tmp_path / "api.log", **TINY_POOL) as server:
        warm_up(server)
        answers = asyncio.run(burst(server.url, CONNECTIONS, 2.0, []))
        assert_only_200_and_fast_503(answers, server)
        # The breaker stayed closed: served at once, not after a back-off.
        for _ in range(5):
            assert httpx.get(f"{server.url}/", timeout=2).status_code == 200
        assert "PostgreSQL unavailable" not in server.log_text()
