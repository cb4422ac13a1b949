"""The four long-running services, each as its container runs it: PostgreSQL
(native/postgres.py), Redis with redis/redis.conf, the API under a supervisor
(its restart policy), the edge with nginx/ rendered as the image does. Each
has a process found by its pid file, a log, and a readiness probe: the
compose healthcheck's command."""

import hashlib
import json
import subprocess
from pathlib import Path

from app.init_secrets import REDIS_ACL, REDIS_HEALTHCHECK_SECRET
from app.settings import REDIS_HEALTHCHECK_USER
from native import edge, postgres, process
from native.application import PYTHON, api_environment
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, NativeConfig, port_open
from native.privileges import RunAs


class Service:
    name = ""

    def __init__(self, config: NativeConfig, user: RunAs) -> None:
        self.config = config
        self.user = user
        self.log_file = config.log_file(self.name)
        self.pid_file = config.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        return process.read_pid(self.pid_file)

    def main_pid(self) -> int | None:
        """The process a crash kills (`make kill`): the container's PID 1's child."""
        return self.pid()

    def running(self) -> bool:
        return self.pid() is not None

    def ready(self) -> bool:
        raise NotImplementedError

    def started_from(self) -> str:
        """What the process starts from beyond the code (recorded in its pid
        file): when it changes, start() restarts it, as compose recreates a
        container whose configuration changed. Empty: nothing."""
        return ""

    def _fingerprint(self) -> str:
        return hashlib.sha256(self.started_from().encode()).hexdigest()

    def start(self) -> None:
        if self.started_from() and self.running() and self._fingerprint() not in self.pid_file.read_text():
            self.stop()
        if not self.running():
            self.launch()

    def launch(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        process.terminate(self.pid_file)

    def wait_ready(self, timeout: float = 30) -> None:
        if not process.wait_until(lambda: self.running() and self.ready(), timeout, interval=0.2):
            raise process.StackError(f"{self.name} not ready after {timeout:.0f}s: see {self.log_file}")

    def spawn(self, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        """Start the service's process in its own session, logging to its log file."""
        with open(self.log_file, "ab") as log:
            self.user.own(self.log_file)
            child = subprocess.Popen(
                cmd,
                env=process.environment(env),
                cwd=cwd or self.config.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.user.popen_kwargs(),
            )
        self.pid_file.write_text(f"{child.pid} {self._fingerprint()}\n")

    def answers_http(self, *where: str) -> bool:
        """GET /healthz answers 200 (curl, as the compose healthchecks)."""
        curl = [process.program("curl"), "-fsS", "-o", "/dev/null", "--max-time", "2", *where]
        return process.probe(curl, self.user) is not None


class Postgres(Service):
    name = "db"

    def __init__(self, config: NativeConfig, user: RunAs) -> None:
        super().__init__(config, user)
        self.pid_file = config.pgdata / "postmaster.pid"

    def launch(self) -> None:
        if not (self.config.pgdata / "PG_VERSION").exists():  # the image's test
            postgres.first_start(self.config, self.user)
        # After a crash (SIGKILL) the lock files name a dead postmaster, or a
        # zombie not yet reaped, which PostgreSQL would take for a live one.
        socket_lock = self.config.run_dir / f".s.PGSQL.{self.config.db_port}.lock"
        for lock in (self.pid_file, socket_lock):
            lock.unlink(missing_ok=True)
        postgres.pg_ctl(self.config, self.user, "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.running():
            postgres.pg_ctl(self.config, self.user, "-m", "fast", "-w", "stop")

    def ready(self) -> bool:
        return postgres.accepts_tcp(self.config, self.user)


class Redis(Service):
    name = "redis"

    def started_from(self) -> str:
        # The ACL file, read at start only (rewritten when REDIS_USER,
        # COUNTER_KEY or a password changes).
        return (self.config.secrets_dir / REDIS_ACL).read_text()

    def launch(self) -> None:
        self.config.redis_dir.mkdir(mode=0o700, exist_ok=True)
        self.user.own(self.config.redis_dir)
        conf, acl = REPO_ROOT / "redis" / "redis.conf", self.config.secrets_dir / REDIS_ACL
        server = [process.program("redis-server"), str(conf), "--port", str(self.config.redis_port)]
        server += ["--bind", "127.0.0.1", "--aclfile", str(acl), "--daemonize", "no", "--logfile", ""]
        self.spawn(server, cwd=self.config.redis_dir)

    def ready(self) -> bool:
        # As the compose healthcheck: the PING-only user, password from the environment.
        auth = {"REDISCLI_AUTH": (self.config.secrets_dir / REDIS_HEALTHCHECK_SECRET).read_text().strip()}
        options = ["-p", str(self.config.redis_port), "--user", REDIS_HEALTHCHECK_USER]
        answer = process.probe([process.program("redis-cli"), *options, "ping"], self.user, env=auth)
        return answer is not None and answer.strip() == "PONG"


class Api(Service):
    name = "api"

    def started_from(self) -> str:
        return json.dumps(api_environment(self.config), sort_keys=True)

    def launch(self) -> None:
        # Supervised: restarted when it dies, like the container's restart policy.
        serve = [str(PYTHON), "-m", "native.supervise", "--", str(PYTHON), "-m", "app.serve"]
        self.spawn(serve, env=api_environment(self.config))

    def main_pid(self) -> int | None:
        """The server, the supervisor's child (the container's PID 1 is docker-init)."""
        supervisor = self.pid()
        tree = [] if supervisor is None else process.process_tree(supervisor)
        return tree[1] if len(tree) > 1 else None

    def ready(self) -> bool:
        return self.answers_http("--unix-socket", str(self.config.api_socket), "http://localhost/healthz")


class Proxy(Service):
    name = "proxy"

    def launch(self) -> None:
        conf = edge.write_native_config(self.config)
        self.user.own(self.config.nginx_dir)
        nginx = [process.program("nginx"), "-p", str(self.config.nginx_dir), "-c", str(conf)]
        nginx += ["-e", str(self.log_file)]
        process.run([*nginx, "-t", "-q"], self.user)
        self.spawn([*nginx, "-g", "daemon off;"])

    def ready(self) -> bool:
        return self.answers_http(f"http://127.0.0.1:{EDGE_PAGE_PORT}/healthz") and port_open(EDGE_API_PORT)


# Compose's long-running services, in start order (its depends_on): the one
# definition of their names (the Makefile's SERVICES is checked against it).
SERVICES: dict[str, type[Service]] = {kind.name: kind for kind in (Postgres, Redis, Api, Proxy)}
