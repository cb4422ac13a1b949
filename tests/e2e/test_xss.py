"""A student name carrying markup is stored, shown, and never runs.

The immutable JS injects names with innerHTML; the edge's CSP (inline script
and style allowed by hash only, no image, no inline handler) is the defence.
The control test has the browser ignore that policy: the same data then runs.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import start_stack
from tests.e2e.dashboard import OPERATIONAL, POLL_TIMEOUT_MS, open_dashboard
from tests.e2e.driver import PAGE_URL, StackDriver

HOSTILE_STUDENTS = (
    "INSERT INTO students (nom, promo) VALUES"
    " ('<img src=x onerror=\"window.__xss = 1\">', 'M2 XSS'),"
    " ('<script>window.__xss = 2</script>', 'M2 XSS');"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackDriver]:
    for driver in start_stack(tmp_path_factory.mktemp("xss") / "state"):
        driver.psql(HOSTILE_STUDENTS)
        yield driver


def wait_for_all_cards(page: Page) -> None:
    """The 10 seeded students and the 2 hostile ones."""
    expect(page.locator(".card")).to_have_count(12, timeout=POLL_TIMEOUT_MS)


def test_markup_in_a_name_does_not_run(stack: StackDriver, page: Page, artifacts_dir: Path) -> None:
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    open_dashboard(page)
    wait_for_all_cards(page)
    page.wait_for_timeout(2500)  # one more poll re-injects the cards
    assert page.evaluate("window.__xss") is None
    expect(page.locator("#status")).to_have_text(OPERATIONAL)
    assert any("Content Security Policy" in text for text in refused), refused
    page.screenshot(path=artifacts_dir / "dashboard-hostile-names.png", full_page=True)


def test_control_without_the_policy_the_same_data_runs(stack: StackDriver, browser: Browser) -> None:
    # Same page, same data, the browser told to ignore the CSP: the handler runs.
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(PAGE_URL)
        wait_for_all_cards(page)
        page.wait_for_function("window.__xss === 1", timeout=POLL_TIMEOUT_MS)
    finally:
        context.close()
