"""Headless Chromium (Debian's) driven by Playwright, on the real page."""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.driver import StackDriver
from tests.conftest import users_stack_left_untouched
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


@pytest.fixture(scope="session")
def session_stack() -> Iterator[StackDriver]:
    """One stack for the whole suite (an `up` costs seconds), dropped with its
    data at the end. A test that takes it down brings it back."""
    driver = StackDriver()
    try:
        yield driver
    finally:
        driver.clean()


@pytest.fixture(scope="module")
def stack(session_stack: StackDriver) -> Iterator[StackDriver]:
    """The stack, up and healthy for each test module; afterwards, its logs
    are checked for secrets."""
    if not session_stack.healthy():
        session_stack.up()
    yield session_stack
    assert_no_secret_in_logs(session_stack.logs(), session_stack.secrets())


@pytest.fixture(scope="session", autouse=True)
def users_stack() -> Iterator[None]:
    """The tests run under a project of their own: the user's is never touched."""
    yield from users_stack_left_untouched()
