import hashlib
import stat
from pathlib import Path

from app.init_secrets import ensure_secrets, redis_acl


def test_first_run_creates_every_secret(tmp_path: Path) -> None:
    created = ensure_secrets(tmp_path)
    assert sorted(created) == ["db_password", "redis-users.acl", "redis_password"]
    for name in created:
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o444
    password = (tmp_path / "db_password").read_text()
    assert len(password) >= 40  # 32 random bytes, URL-safe base64


def test_existing_secrets_are_never_replaced(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert ensure_secrets(tmp_path) == []
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_two_stacks_get_different_passwords(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        ensure_secrets(tmp_path / name)
    assert (tmp_path / "a" / "db_password").read_text() != (tmp_path / "b" / "db_password").read_text()


def test_acl_holds_the_hash_not_the_password(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    password = (tmp_path / "redis_password").read_text()
    acl = (tmp_path / "redis-users.acl").read_text()
    assert password not in acl
    assert f"#{hashlib.sha256(password.encode()).hexdigest()}" in acl


def test_acl_follows_a_password_brought_by_the_user(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    (tmp_path / "redis_password").chmod(0o644)
    (tmp_path / "redis_password").write_text("my-own-password")
    ensure_secrets(tmp_path)
    assert (tmp_path / "redis-users.acl").read_text() == redis_acl("my-own-password")
