"""docs/benchmarks.md: the table, the ratios against the targets, the machine."""

from datetime import datetime
from pathlib import Path

from bench.wrk import WrkResult

SCENARIOS = {
    "a": "GET / (normal)",
    "b": "GET / (Redis stopped)",
    "c": "GET / (Redis paused, SIGSTOP)",
    "d": "GET /healthz (ceiling)",
}
NOTES_MARKER = "<!-- notes: kept across runs -->"


def table(results: dict[str, WrkResult]) -> str:
    lines = [
        "| scenario | requests | rps | p50 (ms) | p99 (ms) | non-2xx | socket errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in SCENARIOS.items():
        r = results[key]
        lines.append(
            f"| ({key}) {label} | {r.requests} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f}"
            f" | {r.non_2xx} | {r.socket_errors} |"
        )
    return "\n".join(lines)


def targets(results: dict[str, WrkResult]) -> str:
    a, b, c, d = (results[k] for k in "abcd")
    throughput = a.rps / d.rps
    stopped, paused = b.p99_ms / a.p99_ms, c.p99_ms / a.p99_ms
    errors = a.non_2xx + b.non_2xx + c.non_2xx + a.socket_errors + b.socket_errors + c.socket_errors

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return "\n".join(
        [
            "| target | measured | verdict |",
            "| --- | ---: | --- |",
            f"| (a) ÷ (d) throughput ≥ 50 % | {throughput:.0%} | {verdict(throughput >= 0.5)} |",
            f"| p99 (b) ÷ p99 (a) ≤ 1.5 | {stopped:.2f} | {verdict(stopped <= 1.5)} |",
            f"| p99 (c) ÷ p99 (a) ≤ 1.5 | {paused:.2f} | {verdict(paused <= 1.5)} |",
            f"| no non-2xx nor socket error in (a), (b), (c) | {errors} | {verdict(errors == 0)} |",
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
    text = f"""# Benchmarks

Measured by `{command}` on {when:%Y-%m-%d %H:%M} UTC: wrk through the edge
(nginx on 8000) of a fresh native stack, all scenarios in one run, on one
machine that also runs wrk, nginx, the API, PostgreSQL and Redis. Figures from
a shared, noisy machine: compare the ratios, not the absolute numbers.

{table(results)}

{targets(results)}

Latency of every request across a Redis outage (a Python client loop, not wrk):

![latency over time across a Redis outage]({chart_name})

Machine:
{machine_lines}

{NOTES_MARKER}{notes}"""
    path.write_text(text)
    return text
