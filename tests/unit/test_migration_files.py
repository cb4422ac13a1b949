from pathlib import Path

import pytest

from app.migrate import migration_files
from tests.conftest import REPO_ROOT

SQL_DIR = REPO_ROOT / "sqlfiles"

# The POC's script, exactly as described in the contract (NOTES.md): unchanged.
POC_V001 = (
    "CREATE TABLE IF NOT EXISTS utilisateur (id SERIAL PRIMARY KEY, nom VARCHAR(100), "
    "prenom VARCHAR(100), email VARCHAR(255), date_naissance DATE, pays VARCHAR(255), "
    "ville VARCHAR(255), code_postal VARCHAR(5));"
)


def test_scripts_play_in_name_order_with_the_existing_one_first() -> None:
    names = [path.name for path in migration_files(SQL_DIR)]
    assert names[:2] == ["migration-v001.sql", "migration-v002-students.sql"]
    assert names == sorted(names) and all(name.startswith("migration-v") for name in names)


def test_existing_script_is_unchanged() -> None:
    assert (SQL_DIR / "migration-v001.sql").read_text().strip() == POC_V001


def test_every_creation_is_idempotent() -> None:
    for path in migration_files(SQL_DIR):
        text = path.read_text().upper()
        assert text.count("CREATE TABLE") == text.count("CREATE TABLE IF NOT EXISTS"), path.name


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        migration_files(tmp_path)
