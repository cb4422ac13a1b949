"""Shared test helpers: paths and the order of the tests."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"


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
