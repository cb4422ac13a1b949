"""A POC volume (v001 only, rows in utilisateur) brought up to date by `make up`."""

import dataclasses
import shutil
from pathlib import Path

from playwright.sync_api import Page

from native.stack import NativeStack
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import native_only
from tests.e2e.dashboard import numeric_views, open_dashboard
from tests.e2e.driver import StackDriver

INSERT_POC_USERS = (
    "INSERT INTO utilisateur (nom, prenom, email) VALUES"
    " ('Durand', 'Alice', 'alice@example.fr'), ('Martin', 'Paul', 'paul@example.fr');"
)


def make_poc_database(driver: StackDriver, tmp_path: Path) -> None:
    """The POC's state: its only script played at first start, then real rows."""
    poc_scripts = tmp_path / "poc-sqlfiles"
    poc_scripts.mkdir()
    shutil.copy(REPO_ROOT / "sqlfiles" / "migration-v001.sql", poc_scripts)
    poc = NativeStack(dataclasses.replace(driver.native_config, sql_dir=poc_scripts))
    poc.prepare()
    poc.start("db")
    try:
        driver.psql(INSERT_POC_USERS)
        assert "students" not in driver.psql(r"\dt")
    finally:
        poc.down()


@native_only  # builds the POC's data directory with the native runner
def test_poc_volume_is_upgraded_by_make_up(tmp_path: Path, page: Page) -> None:
    driver = StackDriver(tmp_path / "state")
    make_poc_database(driver, tmp_path)
    driver.up()
    try:
        open_dashboard(page)
        assert len(page.locator(".card h3").all_inner_texts()) == 10
        assert numeric_views(page) >= 1
        users = driver.psql("SELECT nom, prenom, email FROM utilisateur ORDER BY id;")
        assert "Alice" in users and "paul@example.fr" in users
        assert "(2 rows)" in users
    finally:
        driver.down()
