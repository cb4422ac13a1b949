"""The native stack as a whole: start order, health, signals, teardown."""

import contextlib
import os
import shutil
import signal

from app.init_secrets import PASSWORD_FILES, REDIS_ACL
from native.application import PYTHON, migrate_environment, secrets_environment
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, NativeConfig, port_open
from native.privileges import RunAs, grant_traverse, service_user
from native.process import StackError, process_tree, run
from native.services import SERVICES, Service


class NativeStack:
    def __init__(self, config: NativeConfig, user: RunAs | None = None) -> None:
        self.config = config
        self.user = user or service_user()
        # In start order (compose's depends_on).
        self.services = {name: kind(config, self.user) for name, kind in SERVICES.items()}

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise StackError(f"unknown service {name!r}: one of {', '.join(self.services)}") from None

    def prepare(self) -> None:
        """State directories and secrets (compose's one-shot `secrets` service)."""
        reachable = (REPO_ROOT, self.config.state_dir.parent, self.config.sql_dir)
        for changed in {path for target in reachable for path in grant_traverse(target, self.user)}:
            print(f"note: gave {self.user.name} traverse (o+x) on {changed}")
        config = self.config
        for directory in (config.state_dir, config.run_dir, config.log_dir, config.secrets_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.user.own(self.config.state_dir)
        self._one_shot("app.init_secrets", secrets_environment(self.config))

    def up(self, timeout: float = 60) -> None:
        self.prepare()
        busy = [port for port in (EDGE_PAGE_PORT, EDGE_API_PORT) if port_open(port)]
        if busy and not self.service("proxy").running():
            raise StackError(f"port(s) {busy} already in use: stop what listens there (docker compose down?)")
        self.start_data_layer(timeout)
        self.start("api", timeout)
        self.start("proxy", timeout)

    def start_data_layer(self, timeout: float = 60) -> None:
        """db (first start plays the init scripts), redis, then the migrate
        step, only once the db answers over TCP (compose: service_healthy)."""
        self.start("db", timeout)
        self.start("redis", timeout)
        self.migrate()

    def migrate(self) -> None:
        self._one_shot("app.migrate", migrate_environment(self.config))

    def _one_shot(self, module: str, env: dict[str, str]) -> None:
        """A compose one-shot: the same program, run to completion."""
        run([str(PYTHON), "-m", module], self.user, env=env, cwd=REPO_ROOT)

    def start(self, name: str, timeout: float = 60) -> None:
        service = self.service(name)
        # Prepared once per state directory (compose's one-shot `secrets`
        # runs once per up), not again for each service: prepare() chowns
        # the whole state directory, database files included.
        if not all((self.config.secrets_dir / secret).exists() for secret in (*PASSWORD_FILES, REDIS_ACL)):
            self.prepare()
        service.start()
        service.wait_ready(timeout)

    def stop(self, name: str) -> None:
        self.service(name).stop()

    def kill(self, name: str) -> None:
        """SIGKILL the service's main process: a crash, not a stop."""
        os.kill(self._running(name, self.service(name).main_pid()), signal.SIGKILL)

    def pause(self, name: str) -> None:
        """SIGSTOP to every process of the service, as compose pause freezes
        the whole container: connections hang, not fail. The process tree,
        not the group: PostgreSQL's backends each lead a session of their own."""
        self._signal_tree(name, signal.SIGSTOP)

    def unpause(self, name: str) -> None:
        self._signal_tree(name, signal.SIGCONT)

    def _signal_tree(self, name: str, sig: int) -> None:
        for pid in process_tree(self._running(name, self.service(name).pid())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    @staticmethod
    def _running(name: str, pid: int | None) -> int:
        if pid is None:
            raise StackError(f"{name} is not running")
        return pid

    def down(self) -> None:
        for service in reversed(self.services.values()):
            service.stop()

    def clean(self) -> None:
        self.down()
        shutil.rmtree(self.config.state_dir, ignore_errors=True)
