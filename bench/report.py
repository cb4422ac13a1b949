"""docs/benchmarks*.md: the table, the ratios against the targets, the machine."""

from datetime import datetime
from pathlib import Path

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
}
NOTES_MARKER = "<!-- notes: kept across runs -->"


def table(results: dict[str, WrkResult]) -> str:
    lines = [
        "| scenario | requests | rps | p50 (ms) | p99 (ms) | statuses | socket errors |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for key, label in SCENARIOS.items():
        r = results[key]
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(r.statuses.items()))
        lines.append(
            f"| ({key}) {label} | {r.requests} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f}"
            f" | {statuses} | {r.socket_errors} |"
        )
    return "\n".join(lines)


def _non_200(result: WrkResult) -> int:
    return sum(count for code, count in result.statuses.items() if code != 200)


def targets(results: dict[str, WrkResult]) -> str:
    a, b, c, d, e, f = (results[k] for k in "abcdef")
    throughput = a.rps / d.rps
    stopped, paused = b.p99_ms / a.p99_ms, c.p99_ms / a.p99_ms
    normal = (a, b, c, e, results["g1"], results["g2"])
    errors = sum(_non_200(r) + r.socket_errors for r in normal)
    overload_statuses = set(f.statuses)
    neighbour = max(results["g1"].p99_ms, results["g2"].p99_ms)

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
            f"| only 200, no socket error, in (a), (b), (c), (e), (g) | {errors} other"
            f" | {verdict(errors == 0)} |",
            f"| (f) only 200 and 503, no socket error | {sorted(overload_statuses)}, {f.socket_errors} errors"
            f" | {verdict(overload_statuses <= {200, 503} and f.socket_errors == 0)} |",
            f"| (g) p99 beside slow clients < 50 ms, both ports | {neighbour:.1f} ms"
            f" | {verdict(neighbour < 50)} |",
        ]
    )


def write_report(
    path: Path,
    results: dict[str, WrkResult],
    machine: dict[str, str],
    command: str,
    when: datetime,
    chart_name: str,
) -> str:
    notes = ""
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1]
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    text = f"""# Benchmarks ({machine["mode"]})

Measured by `{command}` on {when:%Y-%m-%d %H:%M} UTC: wrk through the edge
(nginx on 8000, the page on 8080) of a fresh stack, every scenario in one run,
on one machine that also runs wrk, nginx, the API, PostgreSQL and Redis.
Figures from a shared, noisy machine: compare the ratios, not the absolute
numbers.

{table(results)}

{targets(results)}

Latency of every request across a Redis outage (a Python client loop, not wrk):

![latency over time across a Redis outage]({chart_name})

Machine:
{machine_lines}

{NOTES_MARKER}{notes}"""
    path.write_text(text)
    return text
