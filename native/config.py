"""Where the native stack lives and which ports it uses: one place for both."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# The edge ports are fixed by the page (it calls http://localhost:8000).
EDGE_PAGE_PORT = 8080
EDGE_API_PORT = 8000


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Under:
    """A path of the state directory, derived on each read."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, config: "NativeConfig", owner: type) -> Path:
        return config.state_dir / self.relative


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

    @classmethod
    def on_free_ports(cls, state_dir: Path, **overrides: Any) -> "NativeConfig":
        """A stack of its own beside any other (tests, benchmarks)."""
        return cls(state_dir=state_dir, db_port=free_port(), redis_port=free_port(), **overrides)

    def environment(self) -> dict[str, str]:
        """The runner's variables that select this configuration (make's)."""
        return {
            "NATIVE_STATE_DIR": str(self.state_dir),
            "NATIVE_DB_PORT": str(self.db_port),
            "NATIVE_REDIS_PORT": str(self.redis_port),
        }

    # Everything below derives from state_dir.
    secrets_dir = _Under("secrets")
    pgdata = _Under("postgres")
    redis_dir = _Under("redis")
    nginx_dir = _Under("nginx")
    log_dir = _Under("logs")
    run_dir = _Under("run")  # sockets and pid files
    # The API listens here, not on a TCP port: the run directory is the stack
    # user's alone (0700), so only the edge reaches the API, never another
    # local user skipping the edge and its headers.
    api_socket = _Under("run/api.sock")

    def log_file(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"
