"""Who connects as whom: the API's own PostgreSQL role and Redis user, as
the settings and the connection strings make them.

The privileges themselves are checked on real servers in
tests/integration/test_least_privilege.py.
"""

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from app.db import conninfo
from app.init_secrets import (
    DB_API_SECRET,
    DB_SECRET,
    PASSWORD_FILES,
    REDIS_ADMIN_SECRET,
    REDIS_HEALTHCHECK_SECRET,
    REDIS_SECRET,
)
from app.settings import API_CONNECTION_RESERVE, REDIS_ADMIN_USER, REDIS_HEALTHCHECK_USER, Settings


def make(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")
    return str(path)


def test_api_role_and_redis_user_have_their_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make(monkeypatch)
    assert settings.postgres_api_user == "dashboard_api" != settings.postgres_user
    assert settings.redis_user == "dashboard-api"
    assert settings.postgres_api_password is None


def test_api_password_is_read_from_its_file_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = secret_file(tmp_path, DB_API_SECRET, "api-s3cret")
    settings = make(monkeypatch, POSTGRES_API_PASSWORD_FILE=path)
    assert settings.postgres_api_password is not None
    assert settings.postgres_api_password.get_secret_value() == "api-s3cret"
    assert "api-s3cret" not in repr(settings)
    # Never from an environment variable: there is no such setting to read.
    monkeypatch.delenv("POSTGRES_API_PASSWORD_FILE")
    assert make(monkeypatch, POSTGRES_API_PASSWORD="from-env").postgres_api_password is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POSTGRES_API_USER": "dashboard"}, "POSTGRES_API_USER"),  # the owner would lose superuser
        ({"POSTGRES_API_USER": "Robert'); DROP"}, "postgres_api_user"),
        ({"REDIS_USER": "default"}, "REDIS_USER"),
        ({"REDIS_USER": REDIS_HEALTHCHECK_USER}, "REDIS_USER"),
        ({"REDIS_USER": REDIS_ADMIN_USER}, "REDIS_USER"),
        ({"REDIS_USER": "two words"}, "redis_user"),
        ({"COUNTER_KEY": "dashboard views"}, "counter_key"),  # the ACL file splits on spaces
    ],
)
def test_names_that_would_break_the_separation_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make(monkeypatch, **env)


def test_the_api_role_connection_limit_fits_every_worker_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make(monkeypatch, API_WORKERS="3", DB_POOL_MAX_SIZE="7")
    assert settings.api_connection_limit == 3 * 7 + API_CONNECTION_RESERVE


def test_the_api_connects_as_its_role_and_migrate_as_the_owner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = make(
        monkeypatch,
        POSTGRES_PASSWORD_FILE=secret_file(tmp_path, DB_SECRET, "owner-pw"),
        POSTGRES_API_PASSWORD_FILE=secret_file(tmp_path, DB_API_SECRET, "api-pw"),
    )
    api = conninfo_to_dict(conninfo(settings))
    assert (api["user"], api["password"]) == ("dashboard_api", "api-pw")
    owner = conninfo_to_dict(conninfo(settings, owner=True))
    assert (owner["user"], owner["password"]) == ("dashboard", "owner-pw")
    assert api["application_name"] != owner["application_name"]


def test_every_password_file_is_listed_once() -> None:
    assert sorted(PASSWORD_FILES) == sorted(
        {DB_SECRET, DB_API_SECRET, REDIS_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_ADMIN_SECRET}
    )
