"""Where the native stack lives and which ports it uses: one place for both."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The edge ports are fixed by the page (it calls http://localhost:8000).
EDGE_PAGE_PORT = 8080
EDGE_API_PORT = 8000
SERVICES = ("db", "redis", "api", "proxy")


@dataclass(frozen=True)
class NativeConfig:
    state_dir: Path
    db_port: int
    redis_port: int
    api_port: int
    db_user: str = "dashboard"
    db_name: str = "dashboard"
    # The scripts played on an empty data directory (the image's initdb.d).
    sql_dir: Path = REPO_ROOT / "sqlfiles"

    @classmethod
    def from_env(cls) -> "NativeConfig":
        state = Path(os.environ.get("NATIVE_STATE_DIR", REPO_ROOT / ".native"))
        return cls(
            state_dir=state.resolve(),
            # Not 5432/6379 (the machine's own services may hold those), and below
            # the ephemeral range (32768+), where outgoing connections could hold them.
            db_port=int(os.environ.get("NATIVE_DB_PORT", "15432")),
            redis_port=int(os.environ.get("NATIVE_REDIS_PORT", "16379")),
            api_port=int(os.environ.get("NATIVE_API_PORT", "8001")),
        )

    # Everything below derives from state_dir.
    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.state_dir / "redis"

    @property
    def nginx_dir(self) -> Path:
        return self.state_dir / "nginx"

    @property
    def run_dir(self) -> Path:
        """Sockets and pid files."""
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_file(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def app_environment(self) -> dict[str, str]:
        """The API's settings (app/settings.py) for a native run."""
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.db_port),
            "POSTGRES_USER": self.db_user,
            "POSTGRES_DB": self.db_name,
            "POSTGRES_PASSWORD_FILE": str(self.secrets_dir / "db_password"),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD_FILE": str(self.secrets_dir / "redis_password"),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.api_port),
            "SQL_DIR": str(self.sql_dir),
            "SECRETS_DIR": str(self.secrets_dir),
        }
