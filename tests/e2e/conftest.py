"""Headless Chromium (Debian's) driven by Playwright, on the real page."""

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.settings import Settings
from bench.driver import API_URL, StackDriver
from tests.conftest import users_stack_left_untouched
from tests.e2e.secrets_check import assert_no_secret_in_logs

# How long a module waits for the stack it inherits to count views again.
SETTLE_WITHIN_S = 30.0
# Each API worker has its own breaker, and one the edge's kept-alive
# connections do not reach may still be backing off from a Redis the previous
# module brought back: past one back-off, its next request probes and counts.
REDIS_BACKOFF_S = Settings.model_fields["redis_backoff"].default

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
    """The stack, up, healthy and counting views for each test module;
    afterwards, its logs are checked for secrets."""
    if not session_stack.healthy():
        session_stack.up()
    wait_until_counting()
    yield session_stack
    assert_no_secret_in_logs(session_stack.logs(), session_stack.secrets())


@pytest.fixture(scope="session", autouse=True)
def users_stack() -> Iterator[None]:
    """The tests run under a project of their own: the user's is never touched."""
    yield from users_stack_left_untouched()


def counting() -> bool:
    try:
        with urllib.request.urlopen(API_URL, timeout=5) as response:
            rows = json.loads(response.read())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
        return False
    return bool(rows) and rows[0].get("views") is not None


def wait_until_counting() -> None:
    deadline = time.monotonic() + SETTLE_WITHIN_S
    while not counting():
        assert time.monotonic() < deadline, f"the stack does not count views after {SETTLE_WITHIN_S:.0f} s"
        time.sleep(0.2)
    time.sleep(REDIS_BACKOFF_S)
