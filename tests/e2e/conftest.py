"""Headless Chromium (Debian's) driven by Playwright, on the real page."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.driver import StackDriver
from tests.e2e.secrets_check import assert_no_secret_in_logs

CHROMIUM = "/usr/bin/chromium"
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


def start_stack(state_dir: Path) -> Iterator[StackDriver]:
    """A stack for a test module; afterwards, its logs are checked for secrets."""
    driver = StackDriver(state_dir)
    driver.up()
    try:
        yield driver
    finally:
        driver.down()
    assert_no_secret_in_logs(state_dir)
