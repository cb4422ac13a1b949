"""A POC volume (v001 only, rows in utilisateur), and one of an older version
of this project, brought up to date by `make up`."""

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page

from bench.driver import StackDriver
from tests.conftest import REPO_ROOT, init_scripts_override
from tests.e2e.dashboard import numeric_views, open_dashboard

INSERT_POC_USERS = (
    "INSERT INTO utilisateur (nom, prenom, email) VALUES"
    " ('Durand', 'Alice', 'alice@example.fr'), ('Martin', 'Paul', 'paul@example.fr');"
)


def make_poc_database(driver: StackDriver, tmp_path: Path) -> None:
    """The POC's state: its only script played at first start, then real rows."""
    poc_scripts = tmp_path / "poc-sqlfiles"
    poc_scripts.mkdir()
    shutil.copy(REPO_ROOT / "sqlfiles" / "migration-v001.sql", poc_scripts)
    with poc_database_running(driver, poc_scripts):
        driver.psql(INSERT_POC_USERS)
        assert "students" not in driver.psql(r"\dt")


@contextmanager
def poc_database_running(driver: StackDriver, poc_scripts: Path) -> Iterator[None]:
    """The database alone, on new volumes (whatever stack the suite had is
    removed: the next module's brings it back), first started with the POC's
    scripts only."""
    driver.clean()
    StackDriver(init_scripts_override(poc_scripts)).up("db")
    try:
        yield
    finally:
        driver.down()


def test_poc_volume_is_upgraded_by_make_up(tmp_path: Path, page: Page) -> None:
    driver = StackDriver()
    make_poc_database(driver, tmp_path)
    try:
        driver.up()
        open_dashboard(page)
        assert len(page.locator(".card h3").all_inner_texts()) == 10
        assert numeric_views(page) >= 1
        users = driver.psql("SELECT nom, prenom, email FROM utilisateur ORDER BY id;")
        assert "Alice" in users and "paul@example.fr" in users
        assert "(2 rows)" in users
    finally:
        driver.clean()


# Rows a volume of v003 could hold, which v004 no longer lets in.
BEFORE_V004 = [
    ("\u200b", "M2 Informatique"),  # nothing visible
    ("Camille Martin ", "M2 Informatique"),  # looks like the seeded Camille Martin
    ("Hugo Thom\u0430s", "M2 Cybersécurité"),  # a Cyrillic a (U+0430) among Latin letters
]


def test_a_volume_holding_rows_v004_refuses_is_upgraded_and_they_are_reported(
    tmp_path: Path, page: Page
) -> None:
    """Rows that break the new rules are kept (never changed nor deleted)
    and named in the migrate step's log; once the operator has removed them,
    the next `make up` applies the rules to every row."""
    driver = StackDriver()
    scripts = tmp_path / "v003-sqlfiles"
    scripts.mkdir()
    for path in sorted((REPO_ROOT / "sqlfiles").glob("*.sql"))[:3]:
        shutil.copy(path, scripts)
    values = ", ".join(f"('{nom}', '{promo}')" for nom, promo in BEFORE_V004)
    with poc_database_running(driver, scripts):
        driver.psql(f"INSERT INTO students (nom, promo) VALUES {values};")  # noqa: S608 (constants)
    try:
        driver.up()
        log = driver.logs().decode(errors="replace")
        assert "students 11 have a nom or promo with nothing visible" in log, log[-3000:]
        assert "students 13 have a word mixing Latin, Cyrillic or Greek letters" in log
        assert "students that look the same (1, 12)" in log
        assert "(13 rows)" in driver.psql("SELECT id FROM students;")
        open_dashboard(page)
        assert numeric_views(page) >= 1

        driver.psql("DELETE FROM students WHERE id > 10;")
        driver.up()
        rules = driver.psql(
            "SELECT string_agg(conname || '=' || convalidated, ' ' ORDER BY conname) FROM pg_constraint"
            " WHERE conname IN ('students_visible', 'students_one_script_per_word');"
            " SELECT to_regclass('students_visible_nom_promo_key') IS NOT NULL AS unique_look;"
        )
        assert "students_one_script_per_word=true students_visible=true" in rules, rules
        assert re.search(r"unique_look\s*-+\s*t\b", rules), rules
    finally:
        driver.clean()
