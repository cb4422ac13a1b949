from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import DEFAULT_CORS_ORIGINS, Settings


def make(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_defaults_match_the_compose_services(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make(monkeypatch)
    assert (settings.postgres_host, settings.postgres_port) == ("db", 5432)
    assert (settings.redis_host, settings.redis_port) == ("redis", 6379)
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS
    assert settings.postgres_password is None


def test_password_is_read_from_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cret-value\n")
    settings = make(monkeypatch, POSTGRES_PASSWORD_FILE=str(secret))
    assert settings.postgres_password is not None
    assert settings.postgres_password.get_secret_value() == "s3cret-value"
    # Never printed by accident.
    assert "s3cret-value" not in repr(settings)


def test_password_and_its_file_are_exclusive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("x")
    with pytest.raises(ValueError, match="exclusive"):
        make(monkeypatch, POSTGRES_PASSWORD="y", POSTGRES_PASSWORD_FILE=str(secret))


@pytest.mark.parametrize("content", ["", "  \n"])
def test_empty_secret_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text(content)
    with pytest.raises(ValueError, match="empty"):
        make(monkeypatch, REDIS_PASSWORD_FILE=str(secret))


def test_missing_secret_file_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read secret file .*nope"):
        make(monkeypatch, REDIS_PASSWORD_FILE=str(tmp_path / "nope"))


def test_cors_origins_come_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make(monkeypatch, CORS_ORIGINS="http://a.example:8080, http://b.example")
    assert settings.cors_origins == ("http://a.example:8080", "http://b.example")


def test_cors_wildcard_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="not '\\*'"):
        make(monkeypatch, CORS_ORIGINS="*")


def test_pool_bounds_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="DB_POOL_MIN_SIZE"):
        make(monkeypatch, DB_POOL_MIN_SIZE="5", DB_POOL_MAX_SIZE="2")


def test_a_tunable_set_but_empty_keeps_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = {"COUNTER_KEY": "", "API_DRAIN_SECONDS": "", "DB_BACKOFF": "", "POSTGRES_API_USER": ""}
    settings = make(monkeypatch, **empty)
    for name in empty:
        field = name.lower()
        assert getattr(settings, field) == Settings.model_fields[field].default, name
