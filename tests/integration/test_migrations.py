"""First-start init and the migration step, on real PostgreSQL servers."""

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.migrate import migrate, migration_files
from tests.conftest import REPO_ROOT
from tests.integration.backing import Backing
from tests.integration.conftest import backing, database_first_started_with, sql

POC_ROWS = [
    ("Durand", "Alice", "alice@example.fr", "1990-04-02", "France", "Lyon", "69001"),
    ("Martin", "Paul", "paul@example.fr", "1985-11-23", "France", "Nantes", "44000"),
]


@pytest.fixture
def fresh_stack() -> Iterator[Backing]:
    """A stack of its own whose database has just had its first start (no migrate step)."""
    with backing(services=("db",)) as fresh:
        yield fresh


def test_first_start_plays_every_script_before_any_migrate(fresh_stack: Backing) -> None:
    settings = fresh_stack.settings()
    tables = sql(settings, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables == [("students",), ("utilisateur",)]
    assert sql(settings, "SELECT count(*) FROM students") == [(10,)]


def test_init_runs_only_on_an_empty_data_directory(fresh_stack: Backing) -> None:
    settings = fresh_stack.settings()
    sql(settings, "DELETE FROM students WHERE nom = 'Camille Martin'")
    fresh_stack.stop("db")
    fresh_stack.start("db")
    migrate(settings)  # what every `up` does
    # Neither init nor migrate seeded again: the deletion holds.
    assert sql(settings, "SELECT count(*) FROM students") == [(9,)]


def test_poc_volume_is_upgraded_without_loss(tmp_path: Path) -> None:
    with database_first_started_with(tmp_path, "migration-v001.sql") as poc:
        settings = poc.settings()
        for row in POC_ROWS:
            sql(
                settings,
                "INSERT INTO utilisateur (nom, prenom, email, date_naissance, pays, ville, code_postal)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                row,
            )
        with pytest.raises(psycopg.errors.UndefinedTable):
            sql(settings, "SELECT 1 FROM students")

        current = poc.settings(sql_dir=REPO_ROOT / "sqlfiles")
        every_script = [path.name for path in migration_files(REPO_ROOT / "sqlfiles")]
        assert migrate(current) == every_script
        assert migrate(current) == every_script  # idempotent

        kept = sql(
            settings,
            "SELECT nom, prenom, email, date_naissance::text, pays, ville, code_postal"
            " FROM utilisateur ORDER BY id",
        )
        assert kept == POC_ROWS
        assert sql(settings, "SELECT count(*) FROM students") == [(10,)]


def test_a_failing_script_stops_the_migration_with_a_clear_error(tmp_path: Path, stack: Backing) -> None:
    broken = tmp_path / "sqlfiles"
    broken.mkdir()
    (broken / "migration-v001.sql").write_text("CREATE TABLE IF NOT EXISTS ok_table (id int);")
    (broken / "migration-v002.sql").write_text("BEGIN; CREATE TABLE half_done (id int); SELECT nope; COMMIT;")
    settings = stack.settings(sql_dir=broken)
    with pytest.raises(psycopg.errors.UndefinedColumn):
        migrate(settings)
    # The failing script left nothing half-created.
    assert sql(settings, "SELECT to_regclass('half_done') IS NULL") == [(True,)]
    sql(settings, "DROP TABLE ok_table")


def test_an_emptied_table_is_never_seeded_again(fresh_stack: Backing) -> None:
    settings = fresh_stack.settings()
    sql(settings, "DELETE FROM students")
    migrate(settings)  # what every `up` does
    assert sql(settings, "SELECT count(*) FROM students") == [(0,)]


def test_students_constraints_reject_bad_rows(stack: Backing) -> None:
    settings = stack.settings()
    for nom, promo in [("", "M2"), ("   ", "M2"), ("Ana", ""), ("x" * 101, "M2")]:
        with pytest.raises(psycopg.errors.IntegrityError if len(nom) <= 100 else psycopg.errors.DataError):
            sql(settings, "INSERT INTO students (nom, promo) VALUES (%s, %s)", (nom, promo))
    with pytest.raises(psycopg.errors.UniqueViolation):
        sql(settings, "INSERT INTO students (nom, promo) VALUES ('Lucas Bernard', 'M2 Informatique')")


MARKUP = [
    ('<meta http-equiv=refresh content="0;url=http://127.0.0.1:9/">', "M2"),
    ("Ana", '<a href="http://127.0.0.1:9/">M2</a>'),
    ("x>y", "M2"),
]


def test_markup_can_never_enter_students(stack: Backing) -> None:
    settings = stack.settings()
    for nom, promo in MARKUP:
        with pytest.raises(psycopg.errors.CheckViolation):
            sql(settings, "INSERT INTO students (nom, promo) VALUES (%s, %s)", (nom, promo))
    with pytest.raises(psycopg.errors.CheckViolation):
        sql(settings, "UPDATE students SET nom = '<b>x</b>' WHERE nom = 'Camille Martin'")
    # Ordinary names stay possible: apostrophes, accents, ampersands.
    sql(settings, "INSERT INTO students (nom, promo) VALUES (%s, %s)", ("Zoé O'Brien", "M2 R&D"))
    sql(settings, "DELETE FROM students WHERE nom = %s", ("Zoé O'Brien",))
    assert sql(settings, "SELECT convalidated FROM pg_constraint WHERE conname = 'students_no_markup'") == [
        (True,)
    ]


def test_a_volume_already_holding_markup_still_upgrades(tmp_path: Path) -> None:
    """A row written before the check stays (the API shows it as text), and
    the check still guards every new row."""
    with database_first_started_with(tmp_path, "migration-v001.sql", "migration-v002-students.sql") as older:
        settings = older.settings()
        sql(settings, "INSERT INTO students (nom, promo) VALUES ('<i>old</i>', 'M2')")
        migrate(older.settings(sql_dir=REPO_ROOT / "sqlfiles"))
        assert sql(settings, "SELECT count(*) FROM students WHERE nom = '<i>old</i>'") == [(1,)]
        with pytest.raises(psycopg.errors.CheckViolation):
            sql(settings, "INSERT INTO students (nom, promo) VALUES ('<i>new</i>', 'M2')")


def test_migrate_never_runs_while_the_init_scripts_play(tmp_path: Path) -> None:
    """A slow init script: db's healthcheck (over TCP) stays red until init
    is over, so migrate, which compose starts once db is healthy, only ever
    runs after the last script."""
    scripts = tmp_path / "sqlfiles"
    scripts.mkdir()
    for script in (REPO_ROOT / "sqlfiles").glob("*.sql"):
        shutil.copy(script, scripts)
    (scripts / "migration-v009-slow.sql").write_text(
        "CREATE TABLE IF NOT EXISTS play_log (played_at timestamptz NOT NULL);\n"
        "SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM play_log) THEN 0 ELSE 3 END);\n"
        "INSERT INTO play_log VALUES (clock_timestamp());\n"
    )
    # The same scripts for both: db's first start, and migrate's.
    both = tmp_path / "slow-scripts.yml"
    both.write_text(
        f"services:\n  db:\n    volumes: ['{scripts}:/docker-entrypoint-initdb.d:ro']\n"
        f"  migrate:\n    volumes: ['{scripts}:/srv/sqlfiles:ro']\n"
    )
    own = Backing(extra_files=(both,))
    samples: list[tuple[float, str]] = []  # (wall clock, db's state)

    def watch() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and "running/healthy" not in (state for _, state in samples):
            try:
                samples.append((time.time(), own.state("db")))
            except subprocess.CalledProcessError:
                samples.append((time.time(), "not created yet"))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        own.migrate(after_its_dependencies=True)
        watcher.join(timeout=60)
        settings = own.settings()
        plays = [row[0] for row in sql(settings, "SELECT played_at FROM play_log ORDER BY played_at")]
    finally:
        own.down()
    # Once by init (after its 3 s sleep), once by migrate, strictly later.
    assert len(plays) == 2 and plays[1] > plays[0]  # type: ignore[operator]
    init_done = plays[0].timestamp()  # type: ignore[attr-defined]
    during_init = [state for at, state in samples if at < init_done]
    assert len(during_init) > 10  # watched for most of the 3 s
    assert "running/healthy" not in during_init, "the database looked ready while init scripts ran"
