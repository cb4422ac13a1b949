"""The product's own db and redis (and the secrets and migrate one-shots
before them) for the integration tier: the services of docker-compose.yml,
started as a Compose project of the tests' own, with their two ports
published on loopback (compose.integration.yml) for the API under test,
which runs in the test process.

Compose starts, stops, pauses and removes them: no process of the tests'
supervises anything.
"""

import os
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from app.db import conninfo
from app.init_secrets import DB_API_SECRET, DB_SECRET, REDIS_HEALTHCHECK_SECRET, REDIS_SECRET
from app.settings import REDIS_HEALTHCHECK_USER, Settings
from bench.driver import REPO_ROOT, SECRETS_MOUNT

OVERRIDE = Path(__file__).with_name("compose.integration.yml")
# A service started again answers this soon.
ANSWERING_WITHIN_S = 60.0
# The owner's credentials: the migrate step's and the tests' own, never the API's.
OWNER_ONLY = ("POSTGRES_USER", "POSTGRES_PASSWORD_FILE")


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Backing:
    """One Compose project: `extra_files` override the product's (an older
    volume's init scripts), `up()` starts db and redis and runs the migrate
    step, `down()` removes it all, volumes included."""

    extra_files: tuple[Path, ...] = ()
    # The scripts the migrate step of the tests' settings plays.
    sql_dir: Path = REPO_ROOT / "sqlfiles"
    project: str = field(default_factory=lambda: f"student-dashboard-it-{uuid.uuid4().hex[:8]}")
    db_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    secrets_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dashboard-it-secrets-")))
    _containers: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        files = [
            os.environ.get("COMPOSE_FILE", "docker-compose.yml"),
            str(OVERRIDE),
            *map(str, self.extra_files),
        ]
        env = {
            **os.environ,
            "COMPOSE_FILE": ":".join(files),
            "COMPOSE_PROJECT_NAME": self.project,
            "IT_DB_PORT": str(self.db_port),
            "IT_REDIS_PORT": str(self.redis_port),
        }
        command = ["docker", "compose", *args]
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *services: str) -> None:
        """db and redis healthy (the secrets generated first) and the migrate
        step done; or only the services named."""
        self.compose("up", "--detach", "--wait", *(services or ("db", "redis")))
        self._copy_secrets()
        if not services:
            self.migrate()

    def migrate(self, *, after_its_dependencies: bool = False) -> None:
        """The migrate step; or, first, what it depends on, started as compose
        orders it (db healthy: the product's depends_on)."""
        self.compose("run", "--rm", *([] if after_its_dependencies else ["--no-deps"]), "migrate")
        self._copy_secrets()

    def _copy_secrets(self) -> None:
        """The generated secret files, for the tests (the secrets one-shot's container holds the volume)."""
        self.compose("cp", f"secrets:{SECRETS_MOUNT}/.", str(self.secrets_dir))

    def start(self, service: str) -> None:
        """Running again (from stopped or paused), returning once it answers.
        Not once healthy: a container unhealthy from a pause turns healthy
        only at its next check, up to an interval later."""
        state = self.state(service)
        if state.startswith("paused"):
            self.unpause(service)
        elif not state.startswith("running"):
            self.compose("start", service)
        deadline = time.monotonic() + ANSWERING_WITHIN_S
        while not self.answers(service):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{service} silent {ANSWERING_WITHIN_S} s after start: {self.state(service)}"
                )
            time.sleep(0.2)

    def answers(self, service: str) -> bool:
        """The database takes a connection, or Redis a PING (as the healthcheck user)."""
        try:
            if service == "db":
                psycopg.connect(conninfo(self.settings(), owner=True), connect_timeout=1).close()
                return True
            password = (self.secrets_dir / REDIS_HEALTHCHECK_SECRET).read_text().strip()
            once = Retry(NoBackoff(), 0)
            with Redis(
                port=self.redis_port, username=REDIS_HEALTHCHECK_USER, password=password, retry=once
            ) as redis:
                return bool(redis.ping())
        except (psycopg.OperationalError, RedisError):
            return False

    def stop(self, service: str) -> None:
        self.compose("stop", service)

    def pause(self, service: str) -> None:
        self.compose("pause", service)

    def unpause(self, service: str) -> None:
        if self.state(service).startswith("paused"):
            self.compose("unpause", service)

    def state(self, service: str) -> str:
        """The container's status and health: running/healthy, paused/unhealthy,
        exited/unhealthy..."""
        if not self._containers.get(service):  # stop, start and pause keep the container
            self._containers[service] = self.compose("ps", "--all", "--quiet", service).stdout.strip()
        template = "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}"
        inspect = ["docker", "inspect", "--format", template, self._containers[service]]
        return subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")
        for path in self.secrets_dir.iterdir():
            path.unlink()
        self.secrets_dir.rmdir()

    def environment(self, *, owner: bool = False) -> dict[str, str]:
        """What the API (or, with owner, the migrate step) is given, pointing
        at the published ports and the copied secret files."""
        variables = {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.db_port),
            "POSTGRES_USER": "dashboard",
            "POSTGRES_PASSWORD_FILE": str(self.secrets_dir / DB_SECRET),
            "POSTGRES_API_PASSWORD_FILE": str(self.secrets_dir / DB_API_SECRET),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD_FILE": str(self.secrets_dir / REDIS_SECRET),
            "SQL_DIR": str(self.sql_dir),
            # A test's API stops at once, unless the test drains it.
            "API_DRAIN_SECONDS": "0",
            "SECRETS_DIR": str(self.secrets_dir),
        }
        return variables if owner else {k: v for k, v in variables.items() if k not in OWNER_ONLY}

    def settings(self, **overrides: object) -> Settings:
        """The settings of both (the tests act as the owner too), with short
        back-offs so that recovery tests stay fast."""
        values: dict[str, object] = {
            key.lower(): value for key, value in self.environment(owner=True).items()
        }
        values.update(redis_backoff=0.5, db_acquire_timeout=0.5)
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]
