"""Shared test helpers: paths and free ports."""

import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Gitignored folder for screenshots and logs of a test run."""
    path = ARTIFACTS / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests last, whatever the paths given: they are the slowest,
    and Playwright keeps an event loop running in the main thread."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.path))
