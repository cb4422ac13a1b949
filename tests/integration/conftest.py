"""The API against the product's real PostgreSQL and Redis containers (backing.py).

One project for the session; a test that needs a database of its own (a
first start, an older volume) gets one more, removed afterwards.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from app.db import conninfo
from app.main import create_app
from app.settings import Settings
from tests.conftest import REPO_ROOT, init_scripts_override, users_stack_left_untouched
from tests.integration.backing import Backing


@contextmanager
def backing(
    *extra_files: Path, services: tuple[str, ...] = (), sql_dir: Path | None = None
) -> Iterator[Backing]:
    """A project of its own, up (db and redis, migrated; or only `services`), then removed."""
    own = Backing(extra_files=extra_files, sql_dir=sql_dir or REPO_ROOT / "sqlfiles")
    try:
        own.up(*services)
        yield own
    finally:
        own.down()


@contextmanager
def database_first_started_with(tmp_path: Path, *scripts: str | Path) -> Iterator[Backing]:
    """The database alone, its first start having played only these scripts
    (names of sqlfiles/, or paths): an older volume (the POC's, or one from
    before a later script)."""
    directory = tmp_path / "first-scripts"
    directory.mkdir()
    for script in scripts:
        shutil.copy(REPO_ROOT / "sqlfiles" / script if isinstance(script, str) else script, directory)
    # The tests' settings play the same scripts; sql_dir=... for the current ones.
    with backing(init_scripts_override(directory), services=("db",), sql_dir=directory) as older:
        yield older


@pytest.fixture(scope="session")
def stack() -> Iterator[Backing]:
    """db and redis running, scripts played, migrate applied."""
    with backing() as session_stack:
        yield session_stack


@pytest.fixture(scope="session")
def settings(stack: Backing) -> Settings:
    return stack.settings()


@contextmanager
def api_client(stack: Backing, settings: Settings) -> Iterator[TestClient]:
    """The app in-process against the stack's database and Redis, both started."""
    for name in ("db", "redis"):
        stack.start(name)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def client(settings: Settings, stack: Backing) -> Iterator[TestClient]:
    with api_client(stack, settings) as test_client:
        yield test_client


def api_redis(settings: Settings) -> Redis:
    """A client logged in as the API's Redis user."""
    assert settings.redis_password is not None
    return Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        username=settings.redis_user,
        password=settings.redis_password.get_secret_value(),
        socket_timeout=2,
    )


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[Redis]:
    client = api_redis(settings)
    yield client
    client.close()


def counter_value(client: Redis, settings: Settings) -> int:
    """The view counter, read with the API's own Redis user, which may not
    GET: INCRBY 0 answers the value and changes nothing."""
    return int(client.incr(settings.counter_key, 0))


def sql(settings: Settings, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement as the database owner (POSTGRES_USER); returns the rows (if any)."""
    with psycopg.connect(conninfo(settings, owner=True), autocommit=True) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session", autouse=True)
def users_stack() -> Iterator[None]:
    """The tests run under a project of their own: the user's is never touched."""
    yield from users_stack_left_untouched()
