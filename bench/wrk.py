"""Run wrk against a URL and read its report."""

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# Counts the answers by status (wrk itself only reports "Non-2xx or 3xx").
STATUS_SCRIPT = Path(__file__).with_name("statuses.lua")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    # 200s without the `views` key (GET / with Redis skipped).
    without_views: int = 0


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(report: str) -> WrkResult:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", report, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        raise ValueError(f"wrk reported no latency percentiles:\n{report}")
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    statuses = {
        int(code): int(count) for code, count in re.findall(r"^status (\d+) (\d+)$", report, re.MULTILINE)
    }
    without_views = re.search(r"^without views (\d+)$", report, re.MULTILINE)
    return WrkResult(
        requests=requests,
        rps=rps,
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        statuses=statuses,
        without_views=int(without_views.group(1)) if without_views else 0,
    )


def run_wrk(url: str, connections: int, duration_s: int, threads: int = 2) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "5s"]
    report = subprocess.run(
        [*command, "-s", str(STATUS_SCRIPT), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 60,
    ).stdout
    return parse(report)
