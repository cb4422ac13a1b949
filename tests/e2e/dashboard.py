"""What a person sees on the dashboard, read from the rendered page."""

from playwright.sync_api import Page, expect

from bench.driver import PAGE_URL

OPERATIONAL = "✅ Système Opérationnel"
API_ERROR = "❌ Erreur connexion API"
CACHE_DOWN = "N/A (Cache HS)"
# The page polls every 2 s; leave room for a few polls and a slow machine.
POLL_TIMEOUT_MS = 15_000


def open_dashboard(page: Page) -> None:
    page.goto(PAGE_URL)
    expect(page.locator("#status")).to_have_text(OPERATIONAL, timeout=POLL_TIMEOUT_MS)


def card_views(page: Page) -> list[str]:
    return [text.removeprefix("Vues: ") for text in page.locator(".card small").all_inner_texts()]


def wait_for_views(page: Page, pattern: str) -> list[str]:
    """Wait until there are cards and every card's views match pattern (a regex)."""
    page.wait_for_function(
        """pattern => {
            const views = [...document.querySelectorAll('.card small')];
            const matches = e => new RegExp('^Vues: ' + pattern + '$').test(e.innerText);
            return views.length > 0 && views.every(matches);
        }""",
        arg=pattern,
        timeout=POLL_TIMEOUT_MS,
    )
    return card_views(page)


def numeric_views(page: Page) -> int:
    values = {int(v) for v in wait_for_views(page, r"\d+")}
    assert len(values) == 1, f"one global counter expected, got {values}"
    return values.pop()
