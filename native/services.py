"""The four long-running services, each as its container runs it: PostgreSQL
(native/postgres.py), Redis with redis/redis.conf, the API under a supervisor
(its restart policy), the edge with nginx/ rendered as the image does."""

from pathlib import Path

from app.init_secrets import REDIS_ACL, REDIS_HEALTHCHECK_SECRET
from app.settings import REDIS_HEALTHCHECK_USER
from native import edge, postgres
from native.application import PYTHON, api_environment
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT
from native.probes import http_ok, port_open
from native.process import child_pid, probe, run
from native.programs import program
from native.service import Service


class Postgres(Service):
    name = "db"

    @property
    def pid_file(self) -> Path:
        return self.config.pgdata / "postmaster.pid"

    def launch(self) -> None:
        if not postgres.initialised(self.config):
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

    def launch(self) -> None:
        self.config.redis_dir.mkdir(mode=0o700, exist_ok=True)
        self.user.own(self.config.redis_dir)
        conf, acl = REPO_ROOT / "redis" / "redis.conf", self.config.secrets_dir / REDIS_ACL
        server = [program("redis-server"), str(conf), "--port", str(self.config.redis_port)]
        server += ["--bind", "127.0.0.1", "--aclfile", str(acl), "--daemonize", "no", "--logfile", ""]
        self.spawn(server, cwd=self.config.redis_dir)

    def ready(self) -> bool:
        # As the compose healthcheck: the PING-only user, password from the environment.
        password = (self.config.secrets_dir / REDIS_HEALTHCHECK_SECRET).read_text().strip()
        ping = [program("redis-cli"), "-p", str(self.config.redis_port), "--user", REDIS_HEALTHCHECK_USER]
        answer = probe([*ping, "ping"], self.user, env={"REDISCLI_AUTH": password})
        return answer is not None and answer.strip() == "PONG"


class Api(Service):
    name = "api"

    def launch(self) -> None:
        # Supervised: restarted when it dies, like the container's restart policy.
        serve = [str(PYTHON), "-m", "native.supervise", "--", str(PYTHON), "-m", "app.serve"]
        self.spawn(serve, env=api_environment(self.config))

    def main_pid(self) -> int | None:
        """The server, the supervisor's child (the container's PID 1 is docker-init)."""
        supervisor = self.pid()
        return None if supervisor is None else child_pid(supervisor)

    def ready(self) -> bool:
        return http_ok("/healthz", unix_socket=self.config.api_socket)


class Proxy(Service):
    name = "proxy"

    def launch(self) -> None:
        conf = edge.write_native_config(self.config)
        self.user.own(self.config.nginx_dir)
        nginx = [program("nginx"), "-p", str(self.config.nginx_dir), "-c", str(conf)]
        nginx += ["-e", str(self.config.log_file(self.name))]
        run([*nginx, "-t", "-q"], self.user)
        self.spawn([*nginx, "-g", "daemon off;"])

    def ready(self) -> bool:
        return http_ok("/healthz", EDGE_PAGE_PORT) and port_open(EDGE_API_PORT)


# Compose's long-running services, in start order (its depends_on): the one
# definition of their names (the Makefile's SERVICES is checked against it).
SERVICES: dict[str, type[Service]] = {kind.name: kind for kind in (Postgres, Redis, Api, Proxy)}
