"""Real PostgreSQL and Redis, started by the native runner on free ports.

Never the machine's own services on 5432/6379: each test session gets its own
instances, as the unprivileged service user when run as root.
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
from native.application import api_environment, migrate_environment
from native.config import NativeConfig
from native.stack import NativeStack
from tests.conftest import REPO_ROOT


def app_settings(config: NativeConfig, **overrides: object) -> Settings:
    """What the API and the migrate step are given (so the tests can act as the owner too)."""
    environment = {**api_environment(config), **migrate_environment(config)}
    values: dict[str, object] = {key.lower(): value for key, value in environment.items()}
    # Short back-off so recovery tests stay fast; the default is 2 s.
    values.update(redis_backoff=0.5, db_acquire_timeout=0.5)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def database_first_started_with(tmp_path: Path, *scripts: str) -> Iterator[NativeStack]:
    """The database alone, its first start having played only these scripts of
    sqlfiles/: an older volume (the POC's, or one from before a later script)."""
    directory = tmp_path / "first-scripts"
    directory.mkdir()
    for name in scripts:
        shutil.copy(REPO_ROOT / "sqlfiles" / name, directory)
    older = NativeStack(NativeConfig.on_free_ports(tmp_path / "state", sql_dir=directory))
    older.prepare()
    try:
        older.start("db")
        yield older
    finally:
        older.down()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    """db and redis running, scripts played, migrate applied."""
    backing = NativeStack(NativeConfig.on_free_ports(tmp_path_factory.mktemp("integration") / "state"))
    backing.prepare()
    try:
        backing.start("db")
        backing.start("redis")
        backing.migrate()
        yield backing
    finally:
        backing.down()


@pytest.fixture(scope="session")
def settings(stack: NativeStack) -> Settings:
    return app_settings(stack.config)


@contextmanager
def api_client(stack: NativeStack, settings: Settings) -> Iterator[TestClient]:
    """The app in-process against the stack's database and Redis, both started."""
    for name in ("db", "redis"):
        if not stack.service(name).running():
            stack.start(name)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def client(settings: Settings, stack: NativeStack) -> Iterator[TestClient]:
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
