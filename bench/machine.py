"""What the figures were measured on."""

import os
import platform
import re
import subprocess
import sys

from native.process import postgres_program


def _first_line(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError:
        return "not found"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def _servers(mode: str) -> dict[str, str]:
    """The versions of the stack's own servers: local binaries, or the
    running containers' (compose exec)."""
    commands = {
        "nginx": ("proxy", ["nginx", "-v"]),
        "postgresql": ("db", ["postgres", "--version"]),
        "redis": ("redis", ["redis-server", "--version"]),
        "api python": ("api", ["python", "--version"]),
    }
    if mode == "docker":
        found = {
            name: _first_line(["docker", "compose", "exec", "-T", service, *cmd])
            for name, (service, cmd) in commands.items()
        }
        return {
            "engine": "Docker " + _first_line(["docker", "version", "--format", "{{.Server.Version}}"]),
            **found,
        }
    local = {name: cmd for name, (_, cmd) in commands.items()}
    local["postgresql"] = [postgres_program("postgres"), "--version"]
    local["api python"] = [sys.executable, "--version"]
    return {name: _first_line(cmd) for name, cmd in local.items()}


def describe(mode: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        match = re.search(r"model name\s*:\s*(.+)", open("/proc/cpuinfo").read())
        cpu = match.group(1) if match else cpu
    except OSError:
        pass

    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "os": platform.platform(),
        "mode": mode,
        **_servers(mode),
        "wrk": _first_line(["wrk", "--version"]),
    }
