"""How the end-to-end suite and the benchmarks drive the stack: through the
Makefile, as a user would.

The one switch between the native run and the containers: E2E_MODE (native by
default, docker for `make test-docker`) is passed as MODE to the same make
targets (up, down, stop, start, kill, pause, psql, clean).
"""

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from app.init_secrets import PASSWORD_FILES
from app.settings import Settings
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, NativeConfig

E2E_MODE = os.environ.get("E2E_MODE", "native")
PAGE_URL = f"http://localhost:{EDGE_PAGE_PORT}/"
API_URL = f"http://localhost:{EDGE_API_PORT}/"
# Where the containers read their secret files (the settings' default, which compose mounts).
SECRETS_MOUNT = str(Settings.model_fields["secrets_dir"].default)


@dataclass
class StackDriver:
    state_dir: Path
    mode: str = "native"
    # The native runner's state and ports (make passes NATIVE_* on to it).
    native_config: NativeConfig = field(init=False)

    def __post_init__(self) -> None:
        self.native_config = NativeConfig.on_free_ports(self.state_dir)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MODE": self.mode,
            "CI": "true",  # make clean asks nothing
            **self.native_config.environment(),
        }

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

    def up(self, **settings: str) -> str:
        """make up; `settings` (COUNTER_KEY="...") in its environment, as a
        user's shell or .env would set them."""
        return self.make("up", settings=settings)

    def down(self) -> None:
        self.make("down")

    def stop(self, service: str) -> None:
        self.make("stop", f"SERVICE={service}")

    def start(self, service: str) -> None:
        self.make("start", f"SERVICE={service}")

    def kill(self, service: str) -> None:
        """A crash: SIGKILL of the service's main process."""
        self.make("kill", f"SERVICE={service}")

    def pause(self, service: str) -> None:
        self.make("pause", f"SERVICE={service}")

    def unpause(self, service: str) -> None:
        self.make("unpause", f"SERVICE={service}")

    def clean(self) -> None:
        """Stop and drop the data (native: the state dir; docker: the volumes)."""
        self.make("clean")

    def logs(self) -> bytes:
        if self.mode == "docker":
            return subprocess.run(
                ["docker", "compose", "logs", "--no-color"], cwd=REPO_ROOT, capture_output=True, check=True
            ).stdout
        return b"".join(path.read_bytes() for path in sorted(self.state_dir.rglob("*.log")))

    def secrets(self) -> list[bytes]:
        """Every generated password (the owner's, the API role's, both Redis users')."""
        names = PASSWORD_FILES
        if self.mode == "docker":
            return [self._secret_from_a_container(name) for name in names]
        return [(self.state_dir / "secrets" / name).read_bytes().strip() for name in names]

    def _secret_from_a_container(self, name: str) -> bytes:
        """Each service mounts only the secret files it reads: ask the
        long-running ones in turn."""
        for service in ("api", "db", "redis"):
            result = subprocess.run(
                ["docker", "compose", "exec", "-T", service, "cat", f"{SECRETS_MOUNT}/{name}"],
                cwd=REPO_ROOT,
                env=self.env,
                capture_output=True,
            )
            if result.returncode == 0:
                return result.stdout.strip()
        raise AssertionError(f"no running service mounts the secret {name}")

    def psql(self, query: str) -> str:
        """SQL piped into `make psql`, as a user would; returns psql's output."""
        return self.make("psql", stdin=query)
