"""The API as production runs it (`python -m app.serve`), one worker, on a free port.

For tests that need a real HTTP server and real concurrency: overload, and
concurrent clients across an outage. The TestClient runs the app in a thread
of the test process, which hides both.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from tests.integration.backing import Backing, free_port

START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the API did not answer within {START_TIMEOUT_S}s")


@contextmanager
def live_server(stack: Backing, log: Path, **settings: object) -> Iterator[LiveServer]:
    """Run the API against `stack`; settings override the app's."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        **stack.environment(),
        **{key.upper(): str(value) for key, value in settings.items()},
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "API_WORKERS": "1",
    }
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.serve"], env=env, cwd=REPO_ROOT, stdout=output, stderr=output
        )
    try:
        _wait_until_serving(url, process, log)
        yield LiveServer(url, log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
