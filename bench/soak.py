"""make soak: sustained load while Redis and the database go down and up.

Every cycle (60 s): Redis stopped at +15 s and started at +25 s, the database
stopped at +35 s and started at +45 s. Reports requests, statuses, p50/p99 per
phase and whether the counter moved by exactly the number of answers that
carried views (exactly, but for INCRs in flight when Redis is stopped).
Exits non-zero on any status other than 200/503 or a counter gap.
"""

import argparse
import asyncio
import statistics
from collections import Counter
from pathlib import Path

from app.settings import Settings
from bench.driver import EDGE_API_PORT, REPO_ROOT, StackDriver
from bench.timeline import Event, Sample, chart, record

API = f"http://127.0.0.1:{EDGE_API_PORT}/"
CYCLE_S = 60
SCHEDULE = [(15, "redis", "stop"), (25, "redis", "start"), (35, "db", "stop"), (45, "db", "start")]
MAX_SECONDS = 600


def schedule(stack: StackDriver, seconds: int) -> list[Event]:
    events: list[Event] = []
    for cycle_start in range(0, seconds, CYCLE_S):
        for offset, service, action in SCHEDULE:
            at = cycle_start + offset
            if at < seconds - 5:
                operation = getattr(stack, action)

                async def run(operation=operation, service=service) -> None:  # type: ignore[no-untyped-def]
                    await asyncio.to_thread(operation, service)

                events.append((float(at), f"{service} {action}", run))
    return events


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def phase_of(at: float) -> str:
    """The service SCHEDULE has down at `at` ("normal" when none is)."""
    offset = at % CYCLE_S
    stops = {service: start for start, service, action in SCHEDULE if action == "stop"}
    for end, service, action in SCHEDULE:
        if action == "start" and stops[service] <= offset < end:
            return f"{service} down"
    return "normal"


def in_flight_bound(events: list[Event], clients: int) -> int:
    """Increments Redis may apply without the client hearing back: the
    commands in flight when it is stopped (at most one per client)."""
    return clients * sum(1 for _, label, _ in events if label == "redis stop")


def report(samples: list[Sample], counter_delta: int, seconds: int, clients: int, bound: int) -> str:
    statuses = Counter(s.status for s in samples)
    with_views = sum(1 for s in samples if s.status == 200 and s.views is not None)
    gap = counter_delta - with_views
    verdict = "consistent" if 0 <= gap <= bound else "INCONSISTENT"
    lines = [
        f"# Soak: {seconds} s, {clients} clients, GET / through the edge",
        "",
        f"- requests: {len(samples)}",
        "- by status: "
        + ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(statuses.items())),
        f"- 200 with views: {with_views}; counter increase: {counter_delta}; gap {gap} "
        f"(allowed 0 to {bound}: INCRs in flight when Redis stops are applied but unanswered): {verdict}",
        "",
        "| phase (transitions included) | requests | statuses | p50 (ms) | p99 (ms) |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for phase in ["normal", *(f"{service} down" for _, service, action in SCHEDULE if action == "stop")]:
        group = [s for s in samples if phase_of(s.at_s) == phase]
        latencies = [s.latency_ms for s in group]
        by_status = Counter(s.status for s in group)
        lines.append(
            f"| {phase} | {len(group)} | {dict(sorted(by_status.items()))} "
            f"| {percentile(latencies, 50):.1f} | {percentile(latencies, 99):.1f} |"
        )
    return "\n".join(lines) + "\n"


def counter_value(stack: StackDriver) -> int:
    """Read as the operator does (make redis-cli, the admin user)."""
    key = Settings.model_fields["counter_key"].default
    return int(stack.make("redis-cli", stdin=f"GET {key}\n").strip() or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "test-artifacts" / "soak")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)

    stack = StackDriver()
    args.output.mkdir(parents=True, exist_ok=True)
    try:
        stack.up()
        before = counter_value(stack)
        events = schedule(stack, seconds)
        samples = asyncio.run(record(API, float(seconds), args.clients, events))
        for service in ("db", "redis"):
            stack.start(service)
        delta = counter_value(stack) - before
    finally:
        stack.clean()
    bound = in_flight_bound(events, args.clients)
    text = report(samples, delta, seconds, args.clients, bound)
    (args.output / "soak.md").write_text(text)
    chart(
        samples,
        [(at, label) for at, label, _ in events],
        "Soak: GET / under outages",
        args.output / "soak.png",
    )
    print(text)
    print(f"written: {args.output / 'soak.md'}, {args.output / 'soak.png'}")
    unexpected = sum(1 for s in samples if s.status not in (200, 503))
    gap = delta - sum(1 for s in samples if s.status == 200 and s.views is not None)
    return 0 if unexpected == 0 and 0 <= gap <= bound else 1


if __name__ == "__main__":
    raise SystemExit(main())
