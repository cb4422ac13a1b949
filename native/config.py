"""Where the native stack lives and which ports it uses: one place for both."""

import os
from dataclasses import dataclass
from pathlib import Path

from app.init_secrets import DB_API_SECRET, DB_SECRET, REDIS_SECRET

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
    def api_socket(self) -> Path:
        """The API listens here, not on a TCP port: the run directory is the
        stack user's alone (0700), so only the edge reaches the API, never
        another local user skipping the edge and its headers."""
        return self.run_dir / "api.sock"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_file(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def _database_environment(self) -> dict[str, str]:
        """The database and the API's role: what both the API and migrate need."""
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.db_port),
            "POSTGRES_DB": self.db_name,
            "POSTGRES_API_PASSWORD_FILE": str(self.secrets_dir / DB_API_SECRET),
        }

    def app_environment(self) -> dict[str, str]:
        """The API's settings (app/settings.py) for a native run: its own
        PostgreSQL role and Redis user, never the owner's password."""
        return {
            **self._database_environment(),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD_FILE": str(self.secrets_dir / REDIS_SECRET),
            "API_SOCKET": str(self.api_socket),
            "SQL_DIR": str(self.sql_dir),
            "SECRETS_DIR": str(self.secrets_dir),
        }

    def migrate_environment(self) -> dict[str, str]:
        """The migrate step's: the owner, and the API's role to create."""
        return {
            **self._database_environment(),
            "POSTGRES_USER": self.db_user,
            "POSTGRES_PASSWORD_FILE": str(self.secrets_dir / DB_SECRET),
            "SQL_DIR": str(self.sql_dir),
            "SECRETS_DIR": str(self.secrets_dir),
        }
