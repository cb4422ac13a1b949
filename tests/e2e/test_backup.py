"""make backup and make restore, as an operator runs them: the database, the
view counter and the secrets come back whole, and a restore refuses what
would lose data."""

import json
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.driver import API_URL, REPO_ROOT, StackDriver
from tests.e2e.test_edge import fetch

ADDED = [("Ada Lovelace", "M2 Informatique"), ("Alan Turing", "M2 Data Science")]
STUDENTS = "SELECT string_agg(id || ':' || nom || ':' || promo, ',' ORDER BY id) FROM students;"


def views_of_next_answer() -> int:
    status, _, body = fetch(API_URL)
    assert status == 200, body
    return int(json.loads(body)[0]["views"])


def restore(stack: StackDriver, archive: Path) -> subprocess.CompletedProcess[str]:
    """make restore FILE=…; the result, whatever it is."""
    return subprocess.run(
        ["make", "--no-print-directory", "restore", f"FILE={archive}"],
        cwd=REPO_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )


@dataclass(frozen=True)
class Backup:
    archive: Path
    views: int  # the counter when the backup ran


@pytest.fixture(scope="module")
def backup(stack: StackDriver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backup]:
    """A backup of a stack holding two more students and some views (removed
    afterwards: the suite's other modules share the stack)."""
    values = ", ".join(f"('{nom}', '{promo}')" for nom, promo in ADDED)
    stack.psql(f"INSERT INTO students (nom, promo) VALUES {values};")  # noqa: S608 (constants)
    for _ in range(3):
        views = views_of_next_answer()
    backups = tmp_path_factory.mktemp("backups")
    written = Path(stack.make("backup", settings={"BACKUP_DIR": str(backups)}).strip().splitlines()[-1])
    assert written.parent == backups
    yield Backup(written, views)
    names = ", ".join(f"'{nom}'" for nom, _ in ADDED)
    stack.psql(f"DELETE FROM students WHERE nom IN ({names});")  # noqa: S608 (constants)


@pytest.fixture
def archive(backup: Backup) -> Path:
    return backup.archive


def test_the_archive_holds_the_secrets_and_only_its_owner_reads_it(archive: Path) -> None:
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    members = subprocess.run(
        ["tar", "-tf", archive], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"SHA256SUMS", "db.dump", "redis.rdb", "secrets/db_password", "secrets/redis-users.acl"} <= set(
        members
    )


def test_a_restore_into_a_running_stack_changes_nothing(stack: StackDriver, archive: Path) -> None:
    before = stack.psql(STUDENTS)
    result = restore(stack, archive)
    assert result.returncode != 0 and "make down first" in result.stderr, result.stderr
    assert stack.psql(STUDENTS) == before and fetch(API_URL)[0] == 200


@pytest.mark.parametrize("damage", ["truncated", "a byte changed"])
def test_a_damaged_archive_is_refused_and_changes_nothing(
    stack: StackDriver, archive: Path, tmp_path: Path, damage: str
) -> None:
    damaged = tmp_path / "damaged.tar"
    content = bytearray(archive.read_bytes())
    if damage == "truncated":
        content = content[: len(content) // 3]
    else:
        content[len(content) // 4] ^= 0xFF  # inside the database's dump
    damaged.write_bytes(bytes(content))
    stack.make("down")  # the stack stopped, its data kept
    try:
        result = restore(stack, damaged)
        assert result.returncode != 0 and "not a usable backup" in result.stderr, result.stderr
    finally:
        stack.up()
    assert all(nom in stack.psql(STUDENTS) for nom, _ in ADDED)


def test_backup_then_clean_then_restore_gives_back_everything(stack: StackDriver, backup: Backup) -> None:
    students = stack.psql(STUDENTS)
    for _ in range(5):  # views served after the backup: a restore loses them
        views_of_next_answer()
    secrets = stack.secrets()
    stack.clean()

    result = restore(stack, backup.archive)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    assert stack.psql(STUDENTS) == students
    # The API logs in with the restored credentials, and the counter goes on
    # from its value at the backup.
    assert views_of_next_answer() == backup.views + 1
    assert stack.secrets() == secrets
