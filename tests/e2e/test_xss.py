"""A student name carrying markup never runs, in two layers.

The immutable JS injects names with innerHTML. The data and the API keep
markup out of that sink (a check constraint refuses it; the API HTML-encodes
rows written before the check), and the edge's CSP (inline script and style
allowed by hash only, no image, no inline handler) stops whatever would
still reach the DOM. The rows here predate the check (it is dropped first).
"""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bench.driver import PAGE_URL, StackDriver
from tests.e2e.dashboard import OPERATIONAL, POLL_TIMEOUT_MS, open_dashboard

IMG_HANDLER = '<img src=x onerror="window.__xss = 1">'
SCRIPT = "<script>window.__xss = 2</script>"
DROP_CHECK = "ALTER TABLE students DROP CONSTRAINT students_no_markup;"
INSERT_HOSTILE = "INSERT INTO students (nom, promo) VALUES ('{}', 'M2 XSS'), ('{}', 'M2 XSS');"


@pytest.fixture(scope="module")
def stack(stack: StackDriver) -> StackDriver:
    """The module's stack (conftest), with the hostile students stored."""
    stack.psql(DROP_CHECK + INSERT_HOSTILE.format(IMG_HANDLER, SCRIPT))
    return stack


def wait_for_all_cards(page: Page) -> None:
    """The 10 seeded students and the 2 hostile ones."""
    expect(page.locator(".card")).to_have_count(12, timeout=POLL_TIMEOUT_MS)


@pytest.mark.parametrize("bypass_csp", [False, True])
def test_markup_in_a_name_shows_as_text_and_never_runs(
    stack: StackDriver, browser: Browser, artifacts_dir: Path, bypass_csp: bool
) -> None:
    # Even with the CSP ignored, the encoded names are text: nothing to run.
    context = browser.new_context(bypass_csp=bypass_csp)
    try:
        page = context.new_page()
        open_dashboard(page)
        wait_for_all_cards(page)
        page.wait_for_timeout(2500)  # one more poll re-injects the cards
        assert page.evaluate("window.__xss") is None
        assert page.locator(".card img, .card script").count() == 0
        names = page.locator(".card h3").all_inner_texts()
        assert IMG_HANDLER in names and SCRIPT in names
        expect(page.locator("#status")).to_have_text(OPERATIONAL)
        if not bypass_csp:
            page.screenshot(path=artifacts_dir / "dashboard-hostile-names.png", full_page=True)
    finally:
        context.close()


def inject_handler(page: Page) -> None:
    """What a markup-carrying value would do if it ever reached the DOM."""
    page.evaluate(f"document.body.insertAdjacentHTML('beforeend', '{IMG_HANDLER}')")


def test_the_csp_stops_markup_that_would_reach_the_dom(stack: StackDriver, page: Page) -> None:
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    open_dashboard(page)
    inject_handler(page)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert any("Content Security Policy" in text for text in refused), refused


def test_control_without_the_policy_the_same_markup_runs(stack: StackDriver, browser: Browser) -> None:
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(PAGE_URL)
        inject_handler(page)
        page.wait_for_function("window.__xss === 1", timeout=POLL_TIMEOUT_MS)
    finally:
        context.close()
