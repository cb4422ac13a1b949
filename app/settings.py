"""All configuration of the API, the migration step and the secret generator.

Read from the environment (names match the official postgres image's, so one
set of variables serves both). Secrets come from files named by ``*_FILE``
variables, like the images' own ``file_env`` convention.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CORS_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")


def _read_secret_file(path: Path) -> SecretStr:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return SecretStr(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # PostgreSQL
    postgres_host: str = "db"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "dashboard"
    postgres_db: str = "dashboard"
    postgres_password: SecretStr | None = None
    postgres_password_file: Path | None = None
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
    redis_password: SecretStr | None = None
    redis_password_file: Path | None = None
    counter_key: str = "dashboard:views"
    # Upper bound of one counter operation: Redis stopped or frozen costs at
    # most this much, once per back-off period.
    redis_timeout: float = Field(default=0.1, gt=0)
    # After a failure, skip Redis for this long instead of paying the timeout
    # on every request.
    redis_backoff: float = Field(default=2.0, gt=0)

    # HTTP
    api_host: str = "0.0.0.0"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # One worker per core of the machine the stack is sized for (2 cores).
    api_workers: int = Field(default=2, ge=1)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CORS_ORIGINS

    # Migrations and secrets
    sql_dir: Path = Path(__file__).resolve().parent.parent / "sqlfiles"
    migrate_wait_seconds: float = Field(default=60.0, ge=0)
    secrets_dir: Path = Path("/run/dashboard-secrets")

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
    def _load_secret_files(self) -> "Settings":
        for name in ("postgres_password", "redis_password"):
            path = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                # Same rule as the postgres image's file_env.
                raise ValueError(f"{name.upper()} and {name.upper()}_FILE are exclusive")
            object.__setattr__(self, name, _read_secret_file(path))
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
