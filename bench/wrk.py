"""Run wrk against a URL and read its report."""

import re
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(report: str) -> WrkResult:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", report, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    return WrkResult(
        requests=requests,
        rps=rps,
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(url: str, connections: int, duration_s: int, threads: int = 2) -> WrkResult:
    report = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 60,
    ).stdout
    return parse(report)
