"""make bench: wrk through the edge of a fresh stack, every scenario in one run.

(a) GET /  (b) GET / with Redis stopped  (c) GET / with Redis paused
(d) GET /healthz of the same app: the ceiling (same server, no I/O)
(e) GET / with 64 connections: the latency target
(f) overload: GET / with 1,000 connections
(g) hostile neighbour: 2,000 slow clients (slowloris) on 8000 while GET /
    (8000) and the page (8080) are measured
Then a timeline of every request across a Redis outage, as a chart, and
(h) GET / with 10,000 students, (i) with 100,000. Each scenario also reports
how often each container's CPU quota held it back, and any OOM kill.
"""

import argparse
import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import containers
from bench.driver import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, StackDriver
from bench.load import blocking, hold_slow_connections
from bench.machine import describe
from bench.report import Measured, write_report
from bench.timeline import Event, chart, record
from bench.wrk import WrkResult, run_wrk

API = f"http://127.0.0.1:{EDGE_API_PORT}/"
HEALTHZ = f"http://127.0.0.1:{EDGE_API_PORT}/healthz"
PAGE = f"http://127.0.0.1:{EDGE_PAGE_PORT}/"
OVERLOAD_CONNECTIONS = 1000
SLOW_CLIENTS = 2000
# (h) and (i): the table grown to these many students.
LARGE_TABLES = {"h": 10_000, "i": 100_000}


class Bench:
    def __init__(self, stack: StackDriver, connections: int, duration: int) -> None:
        self.stack, self.connections, self.duration = stack, connections, duration
        self.results: dict[str, Measured] = {}

    def scenario(self, key: str, measure: Callable[[], WrkResult]) -> None:
        """Run one scenario, its wrk result kept with the containers' counters."""
        before = containers.read(self.stack)
        result = measure()
        self.results[key] = Measured(result, containers.since(before, containers.read(self.stack)))

    def wrk(self, url: str = API, connections: int = 0) -> Callable[[], WrkResult]:
        return lambda: run_wrk(url, connections or self.connections, self.duration)

    def run(self) -> dict[str, Measured]:
        run_wrk(API, self.connections, 2)  # warm-up: pools filled, caches hot
        self.scenario("d", self.wrk(HEALTHZ))
        self.scenario("a", self.wrk())
        self.scenario("e", self.wrk(connections=64))
        with self.redis_away(self.stack.stop, self.stack.start):
            self.scenario("b", self.wrk())
        with self.redis_away(self.stack.pause, self.stack.unpause):
            self.scenario("c", self.wrk())
        self.scenario("f", self.wrk(connections=OVERLOAD_CONNECTIONS))
        self.hostile_neighbour()
        return self.results

    @contextmanager
    def redis_away(self, down: Callable[[str], None], up: Callable[[str], None]) -> Iterator[None]:
        """Redis down for the block, past its first detection, then up again."""
        down("redis")
        try:
            run_wrk(API, self.connections, 1)
            yield
        finally:
            up("redis")

    def hostile_neighbour(self) -> None:
        """Slow clients hold connections on 8000 (reconnecting when the edge
        drops them) for the whole time normal clients measure on 8000, then on 8080."""
        with ThreadPoolExecutor(1) as pool:
            seconds = 2 * self.duration + 10
            slow_clients = hold_slow_connections("127.0.0.1", EDGE_API_PORT, SLOW_CLIENTS, seconds)
            held = pool.submit(asyncio.run, slow_clients)
            asyncio.run(asyncio.sleep(3))  # all of them connected
            self.scenario("g1", self.wrk())
            self.scenario("g2", self.wrk(PAGE))
            # Each one is dropped by the header timeout and comes back: several per client.
            print(f"(g) {held.result()} slow connections opened in {seconds} s by {SLOW_CLIENTS} clients")

    def large_tables(self) -> None:
        """The students table grown, as a year of enrolments would (the
        answers stay one bounded page)."""
        rows = 10
        for key, size in LARGE_TABLES.items():
            numbered = f"generate_series({rows + 1}, {size})"
            insert = "INSERT INTO students (nom, promo) SELECT 'Étudiant ' || n, 'M2 Charge' FROM {} AS n;"
            self.stack.psql(insert.format(numbered))
            rows = size
            run_wrk(API, self.connections, 1)
            self.scenario(key, self.wrk())


def outage_timeline(stack: StackDriver, clients: int, chart_path: Path) -> None:
    stop, start = blocking(lambda: stack.stop("redis")), blocking(lambda: stack.start("redis"))
    events: list[Event] = [(10.0, "redis stopped", stop), (20.0, "redis started", start)]
    samples = asyncio.run(record(API, 30.0, clients, events))
    title = f"GET / through the edge, {clients} clients, Redis stopped from 10 s to 20 s"
    chart(samples, [(at, label) for at, label, _ in events], title, chart_path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()

    stack = StackDriver()
    stack.up()
    try:
        machine = describe()
        bench = Bench(stack, args.connections, args.duration)
        bench.run()
        chart_path = args.output.with_name("benchmarks-redis-outage.png")
        outage_timeline(stack, min(args.connections, 8), chart_path)
        bench.large_tables()
    finally:
        stack.clean()
    command = f"make bench CONNECTIONS={args.connections} DURATION={args.duration}"
    print(write_report(args.output, bench.results, machine, command, datetime.now(UTC), chart_path.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
