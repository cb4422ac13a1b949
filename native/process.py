"""Small helpers to start, find and stop background processes by pid file."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from native.privileges import RunAs


class StartError(RuntimeError):
    """A service did not start; the message says where to look."""


def run(
    cmd: Sequence[str], user: RunAs, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion as the service user; raise on failure."""
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        list(cmd), env=_env(env), text=True, capture_output=True, **user.popen_kwargs(), **kwargs
    )
    if result.returncode != 0:
        raise StartError(f"{cmd[0]} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
    return result


def spawn(
    cmd: Sequence[str],
    user: RunAs,
    log_file: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a long-running process in its own session, logging to log_file."""
    with open(log_file, "ab") as log:
        user.own(log_file)
        proc = subprocess.Popen(
            list(cmd),
            env=_env(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **user.popen_kwargs(),
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def read_pid(pid_file: Path) -> int | None:
    """The pid in pid_file if that process is alive."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid if not _is_zombie(pid) else None


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def terminate(pid_file: Path, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Stop the process of pid_file (and its group); True if one was running."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, sig)
    if not wait_until(lambda: read_pid(pid_file) is None, timeout):
        _signal_group(pid, signal.SIGKILL)
        wait_until(lambda: read_pid(pid_file) is None, 5)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(extra or {})
    return env
