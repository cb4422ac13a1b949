"""How the end-to-end suite and the benchmarks drive the stack: through the
Makefile's targets, each a `docker compose` command, as a user would.

They run under the Compose project that COMPOSE_PROJECT_NAME names (set by
tests/engine/run.sh: the tests' own, never the user's stack and its volumes).
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path

from app.init_secrets import PASSWORD_FILES
from app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# The edge's ports are fixed by the page: it calls http://localhost:8000.
EDGE_PAGE_PORT, EDGE_API_PORT = 8080, 8000
PAGE_URL = f"http://localhost:{EDGE_PAGE_PORT}/"
API_URL = f"http://localhost:{EDGE_API_PORT}/"
# Where the containers read their secret files (the settings' default, which compose mounts).
SECRETS_MOUNT = str(Settings.model_fields["secrets_dir"].default)
LONG_RUNNING = ("proxy", "api", "db", "redis")


class StackDriver:
    """The stack of docker-compose.yml, plus `extra_files` (overrides)."""

    def __init__(self, *extra_files: Path) -> None:
        self.extra_files = extra_files

    @property
    def env(self) -> dict[str, str]:
        files = [os.environ.get("COMPOSE_FILE", "docker-compose.yml"), *map(str, self.extra_files)]
        return {**os.environ, "COMPOSE_FILE": ":".join(files), "CI": "true"}  # CI: make clean asks nothing

    def make(self, *args: str, stdin: str | None = None, settings: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=REPO_ROOT,
            env={**self.env, **(settings or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise AssertionError(f"make {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def compose(self, *args: str) -> str:
        """A `docker compose` command no make target wraps; its output."""
        command = ["docker", "compose", *args]
        # errors="replace": a log may hold a client's raw bytes (not UTF-8).
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=180,
        )
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def up(self, *services: str, **settings: str) -> str:
        """make up (or `up --wait` of some services only); `settings`
        (COUNTER_KEY="...") in its environment, as a user's shell or .env
        would set them."""
        if services:
            return self.compose("up", "--detach", "--wait", *services)
        return self.make("up", settings=settings)

    def down(self) -> None:
        self.make("down")

    def stop(self, service: str) -> None:
        self.make("stop", f"SERVICE={service}")

    def start(self, service: str) -> None:
        self.make("start", f"SERVICE={service}")

    def restart(self, service: str = "") -> None:
        """One service, or every one."""
        self.make("restart", f"SERVICE={service}")

    def kill(self, service: str) -> None:
        """A crash: SIGKILL of the service's main process."""
        self.make("kill", f"SERVICE={service}")

    def pause(self, service: str) -> None:
        self.make("pause", f"SERVICE={service}")

    def unpause(self, service: str) -> None:
        self.make("unpause", f"SERVICE={service}")

    def clean(self) -> None:
        """Remove the containers and the volumes."""
        self.make("clean")

    def psql(self, query: str) -> str:
        """SQL piped into `make psql`, as a user would; returns psql's output."""
        return self.make("psql", stdin=query)

    def healthy(self) -> bool:
        """Every long-running service up and healthy."""
        rows = [json.loads(line) for line in self.compose("ps", "--format", "json").splitlines() if line]
        return {row["Service"] for row in rows if row.get("Health") == "healthy"} >= set(LONG_RUNNING)

    def logs(self) -> bytes:
        return self.compose("logs", "--no-color").encode()

    def secrets(self) -> list[bytes]:
        """Every generated password, read from the volume that holds them
        (the `secrets` one-shot's container mounts it whole)."""
        with tempfile.TemporaryDirectory() as copy:
            self.compose("cp", f"secrets:{SECRETS_MOUNT}/.", copy)
            return [(Path(copy) / name).read_bytes().strip() for name in PASSWORD_FILES]
