"""Real PostgreSQL and Redis, started by the native runner on free ports.

Never the machine's own services on 5432/6379: each test session gets its own
instances, as the unprivileged service user when run as root.
"""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from app.db import conninfo
from app.main import create_app
from app.settings import Settings
from native.config import NativeConfig
from native.stack import NativeStack
from tests.conftest import free_port


def native_config(state_dir: Path, **overrides: object) -> NativeConfig:
    return NativeConfig(
        state_dir=state_dir,
        db_port=free_port(),
        redis_port=free_port(),
        api_port=free_port(),
        **overrides,  # type: ignore[arg-type]
    )


def app_settings(config: NativeConfig, **overrides: object) -> Settings:
    values: dict[str, object] = {key.lower(): value for key, value in config.app_environment().items()}
    # Short back-off so recovery tests stay fast; the default is 2 s.
    values.update(redis_backoff=0.5, db_acquire_timeout=0.5)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    """db and redis running, scripts played, migrate applied."""
    backing = NativeStack(native_config(tmp_path_factory.mktemp("integration") / "state"))
    backing.prepare()
    try:
        backing.start("db")
        backing.start("redis")
        backing.api.migrate()
        yield backing
    finally:
        backing.down()


@pytest.fixture(scope="session")
def settings(stack: NativeStack) -> Settings:
    return app_settings(stack.config)


@pytest.fixture
def client(settings: Settings, stack: NativeStack) -> Iterator[TestClient]:
    for name in ("db", "redis"):
        if not stack.service(name).running():
            stack.start(name)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[Redis]:
    assert settings.redis_password is not None
    client = Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password.get_secret_value(),
        socket_timeout=2,
    )
    yield client
    client.close()


def sql(settings: Settings, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement as the stack's user; returns the rows (if any)."""
    with psycopg.connect(conninfo(settings), autocommit=True) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []
