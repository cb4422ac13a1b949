"""The dashboard in headless Chromium while services go down and come back.

The stack runs on 8080/8000 (make up).
"""

import json
import re
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from bench.driver import API_URL, PAGE_URL, StackDriver
from tests.e2e.dashboard import (
    API_ERROR,
    CACHE_DOWN,
    OPERATIONAL,
    POLL_TIMEOUT_MS,
    card_views,
    numeric_views,
    open_dashboard,
    wait_for_views,
)


def api_students() -> list[dict[str, object]]:
    with urllib.request.urlopen(API_URL, timeout=5) as response:
        body: list[dict[str, object]] = json.load(response)
        return body


def test_dashboard_is_operational(stack: StackDriver, page: Page, artifacts_dir: Path) -> None:
    open_dashboard(page)
    views = numeric_views(page)
    names = page.locator(".card h3").all_inner_texts()
    assert names == [student["nom"] for student in api_students()]
    assert len(names) == 10 and "Camille Martin" in names
    assert all(
        promo.startswith("Promo: M2") for promo in page.locator(".card p:not(:has(small))").all_inner_texts()
    )
    assert views >= 1
    page.screenshot(path=artifacts_dir / "dashboard.png", full_page=True)


def test_views_keep_rising_while_the_page_polls(stack: StackDriver, page: Page) -> None:
    open_dashboard(page)
    first = numeric_views(page)
    page.wait_for_timeout(2500)  # at least one more poll
    assert numeric_views(page) > first


def test_redis_down_keeps_the_students_with_cache_hs(
    stack: StackDriver, page: Page, artifacts_dir: Path
) -> None:
    open_dashboard(page)
    last = numeric_views(page)
    stack.stop("redis")
    try:
        assert wait_for_views(page, re.escape(CACHE_DOWN))
        expect(page.locator("#status")).to_have_text(OPERATIONAL)
        assert len(page.locator(".card h3").all_inner_texts()) == 10
        page.screenshot(path=artifacts_dir / "dashboard-redis-down.png", full_page=True)
    finally:
        stack.start("redis")
    # Numbers come back and go on from where they were (AOF), never reset.
    assert numeric_views(page) > last


def test_database_down_shows_the_error_then_recovers(
    stack: StackDriver, page: Page, artifacts_dir: Path
) -> None:
    open_dashboard(page)
    stack.stop("db")
    try:
        expect(page.locator("#status")).to_have_text(API_ERROR, timeout=POLL_TIMEOUT_MS)
        page.screenshot(path=artifacts_dir / "dashboard-db-down.png", full_page=True)
    finally:
        stack.start("db")
    expect(page.locator("#status")).to_have_text(OPERATIONAL, timeout=POLL_TIMEOUT_MS)
    numeric_views(page)


def test_api_down_the_edge_still_serves_the_page(stack: StackDriver, page: Page) -> None:
    stack.stop("api")
    try:
        with urllib.request.urlopen(PAGE_URL, timeout=5) as response:
            assert response.status == 200
        page.goto(PAGE_URL)
        expect(page.locator("#status")).to_have_text(API_ERROR, timeout=POLL_TIMEOUT_MS)
    finally:
        stack.start("api")
    expect(page.locator("#status")).to_have_text(OPERATIONAL, timeout=POLL_TIMEOUT_MS)


def test_data_and_counter_survive_down_and_up(stack: StackDriver, page: Page) -> None:
    open_dashboard(page)
    before = numeric_views(page)
    cards = len(card_views(page))
    stack.psql("INSERT INTO students (nom, promo) VALUES ('Zoé Laurent', 'M2 Informatique');")
    try:
        stack.down()
        stack.up()
        page.reload()
        expect(page.locator("#status")).to_have_text(OPERATIONAL, timeout=POLL_TIMEOUT_MS)
        assert numeric_views(page) > before
        assert "Zoé Laurent" in page.locator(".card h3").all_inner_texts()
        assert len(card_views(page)) == cards + 1
    finally:
        stack.psql("DELETE FROM students WHERE nom = 'Zoé Laurent';")


def views_now(seconds: float = 10) -> int:
    """The views value of the next GET / served with views (each counts
    once; one served without, Redis not answering yet, counts none)."""
    deadline = time.monotonic() + seconds
    students = api_students()
    while not all("views" in student for student in students):
        assert time.monotonic() < deadline, "no views"
        time.sleep(0.2)
        students = api_students()
    (value,) = {student["views"] for student in students}
    assert isinstance(value, int)
    return value


def test_a_setting_from_the_shell_reaches_the_api_and_its_redis_user(stack: StackDriver) -> None:
    # COUNTER_KEY is read by the API (the key it counts on) and by the secret
    # generator (the only key the ACL lets the API's Redis user touch): both
    # must get it, and Redis must load the rewritten ACL.
    before = views_now()
    stack.up(COUNTER_KEY="e2e:another-counter")
    try:
        assert views_now() == 1  # a new key: counted from the start
        assert views_now() == 2
    finally:
        stack.up()  # unset again: the settings' default key, where the count was
    assert views_now() == before + 1
