import hashlib
import stat
from pathlib import Path

import pytest

from app.init_secrets import (
    DB_API_SECRET,
    DB_SECRET,
    PASSWORD_FILES,
    REDIS_ACL,
    REDIS_ADMIN_SECRET,
    REDIS_HEALTHCHECK_SECRET,
    REDIS_SECRET,
    OwnerPasswordLost,
    ensure_secrets,
    redis_acl,
)
from app.settings import REDIS_ADMIN_USER, REDIS_HEALTHCHECK_USER, Settings

DEFAULT_USER = Settings.model_fields["redis_user"].default
DEFAULT_KEY = Settings.model_fields["counter_key"].default


def read(directory: Path, name: str) -> str:
    return (directory / name).read_text()


def acl_users(acl: str) -> dict[str, list[str]]:
    """user name -> its rules, from an ACL file."""
    users = {}
    for line in acl.splitlines():
        keyword, name, *rules = line.split()
        assert keyword == "user"
        users[name] = rules
    return users


def test_first_run_creates_every_secret(tmp_path: Path) -> None:
    created = ensure_secrets(tmp_path)
    assert sorted(created) == sorted([*PASSWORD_FILES, REDIS_ACL])
    for name in created:
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o444
    for name in PASSWORD_FILES:
        assert len(read(tmp_path, name)) >= 40  # 32 random bytes, URL-safe base64
    assert len({read(tmp_path, name) for name in PASSWORD_FILES}) == len(PASSWORD_FILES)


def test_existing_secrets_are_never_replaced(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert ensure_secrets(tmp_path) == []
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_two_stacks_get_different_passwords(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        ensure_secrets(tmp_path / name)
    for name in PASSWORD_FILES:
        assert read(tmp_path / "a", name) != read(tmp_path / "b", name)


def test_acl_holds_the_hashes_not_the_passwords(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    acl = read(tmp_path, REDIS_ACL)
    for name in (REDIS_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET):
        password = read(tmp_path, name)
        assert password not in acl
        assert f"#{hashlib.sha256(password.encode()).hexdigest()}" in acl


def test_acl_users_have_only_what_they_use(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    users = acl_users(read(tmp_path, REDIS_ACL))
    assert set(users) == {"default", DEFAULT_USER, REDIS_HEALTHCHECK_USER, REDIS_ADMIN_USER}
    assert users["default"] == ["off", "resetpass", "resetkeys", "resetchannels", "-@all"]
    api_hash = hashlib.sha256(read(tmp_path, REDIS_SECRET).encode()).hexdigest()
    assert users[DEFAULT_USER] == [
        "on",
        f"#{api_hash}",
        "resetkeys",
        f"~{DEFAULT_KEY}",
        "resetchannels",
        "-@all",
        "+incrby",
        "+ping",
    ]
    health = users[REDIS_HEALTHCHECK_USER]
    assert health[0] == "on" and health[1].startswith("#")
    assert health[2:] == ["resetkeys", "resetchannels", "-@all", "+ping"]
    admin = users[REDIS_ADMIN_USER]
    assert admin[0] == "on" and admin[1].startswith("#") and admin[2:] == ["~*", "&*", "+@all"]


def test_the_counter_key_is_matched_literally() -> None:
    acl = redis_acl("api", "health", "admin", api_user="api-user", counter_key="views:*[a]?\\")
    assert "~views:\\*\\[a\\]\\?\\\\ " in acl


def test_acl_follows_a_password_brought_by_the_user(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    (tmp_path / REDIS_SECRET).chmod(0o644)
    (tmp_path / REDIS_SECRET).write_text("my-own-password")
    ensure_secrets(tmp_path)
    health, admin = read(tmp_path, REDIS_HEALTHCHECK_SECRET), read(tmp_path, REDIS_ADMIN_SECRET)
    assert read(tmp_path, REDIS_ACL) == redis_acl("my-own-password", health, admin)


def test_acl_follows_the_user_name_and_counter_key(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    assert ensure_secrets(tmp_path, redis_user="views-api", counter_key="other:views") == [REDIS_ACL]
    users = acl_users(read(tmp_path, REDIS_ACL))
    assert "~other:views" in users["views-api"] and DEFAULT_USER not in users


def test_a_secrets_directory_of_the_previous_version_is_completed(tmp_path: Path) -> None:
    """db_password, redis_password and an ACL with `default` for everything:
    the passwords stay (the database and the AOF were made with them), the new
    ones are added, the ACL is rewritten."""
    old = {DB_SECRET: "old-db-password", REDIS_SECRET: "old-redis-password"}
    for name, value in old.items():
        (tmp_path / name).write_text(value)
    digest = hashlib.sha256(b"old-redis-password").hexdigest()
    (tmp_path / REDIS_ACL).write_text(f"user default on #{digest} ~* &* +@all\n")
    for path in tmp_path.iterdir():
        path.chmod(0o444)

    created = ensure_secrets(tmp_path)

    assert sorted(created) == sorted([DB_API_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET, REDIS_ACL])
    assert {name: read(tmp_path, name) for name in old} == old
    users = acl_users(read(tmp_path, REDIS_ACL))
    assert users["default"][0] == "off"
    assert f"#{digest}" in users[DEFAULT_USER]


@pytest.mark.parametrize("name", PASSWORD_FILES)
def test_every_password_file_is_generated(tmp_path: Path, name: str) -> None:
    assert name in ensure_secrets(tmp_path)


def test_no_owner_password_is_made_for_a_database_already_initialised(tmp_path: Path) -> None:
    """The database keeps the password it was initialised with: a new one
    would lock the migrate step out."""
    secrets, database = tmp_path / "secrets", tmp_path / "database"
    secrets.mkdir()
    database.mkdir()
    assert DB_SECRET in ensure_secrets(secrets, database=database)  # empty: the first start
    (database / "18").mkdir()  # initdb ran
    (secrets / DB_SECRET).chmod(0o644)
    (secrets / DB_SECRET).unlink()
    with pytest.raises(OwnerPasswordLost, match="Put the file back from a backup"):
        ensure_secrets(secrets, database=database)
    assert not (secrets / DB_SECRET).exists()
