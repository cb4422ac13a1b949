"""API_DRAIN_SECONDS: after SIGTERM the API keeps serving, then stops cleanly.

An orchestrator (Swarm, Kubernetes) takes a stopping replica out of DNS and
signals it at the same moment; the edge still sends it requests until its
cached answer expires. Without the drain, uvicorn refuses them at once.
"""

import signal
import time
from pathlib import Path

import httpx

from tests.integration.backing import Backing
from tests.integration.live_server import LiveServer, live_server


def answers_after_sigterm(server: LiveServer, seconds: float) -> list[int | str]:
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + seconds
    results: list[int | str] = []
    while time.monotonic() < deadline:
        try:
            results.append(httpx.get(f"{server.url}/", timeout=1).status_code)
        except httpx.TransportError as exc:
            results.append(type(exc).__name__)
        time.sleep(0.1)
    return results


def test_a_draining_api_serves_after_sigterm_then_exits_cleanly(stack: Backing, tmp_path: Path) -> None:
    with live_server(stack, tmp_path / "api.log", api_drain_seconds=2.5) as server:
        answers = answers_after_sigterm(server, 1.5)
        assert len(answers) >= 5 and set(answers) == {200}, answers
        assert server.process.wait(timeout=10) == 0
        assert "serving 2.5s more" in server.log_text()


def test_without_a_drain_the_api_stops_answering_at_once(stack: Backing, tmp_path: Path) -> None:
    # The control: what a replica does to the edge's requests without the drain.
    with live_server(stack, tmp_path / "api.log") as server:
        answers = answers_after_sigterm(server, 1.5)
        assert "ConnectError" in answers, answers
