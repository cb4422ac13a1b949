"""The native stack as a whole: start order, health, teardown."""

import os
import shutil
import signal
from pathlib import Path

from app.init_secrets import PASSWORD_FILES, ensure_secrets
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, NativeConfig
from native.privileges import RunAs, grant_traverse, service_user
from native.process import StartError
from native.services import Api, Postgres, Proxy, Redis, Service, port_open


class NativeStack:
    def __init__(self, config: NativeConfig, user: RunAs | None = None) -> None:
        self.config = config
        self.user = user or service_user()
        self.db = Postgres(config, self.user)
        self.redis = Redis(config, self.user)
        self.api = Api(config, self.user)
        self.proxy = Proxy(config, self.user)

    @property
    def services(self) -> dict[str, Service]:
        """In start order (compose's depends_on)."""
        return {"db": self.db, "redis": self.redis, "api": self.api, "proxy": self.proxy}

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise StartError(f"unknown service {name!r}: one of {', '.join(self.services)}") from None

    def prepare(self) -> None:
        """State directories and secrets (compose's one-shot `secrets` service)."""
        reachable = (REPO_ROOT, self.config.state_dir.parent, self.config.sql_dir)
        for changed in {path for target in reachable for path in grant_traverse(target, self.user)}:
            print(f"note: gave {self.user.name} traverse (o+x) on {changed}")
        for directory in (
            self.config.state_dir,
            self.config.run_dir,
            self.config.log_dir,
            self.config.secrets_dir,
        ):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ensure_secrets(self.config.secrets_dir, *self.api.redis_names())
        self.user.own(self.config.state_dir)

    def up(self, timeout: float = 60) -> None:
        self.prepare()
        self._check_edge_ports_free()
        self.start_data_layer(timeout)
        self.start("api", timeout)
        self.start("proxy", timeout)

    def start_data_layer(self, timeout: float = 60) -> None:
        """db (first start plays the init scripts), redis, then the migrate
        step, only once the db answers over TCP (compose: service_healthy)."""
        self.start("db", timeout)
        self.start("redis", timeout)
        self.api.migrate()

    def freeze(self, name: str, frozen: bool) -> None:
        """SIGSTOP/SIGCONT (compose pause/unpause): connections hang, not fail."""
        pid = self.service(name).pid()
        if pid is None:
            raise StartError(f"{name} is not running")
        os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def kill(self, name: str) -> None:
        """SIGKILL the service's main process: a crash, not a stop."""
        pid = self.api.server_pid() if name == "api" else self.service(name).pid()
        if pid is None:
            raise StartError(f"{name} is not running")
        os.kill(pid, signal.SIGKILL)

    def start(self, name: str, timeout: float = 60) -> None:
        service = self.service(name)
        # Prepared once per state directory (compose's one-shot `secrets`
        # runs once per up), not again for each service: prepare() chowns
        # the whole state directory, database files included.
        if not self._prepared():
            self.prepare()
        service.start()
        service.wait_ready(timeout)

    def _prepared(self) -> bool:
        return all((self.config.secrets_dir / name).exists() for name in PASSWORD_FILES)

    def stop(self, name: str) -> None:
        self.service(name).stop()

    def down(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def clean(self) -> None:
        self.down()
        shutil.rmtree(self.config.state_dir, ignore_errors=True)

    def status(self) -> list[tuple[str, str, str]]:
        rows = []
        for name, service in self.services.items():
            pid = service.pid()
            state = "stopped" if pid is None else ("healthy" if service.ready() else "starting")
            rows.append((name, state, str(pid or "-")))
        return rows

    def _check_edge_ports_free(self) -> None:
        if self.proxy.running():
            return
        busy = [port for port in (EDGE_PAGE_PORT, EDGE_API_PORT) if port_open(port)]
        if busy:
            raise StartError(f"port(s) {busy} already in use: stop what listens there (docker compose down?)")

    def logs(self, name: str | None) -> list[Path]:
        names = [name] if name else list(self.services)
        return [self.config.log_file(n) for n in names if self.config.log_file(n).exists()]
