"""What every long-running service of the native stack has: a process found
by its pid file, a log, a readiness probe (the compose healthcheck)."""

import subprocess
from pathlib import Path

from native.config import NativeConfig
from native.privileges import RunAs
from native.process import StartError, environment, read_pid, terminate, wait_until


class Service:
    name = ""

    def __init__(self, config: NativeConfig, user: RunAs) -> None:
        self.config = config
        self.user = user

    @property
    def pid_file(self) -> Path:
        return self.config.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def main_pid(self) -> int | None:
        """The process a crash kills (`make kill`): the container's PID 1's child."""
        return self.pid()

    def running(self) -> bool:
        return self.pid() is not None

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        if not self.running():
            self.launch()

    def launch(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        terminate(self.pid_file)

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_until(lambda: self.running() and self.ready(), timeout, interval=0.2):
            raise StartError(
                f"{self.name} not ready after {timeout:.0f}s: see {self.config.log_file(self.name)}"
            )

    def spawn(self, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        """Start the service's process in its own session, logging to its log file."""
        log_file = self.config.log_file(self.name)
        with open(log_file, "ab") as log:
            self.user.own(log_file)
            process = subprocess.Popen(
                cmd,
                env=environment(env),
                cwd=cwd or self.config.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.user.popen_kwargs(),
            )
        self.pid_file.write_text(f"{process.pid}\n")
