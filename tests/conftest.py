"""Shared test helpers: paths, the order of the tests, and the guard of a
user's own stack on the engine the tests run on."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.driver import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"
# docker-compose.yml's project name: a user's own stack. The tests run under
# a project of their own (tests/engine/run.sh) and must leave its volumes be.
USER_PROJECT = "student-dashboard"
CANARY = f"{USER_PROJECT}_tests-canary"


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


def init_scripts_override(scripts: Path) -> Path:
    """A compose file, beside `scripts`, that gives db that folder as its init
    scripts: an older volume's first start (compose replaces a mount of the
    same target, so nothing else of db differs)."""
    override = scripts.with_name(f"{scripts.name}-initdb.yml")
    override.write_text(f"services:\n  db:\n    volumes:\n      - {scripts}:/docker-entrypoint-initdb.d:ro\n")
    return override


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=60).stdout


def user_volumes() -> dict[str, str]:
    """Name -> creation time of every volume of the user's own project."""
    names = docker(
        "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={USER_PROJECT}"
    ).split()
    if not names:
        return {}
    return {volume["Name"]: volume["CreatedAt"] for volume in json.loads(docker("volume", "inspect", *names))}


def users_stack_left_untouched() -> Iterator[None]:
    """For a tier's whole session: a volume of the user's project (a canary,
    labelled as compose labels its own) and every one already there exist
    afterwards, the same volumes (not removed and made again)."""
    labels = [f"com.docker.compose.project={USER_PROJECT}", "com.docker.compose.volume=tests-canary"]
    docker("volume", "create", *(f"--label={label}" for label in labels), CANARY)
    before = user_volumes()
    try:
        yield
    finally:
        after = user_volumes()
        docker("volume", "rm", "--force", CANARY)
    assert after == before, f"the user's project lost volumes: {set(before) - set(after)}"
