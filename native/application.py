"""The environments of the application's processes in a native run: the API,
and the one-shots (compose's `secrets` and `migrate`) that run before it."""

import os

from app.init_secrets import DB_API_SECRET, DB_SECRET, REDIS_SECRET
from app.settings import Settings
from native.config import REPO_ROOT, NativeConfig

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
# The owner's credentials: the migrate step's only, never the API's.
OWNER_ONLY = ("POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE")


def _environment(config: NativeConfig, fixed: dict[str, str]) -> dict[str, str]:
    # The caller's overrides of the settings (e.g. from .env), then what the
    # native stack fixes: hosts, ports and secret files.
    overrides = {key: value for key, value in os.environ.items() if key.lower() in Settings.model_fields}
    database = {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(config.db_port),
        "POSTGRES_DB": config.db_name,
        "POSTGRES_API_PASSWORD_FILE": str(config.secrets_dir / DB_API_SECRET),
        "SQL_DIR": str(config.sql_dir),
        "SECRETS_DIR": str(config.secrets_dir),
    }
    return {**overrides, **database, **fixed, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def api_environment(config: NativeConfig) -> dict[str, str]:
    """The API's: its own PostgreSQL role and Redis user, never the owner's
    password, even from the caller's environment."""
    redis = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(config.redis_port)}
    redis["REDIS_PASSWORD_FILE"] = str(config.secrets_dir / REDIS_SECRET)
    api = _environment(config, {**redis, "API_SOCKET": str(config.api_socket)})
    return {key: value for key, value in api.items() if key.upper() not in OWNER_ONLY}


def migrate_environment(config: NativeConfig) -> dict[str, str]:
    """The migrate step's: the owner, and the API's role to create."""
    owner = {"POSTGRES_USER": config.db_user, "POSTGRES_PASSWORD_FILE": str(config.secrets_dir / DB_SECRET)}
    return _environment(config, owner)


def secrets_environment(config: NativeConfig) -> dict[str, str]:
    """The `secrets` one-shot's: runs before any secret exists, so none of
    the *_FILE variables that name them."""
    return {key: value for key, value in api_environment(config).items() if not key.endswith("_FILE")}
