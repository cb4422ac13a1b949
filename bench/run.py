"""make bench: wrk through the edge of a fresh native stack, in one run.

(a) GET /  (b) GET / with Redis stopped  (c) GET / with Redis paused
(d) GET /healthz of the same app: the ceiling (same server, no I/O).
Then a timeline of every request across a Redis outage, as a chart.
"""

import argparse
import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import describe
from bench.report import write_report
from bench.timeline import Event, chart, record
from bench.wrk import WrkResult, run_wrk
from native.config import EDGE_API_PORT, REPO_ROOT, NativeConfig
from native.stack import NativeStack
from tests.conftest import free_port

API = f"http://127.0.0.1:{EDGE_API_PORT}/"
HEALTHZ = f"http://127.0.0.1:{EDGE_API_PORT}/healthz"


def measure(stack: NativeStack, connections: int, duration: int) -> dict[str, WrkResult]:
    run_wrk(API, connections, 2)  # warm-up: pools filled, caches hot
    results = {"d": run_wrk(HEALTHZ, connections, duration), "a": run_wrk(API, connections, duration)}
    stack.stop("redis")
    try:
        run_wrk(API, connections, 1)  # past the first detection
        results["b"] = run_wrk(API, connections, duration)
    finally:
        stack.start("redis")
    stack.freeze("redis", frozen=True)
    try:
        run_wrk(API, connections, 1)
        results["c"] = run_wrk(API, connections, duration)
    finally:
        stack.freeze("redis", frozen=False)
    return results


def outage_timeline(stack: NativeStack, clients: int, chart_path: Path) -> None:
    async def stop() -> None:
        await asyncio.to_thread(stack.stop, "redis")

    async def start() -> None:
        await asyncio.to_thread(stack.start, "redis")

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

    state = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    config = NativeConfig(state_dir=state, db_port=free_port(), redis_port=free_port(), api_port=free_port())
    stack = NativeStack(config)
    try:
        stack.up()
        results = measure(stack, args.connections, args.duration)
        chart_path = args.output.with_name("benchmarks-redis-outage.png")
        outage_timeline(stack, min(args.connections, 8), chart_path)
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)
    command = f"make bench CONNECTIONS={args.connections} DURATION={args.duration}"
    print(write_report(args.output, results, describe(), command, datetime.now(UTC), chart_path.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
