"""Find programs; start, find, signal and stop processes by pid file; the stack's errors."""

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from native.privileges import RunAs


class StackError(RuntimeError):
    """An operation of the native stack failed; the message says why (the CLI prints it)."""


class CommandError(StackError):
    """A program the stack ran exited with an error."""


def run(
    cmd: Sequence[str], user: RunAs, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion as the service user; raise on failure."""
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        list(cmd), env=environment(env), text=True, capture_output=True, **user.popen_kwargs(), **kwargs
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise CommandError(f"{cmd[0]} failed ({result.returncode}): {output}")
    return result


def probe(cmd: Sequence[str], user: RunAs, env: Mapping[str, str] | None = None) -> str | None:
    """A healthcheck command's output, None when it fails."""
    try:
        return run(cmd, user, env=env).stdout
    except CommandError:
        return None


def read_pid(pid_file: Path) -> int | None:
    """The pid in pid_file (its first word) if that process is alive."""
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)  # OSError: gone, or the pid now another user's process
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state == "Z" else pid  # a zombie not reaped yet is gone


def process_tree(pid: int) -> list[int]:
    """pid, then its descendants, depth first (a gone process has none)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(descendant for child in children for descendant in process_tree(int(child)))]


def terminate(pid_file: Path, timeout: float = 15.0) -> None:
    """Stop the process of pid_file and its group (SIGTERM, SIGKILL after timeout)."""
    pid = read_pid(pid_file)
    if pid is not None:
        signal_group(pid, signal.SIGTERM)
        if not wait_until(lambda: read_pid(pid_file) is None, timeout):
            signal_group(pid, signal.SIGKILL)
            wait_until(lambda: read_pid(pid_file) is None, 5)
    pid_file.unlink(missing_ok=True)


def signal_group(pid: int, sig: int) -> None:
    """Signal pid's process group: every process the runner starts leads one
    (a new session), with its workers or backends in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """A child's environment: the locale and PATH of this one, and extra."""
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(extra or {})
    return env


def program(name: str) -> str:
    """A program on PATH, or in the sbin folders a user's PATH may lack (nginx)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if found is None:
        raise StackError(f"{name} not found: make deps installs it")
    return found


def postgres_program(name: str) -> str:
    """A PostgreSQL program from the newest installed major version (not on PATH on Debian)."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    return candidates[-1] if candidates else program(name)
