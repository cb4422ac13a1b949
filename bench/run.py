"""make bench: wrk through the edge of a fresh stack, every scenario in one run.

The stack is the native one, or the containers with `--mode docker` (`make
bench MODE=docker`); it is driven through make, as the tests drive it.
(a) GET /  (b) GET / with Redis stopped  (c) GET / with Redis paused
(d) GET /healthz of the same app: the ceiling (same server, no I/O)
(e) GET / with 64 connections: the latency target
(f) overload: GET / with 1,000 connections
(g) hostile neighbour: 2,000 slow clients (slowloris) on 8000 while GET /
    (8000) and the page (8080) are measured
Then a timeline of every request across a Redis outage, as a chart.
"""

import argparse
import asyncio
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.driver import StackDriver
from bench.load import blocking, hold_slow_connections
from bench.machine import describe
from bench.report import write_report
from bench.timeline import Event, chart, record
from bench.wrk import WrkResult, run_wrk
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT

API = f"http://127.0.0.1:{EDGE_API_PORT}/"
HEALTHZ = f"http://127.0.0.1:{EDGE_API_PORT}/healthz"
PAGE = f"http://127.0.0.1:{EDGE_PAGE_PORT}/"
OVERLOAD_CONNECTIONS = 1000
SLOW_CLIENTS = 2000


def measure(stack: StackDriver, connections: int, duration: int) -> dict[str, WrkResult]:
    run_wrk(API, connections, 2)  # warm-up: pools filled, caches hot
    results = {"d": run_wrk(HEALTHZ, connections, duration), "a": run_wrk(API, connections, duration)}
    results["e"] = run_wrk(API, 64, duration)
    stack.stop("redis")
    try:
        run_wrk(API, connections, 1)  # past the first detection
        results["b"] = run_wrk(API, connections, duration)
    finally:
        stack.start("redis")
    stack.pause("redis")
    try:
        run_wrk(API, connections, 1)
        results["c"] = run_wrk(API, connections, duration)
    finally:
        stack.unpause("redis")
    results["f"] = run_wrk(API, OVERLOAD_CONNECTIONS, duration)
    results.update(hostile_neighbour(connections, duration))
    return results


def hostile_neighbour(connections: int, duration: int) -> dict[str, WrkResult]:
    """Slow clients hold connections on 8000 (reconnecting when the edge drops
    them) for the whole time normal clients measure on 8000, then on 8080."""
    with ThreadPoolExecutor(1) as pool:
        seconds = 2 * duration + 6
        slow_clients = hold_slow_connections("127.0.0.1", EDGE_API_PORT, SLOW_CLIENTS, seconds)
        held = pool.submit(asyncio.run, slow_clients)
        asyncio.run(asyncio.sleep(3))  # all of them connected
        results = {"g1": run_wrk(API, connections, duration), "g2": run_wrk(PAGE, connections, duration)}
        # Each one is dropped by the header timeout and comes back: several per client.
        print(f"(g) {held.result()} slow connections opened in {seconds} s by {SLOW_CLIENTS} clients")
    return results


def outage_timeline(stack: StackDriver, clients: int, chart_path: Path) -> None:
    stop, start = blocking(lambda: stack.stop("redis")), blocking(lambda: stack.start("redis"))
    events: list[Event] = [(10.0, "redis stopped", stop), (20.0, "redis started", start)]
    samples = asyncio.run(record(API, 30.0, clients, events))
    title = f"GET / through the edge ({stack.mode}), {clients} clients, Redis stopped from 10 s to 20 s"
    chart(samples, [(at, label) for at, label, _ in events], title, chart_path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("native", "docker"), default="native")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--output", type=Path, help="default: docs/benchmarks[-docker].md")
    args = parser.parse_args()
    suffix = "" if args.mode == "native" else f"-{args.mode}"
    output: Path = args.output or REPO_ROOT / "docs" / f"benchmarks{suffix}.md"

    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as state:
        stack = StackDriver(Path(state) / "state", mode=args.mode)
        stack.up()
        try:
            machine = describe(args.mode)
            results = measure(stack, args.connections, args.duration)
            chart_path = output.with_name(f"benchmarks{suffix}-redis-outage.png")
            outage_timeline(stack, min(args.connections, 8), chart_path)
        finally:
            stack.clean()
    command = f"make bench MODE={args.mode} CONNECTIONS={args.connections} DURATION={args.duration}"
    print(write_report(output, results, machine, command, datetime.now(UTC), chart_path.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
