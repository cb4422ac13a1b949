"""What the figures were measured on."""

import os
import platform
import re
import subprocess
import sys

from native.services import postgres_bin


def _first_line(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not found"
    return (result.stdout or result.stderr).strip().splitlines()[0]


def describe() -> dict[str, str]:
    cpu = "unknown"
    try:
        match = re.search(r"model name\s*:\s*(.+)", open("/proc/cpuinfo").read())
        cpu = match.group(1) if match else cpu
    except OSError:
        pass
    import uvicorn

    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "uvicorn": uvicorn.__version__,
        "nginx": _first_line(["nginx", "-v"]),
        "postgresql": _first_line([postgres_bin("postgres"), "--version"]),
        "redis": _first_line(["redis-server", "--version"]),
        "wrk": _first_line(["wrk", "--version"]),
    }
