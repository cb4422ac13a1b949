"""Hostile data and hostile clients against the running stack:
stored markup, overload, slow clients, forged Host headers, odd paths."""

import asyncio
import gzip
import json
import re
import subprocess
import time
import unicodedata
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import Settings
from bench.driver import API_URL, PAGE_URL, StackDriver
from bench.load import Answer, burst, hold_slow_connections, run_apart
from tests.conftest import REPO_ROOT
from tests.e2e.dashboard import OPERATIONAL, POLL_TIMEOUT_MS, open_dashboard
from tests.e2e.test_edge import fetch, raw_exchange, status_of

PAGE = Path(__file__).parents[2] / "frontend" / "index.html"

# What an attacker with write access to the table would store. The check
# constraint refuses it; a volume written before that check may still hold it.
REDIRECT = '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">'
FAKE_LINK = '<a id="fake" href="http://127.0.0.1:9/">ici</a>'  # promo: 50 characters at most
ORDINARY = ("Zoé O'Brien-Çelik", "M2 R&D")
NO_MARKUP_CHECK = (
    "ALTER TABLE students ADD CONSTRAINT students_no_markup CHECK (nom !~ '[<>]' AND promo !~ '[<>]');"
)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def insert_students(stack: StackDriver, rows: list[tuple[str, str]]) -> None:
    values = ", ".join(f"({sql_literal(nom)}, {sql_literal(promo)})" for nom, promo in rows)
    stack.psql(f"INSERT INTO students (nom, promo) VALUES {values};")  # noqa: S608 (test data, quoted)


def navigations_of(page: Page) -> list[str]:
    """Every URL the page's main frame goes to, from now on."""
    urls: list[str] = []
    page.on("framenavigated", lambda frame: urls.append(frame.url))
    return urls


def request_line(method: str, path: str, host: str = "x") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def test_markup_cannot_be_stored(stack: StackDriver) -> None:
    with pytest.raises(AssertionError, match="students_no_markup"):
        insert_students(stack, [(REDIRECT, "M2")])


BLANK_LOOKING = {
    "zero-width space": "\u200b\u200b",
    "no-break space": "\u00a0",
    "tab": "\t",
    "word joiner": "\u2060",
    "ideographic space": "\u3000",
}


@pytest.mark.parametrize("kind", list(BLANK_LOOKING))
def test_a_name_with_nothing_visible_cannot_be_stored(stack: StackDriver, kind: str) -> None:
    with pytest.raises(AssertionError, match="students_"):
        insert_students(stack, [(BLANK_LOOKING[kind], "M2 Informatique")])


# Seeded as ("Camille Martin", "M2 Informatique") and ("Léa Dubois", ...).
LOOK_ALIKES = {
    "zero-width space inside": ("Camille\u200b Martin", "M2 Informatique"),
    "trailing space": ("Camille Martin ", "M2 Informatique"),
    "double space": ("Camille  Martin", "M2 Informatique"),
    "decomposed é (NFD)": (unicodedata.normalize("NFD", "Léa Dubois"), "M2 Informatique"),
    "Cyrillic a (U+0430)": ("Camille M\u0430rtin", "M2 Informatique"),
    "look-alike promo": ("Camille Martin", "M2 Informatique\u200d"),
}


@pytest.mark.parametrize("kind", list(LOOK_ALIKES))
def test_a_look_alike_of_a_stored_student_cannot_be_stored(stack: StackDriver, kind: str) -> None:
    with pytest.raises(AssertionError, match="students_"):
        insert_students(stack, [LOOK_ALIKES[kind]])


def test_names_are_stored_as_they_look(stack: StackDriver) -> None:
    """NFC, the invisible characters gone, one space between words, trimmed;
    a name mixing scripts across its words is a name like any other."""
    stored = unicodedata.normalize("NFD", "  Zoé\u200b  Çelik\u00a0") + " Петрова"
    insert_students(stack, [(stored, "M2\u3000Data")])
    try:
        rows = stack.psql("SELECT nom || '|' || promo FROM students WHERE promo LIKE 'M2%Data';")
        assert "Zoé Çelik Петрова|M2 Data" in rows, rows
    finally:
        stack.psql("DELETE FROM students WHERE promo = 'M2 Data';")


def test_markup_stored_before_the_check_shows_as_text(stack: StackDriver, browser: Browser) -> None:
    """A volume written before the check: the API encodes for innerHTML, so
    the page neither follows the refresh nor grows a link, CSP or not."""
    stored = len(json.loads(fetch(API_URL)[2]))
    stack.psql("ALTER TABLE students DROP CONSTRAINT students_no_markup;")
    insert_students(stack, [(REDIRECT, "M2 Hack"), ("Mallory", FAKE_LINK), ORDINARY])
    try:
        for bypass_csp in (False, True):
            context = browser.new_context(bypass_csp=bypass_csp)
            page = context.new_page()
            navigations = navigations_of(page)
            open_dashboard(page)
            expect(page.locator(".card")).to_have_count(stored + 3, timeout=POLL_TIMEOUT_MS)
            page.wait_for_timeout(2500)  # a 0 s refresh would have fired by now; one more poll
            assert navigations == [PAGE_URL], navigations
            assert page.locator("#fake, .card a, meta[http-equiv]").count() == 0
            names = page.locator(".card h3").all_inner_texts()
            promos = page.locator(".card p:not(:has(small))").all_inner_texts()
            assert REDIRECT in names and ORDINARY[0] in names
            assert f"Promo: {FAKE_LINK}" in promos and f"Promo: {ORDINARY[1]}" in promos
            expect(page.locator("#status")).to_have_text(OPERATIONAL)
            context.close()
    finally:
        stack.psql("DELETE FROM students WHERE id > 10;")
        stack.psql(NO_MARKUP_CHECK)


def test_no_location_is_built_from_the_host_header(stack: StackDriver) -> None:
    for path in ("/healthz/", "/readyz/", "//", "/docs/"):
        answer = raw_exchange(8000, request_line("GET", path, host="evil.example"), wait_s=5)
        assert b"\r\nlocation:" not in answer.lower(), answer[:300]
        assert b"evil.example" not in answer


ODD_PATHS = ["/docs", "/redoc", "/docs/oauth2-redirect", "/healthz%0a", "/healthz%0d", "/%00"]


@pytest.mark.parametrize("path", ODD_PATHS)
def test_only_what_works_is_served(stack: StackDriver, path: str) -> None:
    status, headers, body = fetch(API_URL.rstrip("/") + path)
    assert status in (400, 404), (path, status)
    assert headers["Content-Type"].startswith("application/json")
    json.loads(body)


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "FOO", "TRACE", "PROPFIND"])
def test_the_edge_refuses_unknown_methods_before_the_api(stack: StackDriver, method: str) -> None:
    # uvicorn logs a warning for each request it cannot parse (an unknown
    # method): a lever to flood the API's log, unless the edge refuses first.
    warnings_before = stack.logs().count(b"Invalid HTTP request")
    for _ in range(5):
        answer = raw_exchange(8000, request_line(method, "/"), wait_s=5)
        assert status_of(answer) in (400, 405), answer[:200]
        assert b"application/json" in answer.split(b"\r\n\r\n")[0]
    time.sleep(0.3)
    assert stack.logs().count(b"Invalid HTTP request") == warnings_before


def test_ranges_do_not_multiply_the_page(stack: StackDriver) -> None:
    ranges = ",".join(f"{i}-{i}" for i in range(200))
    request = urllib.request.Request(PAGE_URL, headers={"Range": f"bytes={ranges}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read()
    assert response.status == 200 and body == PAGE.read_bytes()


def test_the_student_list_is_compressed(stack: StackDriver) -> None:
    insert_students(stack, [(f"Étudiant {i}", "M2 Compression") for i in range(200)])
    try:
        request = urllib.request.Request(API_URL, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            assert response.headers["Content-Encoding"] == "gzip"
        plain = gzip.decompress(raw)
        assert len(json.loads(plain)) == PAGE_SIZE and len(raw) * 4 < len(plain)
    finally:
        stack.psql("DELETE FROM students WHERE promo = 'M2 Compression';")


PAGE_SIZE = Settings.model_fields["students_page_size"].default
LARGE_TABLE = 10_000


def next_page(headers: dict[str, str]) -> str | None:
    """The next page's URL from a Link header (RFC 8288), if any."""
    link = {name.lower(): value for name, value in headers.items()}.get("link")
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found is not None, link
    return urljoin(API_URL, found.group(1))


def test_a_large_table_is_served_in_bounded_pages_and_the_page_shows_the_first(
    stack: StackDriver, page: Page
) -> None:
    """Every answer is one bounded page in id order; a Link header leads to
    the next, and following them yields every student once. The immutable
    page, which reads no header, shows the first page."""
    rows = f"generate_series(1, {LARGE_TABLE})"
    stack.psql(f"INSERT INTO students (nom, promo) SELECT 'Étudiant ' || n, 'M2 Volume' FROM {rows} AS n;")  # noqa: S608
    try:
        ids: list[int] = []
        url: str | None = API_URL
        while url is not None:
            status, headers, body = fetch(url)
            rows = json.loads(body)
            assert status == 200 and 0 < len(rows) <= PAGE_SIZE, (url, status)
            ids += [row["id"] for row in rows]
            url = next_page(headers)
        assert len(ids) == len(set(ids)) == LARGE_TABLE + 10 and ids == sorted(ids)
        open_dashboard(page)
        expect(page.locator(".card")).to_have_count(PAGE_SIZE, timeout=POLL_TIMEOUT_MS)
    finally:
        stack.psql("DELETE FROM students WHERE promo = 'M2 Volume';")


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=100000", "limit=x", "after=x", "after=1e3", "after=99999999999"]
)
def test_a_page_asked_wrongly_is_a_json_422(stack: StackDriver, query: str) -> None:
    status, headers, body = fetch(f"{API_URL}?{query}")
    assert status == 422 and headers["Content-Type"] == "application/json", (query, status)
    assert json.loads(body)["detail"]


def test_overload_degrades_to_fast_503s_never_a_500(stack: StackDriver) -> None:
    answers = run_apart(burst(API_URL, connections=1000, seconds=6.0, events=[]))
    failures = [answer for answer in answers if isinstance(answer, str)]
    statuses = Counter(answer.status for answer in answers if isinstance(answer, Answer))
    assert failures == [], failures[:5]
    # If a 500 slips through, say where it came from (the API's bug log, the edge's access log).
    markers = (b"unexpected error", b"Exception in ASGI application", b'" 500 ')
    unexpected = [line for line in stack.logs().splitlines() if any(m in line for m in markers)]
    assert set(statuses) <= {200, 503}, (statuses, unexpected[:5])
    assert statuses[200] > 0
    assert all(a.headers.get("retry-after") for a in answers if isinstance(a, Answer) and a.status == 503)
    assert fetch(API_URL)[0] == 200  # healthy right after


def test_slow_clients_do_not_starve_the_others(stack: StackDriver) -> None:
    """2,000 slow connections on 8000; normal clients on both ports are
    still served at once."""
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(asyncio.run, hold_slow_connections("127.0.0.1", 8000, 2000, 4.0))
        time.sleep(2.0)
        latencies = []
        for url in (PAGE_URL, API_URL) * 10:
            started = time.monotonic()
            assert fetch(url)[0] == 200, url
            latencies.append(time.monotonic() - started)
        assert holding.result() >= 2000
    assert max(latencies) < 1.0, latencies


def test_the_api_reads_the_database_as_its_own_unprivileged_role(stack: StackDriver) -> None:
    """Seen from the database of the running stack:
    every connection but this psql session is the API's role, no superuser."""
    assert fetch(API_URL)[0] == 200  # the API's pool holds connections
    answer = stack.psql(
        "SELECT 'roles=' || string_agg(DISTINCT a.usename || ':' || r.rolsuper, ',')"
        " FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename"
        " WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid();"
    )
    api_role = Settings.model_fields["postgres_api_user"].default
    assert re.search(r"roles=(\S+)", answer).group(1) == f"{api_role}:false"  # type: ignore[union-attr]


def test_redis_answers_no_one_without_a_user(stack: StackDriver) -> None:
    """The default user is off: an unauthenticated client gets nothing."""
    ping = ["docker", "compose", "exec", "-T", "redis", "redis-cli", "ping"]
    answer = subprocess.run(ping, cwd=REPO_ROOT, env=stack.env, capture_output=True, text=True, timeout=10)
    assert "NOAUTH" in answer.stdout + answer.stderr and "PONG" not in answer.stdout
