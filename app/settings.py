"""All configuration of the API, the migration step and the secret generator.

Read from the environment (names match the official postgres image's, so one
set of variables serves both). Secrets come from files named by ``*_FILE``
variables, like the images' own ``file_env`` convention.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_CORS_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")
# The Redis user of the healthchecks (PING only). Fixed: the compose file's
# redis healthcheck names it too.
REDIS_HEALTHCHECK_USER = "healthcheck"
# The operator's Redis user (every command), for repairs by hand.
REDIS_ADMIN_USER = "admin"
# Connections of the API's role beyond its pools' maximum: a worker's
# replacement connecting while the old backends are not reaped yet.
API_CONNECTION_RESERVE = 5
# The largest `limit` a client may ask of GET /.
STUDENTS_PAGE_MAX = 1000
# Names written unquoted into the ACL file (split on spaces) and into SQL (quoted anyway).
_ROLE_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
_REDIS_NAME = r"^[A-Za-z0-9_.:-]+$"


# The secrets read from the file their <NAME>_FILE setting names, and
# whether the plain <NAME> variable may give them instead (the postgres
# image's file_env). The API role's password comes from its file only.
SECRET_SETTINGS = {"postgres_password": True, "redis_password": True, "postgres_api_password": False}


def _read_secret_file(path: Path) -> SecretStr:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return SecretStr(value)


class SecretFileSource(PydanticBaseSettingsSource):
    """<name>: the content of the file <NAME>_FILE names, as given to `sources`
    (the first that gives it wins: init arguments, then the environment)."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        given: dict[str, Any] = {}
        for source in reversed(self.sources):
            given.update(source())
        values: dict[str, Any] = {}
        for name, plain_allowed in SECRET_SETTINGS.items():
            path = given.get(f"{name}_file")
            if path is not None and plain_allowed and given.get(name) is not None:
                raise ValueError(f"{name.upper()} and {name.upper()}_FILE are exclusive")
            if path is not None:
                values[name] = _read_secret_file(Path(path))
            elif not plain_allowed:
                values[name] = None  # outranks a plain variable: never read
        return values


class Settings(BaseSettings):
    # A variable set but empty (`COUNTER_KEY=` in .env: compose passes the
    # tunables on as set) means "not set": the default applies.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The secret files first: they see the *_FILE paths the other two give.
        secret_files = SecretFileSource(settings_cls, init_settings, env_settings)
        return (secret_files, init_settings, env_settings, dotenv_settings, file_secret_settings)

    # PostgreSQL. POSTGRES_USER/POSTGRES_PASSWORD: the database's owner (the
    # image's superuser), used by the migrate step only. The API logs in as
    # its own role, which the migrate step creates: SELECT on students only.
    postgres_host: str = "db"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "dashboard"
    postgres_db: str = "dashboard"
    postgres_password: SecretStr | None = None
    postgres_password_file: Path | None = None
    postgres_api_user: str = Field(default="dashboard_api", pattern=_ROLE_NAME)
    # Only from its file: no POSTGRES_API_PASSWORD variable is ever read.
    postgres_api_password: SecretStr | None = None
    postgres_api_password_file: Path | None = None
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    # How long a request waits for a pooled connection before answering 503.
    db_acquire_timeout: float = Field(default=1.0, gt=0)
    db_connect_timeout: int = Field(default=2, ge=1)
    db_statement_timeout_ms: int = Field(default=2000, ge=1)
    # After a failure, answer 503 at once for this long, then probe again.
    db_backoff: float = Field(default=0.5, gt=0)

    # Redis (the view counter)
    redis_host: str = "redis"
    redis_port: int = Field(default=6379, ge=1, le=65535)
    # The API's own user: INCRBY of counter_key and PING, nothing else.
    redis_user: str = Field(default="dashboard-api", pattern=_REDIS_NAME)
    redis_password: SecretStr | None = None
    redis_password_file: Path | None = None
    counter_key: str = Field(default="dashboard:views", pattern=r"^\S+$")
    # Upper bound of one counter operation: Redis stopped or frozen costs at
    # most this much, once per back-off period.
    redis_timeout: float = Field(default=0.1, gt=0)
    # After a failure, skip Redis for this long instead of paying the timeout
    # on every request.
    redis_backoff: float = Field(default=2.0, gt=0)

    # HTTP
    api_host: str = "0.0.0.0"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # The workers' Prometheus metrics, summed (/metrics): not the edge's.
    metrics_port: int = Field(default=9000, ge=1, le=65535)
    # Requests one worker serves at once; the next get an immediate 503. Well
    # above the load the stack is sized for (make bench: 16 connections over
    # 2 workers), below redis-py's 100 connections per pool (one per request
    # in flight); with 10 pooled database connections a request queues for
    # about 6 queries, milliseconds, far from DB_ACQUIRE_TIMEOUT.
    api_max_in_flight: int = Field(default=64, ge=1)
    # One worker per core of the machine the stack is sized for (2 cores).
    api_workers: int = Field(default=2, ge=1)
    # On SIGTERM (a recreate, a scale down, a rolling update), keep serving
    # this long before shutting down: the edge keeps using a name's cached
    # answers for up to 2 s (resolver valid=2s). 0: stop at once.
    api_drain_seconds: float = Field(default=3.0, ge=0, le=60)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CORS_ORIGINS
    # Students per answer of GET / when the client asks no `limit`: what the
    # immutable page shows. Each answer's time and memory stay bounded
    # whatever the table holds; the rest is reached page by page (Link).
    students_page_size: int = Field(default=100, ge=1, le=STUDENTS_PAGE_MAX)

    # Migrations and secrets
    sql_dir: Path = Path(__file__).resolve().parent.parent / "sqlfiles"
    migrate_wait_seconds: float = Field(default=60.0, ge=0)
    secrets_dir: Path = Path("/run/dashboard-secrets")
    # The database's volume, read-only, for the secrets generator: an owner
    # password is never made for a database already initialised.
    db_data_dir: Path | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in origins:
            raise ValueError("CORS_ORIGINS must list the frontend's origins, not '*'")
        return origins

    @model_validator(mode="after")
    def _pool_bounds(self) -> "Settings":
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        return self

    @model_validator(mode="after")
    def _separate_users(self) -> "Settings":
        # The migrate step strips the API's role of every attribute: never the owner.
        if self.postgres_api_user == self.postgres_user:
            raise ValueError("POSTGRES_API_USER must differ from POSTGRES_USER (the owner)")
        if self.redis_user in ("default", REDIS_HEALTHCHECK_USER, REDIS_ADMIN_USER):
            taken = f"'default', '{REDIS_HEALTHCHECK_USER}' nor '{REDIS_ADMIN_USER}'"
            raise ValueError(f"REDIS_USER must not be {taken}")
        return self

    def current(self, secret: str) -> str | None:
        """A secret as it is now: its file read again, so that a rotation
        (make rotate-secrets) reaches the next connection without a restart;
        else the value given."""
        path: Path | None = getattr(self, f"{secret}_file")
        if path is not None:
            return _read_secret_file(path).get_secret_value()
        value: SecretStr | None = getattr(self, secret)
        return value.get_secret_value() if value else None

    @property
    def api_connection_limit(self) -> int:
        """CONNECTION LIMIT of the API's role: every worker's full pool."""
        return self.api_workers * self.db_pool_max_size + API_CONNECTION_RESERVE


@lru_cache
def get_settings() -> Settings:
    return Settings()
