"""What the figures were measured on: the machine, the engine, and the
versions the running containers report."""

import os
import platform
import re
import subprocess
from pathlib import Path

from bench.driver import REPO_ROOT

# What each service's server reports of its version, asked inside its container.
VERSIONS = {
    "nginx": ("proxy", ["nginx", "-v"]),
    "postgresql": ("db", ["postgres", "--version"]),
    "redis": ("redis", ["redis-server", "--version"]),
    "api python": ("api", ["python", "--version"]),
}


def _first_line(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except OSError:
        return "not found"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def describe() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo")
    found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text() if cpuinfo.exists() else "")
    return {
        "cores": str(os.cpu_count()),
        "cpu": found.group(1) if found else "unknown",
        "os": platform.platform(),
        "engine": "Docker " + _first_line(["docker", "version", "--format", "{{.Server.Version}}"]),
        **{
            name: _first_line(["docker", "compose", "exec", "-T", service, *cmd])
            for name, (service, cmd) in VERSIONS.items()
        },
        "wrk": _first_line(["wrk", "--version"]),
    }
