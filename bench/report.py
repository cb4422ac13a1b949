"""docs/benchmarks.md: the table, the ratios against the targets, what each
container's CPU quota cost, the machine."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.containers import Counters
from bench.wrk import WrkResult

SCENARIOS = {
    "a": "GET / (normal)",
    "b": "GET / (Redis stopped)",
    "c": "GET / (Redis paused, SIGSTOP)",
    "d": "GET /healthz (ceiling)",
    "e": "GET / with 64 connections",
    "f": "overload: GET / with 1,000 connections",
    "g1": "GET / beside 2,000 slow clients on 8000",
    "g2": "the page (8080) beside 2,000 slow clients on 8000",
    "h": "GET / with 10,000 students",
    "i": "GET / with 100,000 students",
}
NOTES_MARKER = "<!-- notes: kept across runs -->"
# The scenarios of GET / (the others ask /healthz or the page: no views there).
COUNTED = ("a", "b", "c", "e", "f", "g1", "h", "i")


@dataclass(frozen=True)
class Measured:
    wrk: WrkResult
    containers: dict[str, Counters | None]


def table(results: dict[str, Measured]) -> str:
    lines = [
        "| scenario | requests | rps | p50 (ms) | p99 (ms) | statuses | 200 without views | socket errors |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for key, label in SCENARIOS.items():
        r = results[key].wrk
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(r.statuses.items()))
        lines.append(
            f"| ({key}) {label} | {r.requests} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f}"
            f" | {statuses} | {r.without_views if key in COUNTED else '—'} | {r.socket_errors} |"
        )
    return "\n".join(lines)


def throttling(results: dict[str, Measured]) -> str:
    """Per scenario and container: the share of CPU periods the quota held it
    back in, and for how long in all (cgroup cpu.stat)."""
    services = list(next(iter(results.values())).containers)
    lines = [
        "| scenario | " + " | ".join(services) + " |",
        "| --- |" + " ---: |" * len(services),
    ]
    for key in SCENARIOS:
        cells = []
        for service in services:
            c = results[key].containers[service]
            if c is None:
                cells.append("stopped or paused")
                continue
            share = c.throttled / c.periods if c.periods else 0.0
            oom = f", {c.oom_kills} OOM" if c.oom_kills else ""
            cells.append(f"{share:.0%}, {c.throttled_s:.1f} s{oom}")
        lines.append(f"| ({key}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _non_200(result: WrkResult) -> int:
    return sum(count for code, count in result.statuses.items() if code != 200)


def targets(results: dict[str, Measured]) -> str:
    a, b, c, d, e, f, h, i = (results[k].wrk for k in "abcdefhi")
    throughput = a.rps / d.rps
    stopped, paused = b.p99_ms / a.p99_ms, c.p99_ms / a.p99_ms
    normal = (a, b, c, e, results["g1"].wrk, results["g2"].wrk, h)
    errors = sum(_non_200(r) + r.socket_errors for r in normal)
    overload_statuses, large_statuses = set(f.statuses), set(i.statuses)
    neighbour = max(results["g1"].wrk.p99_ms, results["g2"].wrk.p99_ms)
    large_ratio = i.p99_ms / a.p99_ms
    oom = sum(counters.oom_kills for counters in results["i"].containers.values() if counters)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return "\n".join(
        [
            "| target | measured | verdict |",
            "| --- | ---: | --- |",
            f"| (a) ÷ (d) throughput ≥ 50 % | {throughput:.0%} | {verdict(throughput >= 0.5)} |",
            f"| p99 (e), 64 connections, < 50 ms | {e.p99_ms:.1f} ms | {verdict(e.p99_ms < 50)} |",
            f"| p99 (b) ÷ p99 (a) ≤ 1.5 | {stopped:.2f} | {verdict(stopped <= 1.5)} |",
            f"| p99 (c) ÷ p99 (a) ≤ 1.5 | {paused:.2f} | {verdict(paused <= 1.5)} |",
            f"| only 200, no socket error, in (a), (b), (c), (e), (g), (h) | {errors} other"
            f" | {verdict(errors == 0)} |",
            f"| (f) only 200 and 503, no socket error | {sorted(overload_statuses)}, {f.socket_errors} errors"
            f" | {verdict(overload_statuses <= {200, 503} and f.socket_errors == 0)} |",
            f"| (g) p99 beside slow clients < 50 ms, both ports | {neighbour:.1f} ms"
            f" | {verdict(neighbour < 50)} |",
            f"| (h) every answer carries views while Redis is up | {h.without_views} without"
            f" | {verdict(h.without_views == 0)} |",
            f"| (i) only 200 and 503, no socket error, no OOM kill | {sorted(large_statuses)},"
            f" {i.socket_errors} errors, {oom} OOM kills"
            f" | {verdict(large_statuses <= {200, 503} and i.socket_errors == 0 and oom == 0)} |",
            f"| p99 (i) ÷ p99 (a) ≤ 2 | {large_ratio:.2f} | {verdict(large_ratio <= 2)} |",
        ]
    )


def write_report(
    path: Path,
    results: dict[str, Measured],
    machine: dict[str, str],
    command: str,
    when: datetime,
    chart_name: str,
) -> str:
    notes = ""
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1]
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    text = f"""# Benchmarks

Measured by `{command}` on {when:%Y-%m-%d %H:%M} UTC: wrk through the edge
(nginx on 8000, the page on 8080) of a fresh Compose stack, every scenario in
one run, on one machine that also runs wrk and every container. Figures from
a shared, noisy machine: compare the ratios, not the absolute numbers.

{table(results)}

{targets(results)}

What each container's CPU quota cost in each scenario: the share of its
CPU periods in which it used its whole quota and waited, and that wait in
all (cgroup `cpu.stat`); OOM kills if any (`memory.events`). The quotas are
the `deploy.resources.limits` of docker-compose.yml.

{throttling(results)}

Latency of every request across a Redis outage (a Python client loop, not wrk):

![latency over time across a Redis outage]({chart_name})

Machine:
{machine_lines}

{NOTES_MARKER}{notes}"""
    path.write_text(text)
    return text
