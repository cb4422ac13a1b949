"""Headless Chromium (Debian's) driven by Playwright, on the real page."""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.driver import E2E_MODE, StackDriver
from tests.e2e.secrets_check import assert_no_secret_in_logs

# Debian's Chromium; another Chromium-based browser with CHROMIUM=/path (CI runners).
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # launch() gives Chromium a fresh temporary profile (--user-data-dir) each time.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackDriver]:
    """A fresh stack for each test module; afterwards, its logs are checked
    for secrets and its data is dropped."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    driver = StackDriver(tmp_path_factory.mktemp(name) / "state", mode=E2E_MODE)
    driver.up()
    try:
        yield driver
    finally:
        logs, secrets = driver.logs(), driver.secrets()
        driver.clean()
    assert_no_secret_in_logs(logs, secrets)


native_only = pytest.mark.skipif(E2E_MODE != "native", reason="reads the native runner's processes and files")
docker_only = pytest.mark.skipif(E2E_MODE != "docker", reason="inspects the containers (make test-docker)")
swarm_only = pytest.mark.skipif(E2E_MODE != "swarm", reason="deploys to a swarm (make test-swarm)")
