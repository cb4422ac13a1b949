"""The four long-running services of the native stack, and their first start.

Each mirrors its container: PostgreSQL initialises an empty data directory by
playing sqlfiles/ once, like the image's /docker-entrypoint-initdb.d; Redis
reads redis/redis.conf; the edge renders nginx/default.conf.template.
"""

import glob
import http.client
import os
import shutil
import socket
import urllib.request
from pathlib import Path

from app.init_secrets import REDIS_HEALTHCHECK_SECRET
from app.settings import REDIS_HEALTHCHECK_USER, Settings
from native import edge
from native.config import EDGE_API_PORT, EDGE_PAGE_PORT, REPO_ROOT, NativeConfig
from native.privileges import RunAs
from native.process import StartError, read_pid, run, spawn, terminate, wait_until

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
# The owner's credentials: the migrate step's only.
OWNER_ONLY = ("postgres_password", "postgres_password_file")


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program, from the newest installed major version."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major_version)
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found is None:
        raise StartError(f"{name} not found: install Debian's postgresql package")
    return found


def _major_version(path: str) -> int:
    return int(Path(path).parts[-3])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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

    def running(self) -> bool:
        return self.pid() is not None

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        terminate(self.pid_file)

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_until(lambda: self.running() and self.ready(), timeout, interval=0.2):
            raise StartError(
                f"{self.name} not ready after {timeout:.0f}s: see {self.config.log_file(self.name)}"
            )

    def _spawn(self, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        spawn(
            cmd,
            self.user,
            self.config.log_file(self.name),
            self.pid_file,
            env=env,
            cwd=cwd or self.config.state_dir,
        )


class Postgres(Service):
    name = "db"

    @property
    def pid_file(self) -> Path:
        return self.config.pgdata / "postmaster.pid"

    def _server_options(self, listen: str) -> str:
        return (
            f"-c listen_addresses='{listen}' -p {self.config.db_port}"
            f" -c unix_socket_directories='{self.config.run_dir}'"
        )

    def _pg_ctl(self, *args: str, listen: str = "127.0.0.1") -> None:
        run(
            [
                postgres_bin("pg_ctl"),
                "-D",
                str(self.config.pgdata),
                "-l",
                str(self.config.log_file(self.name)),
                "-o",
                self._server_options(listen),
                *args,
            ],
            self.user,
        )

    def initialised(self) -> bool:
        return self.config.pgdata.is_dir() and any(self.config.pgdata.iterdir())

    def init(self) -> None:
        """First start, as the image's entrypoint does it: initdb, then every
        script once, on a server that listens on its socket only."""
        self.config.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.user.own(self.config.pgdata)
        run(
            [
                postgres_bin("initdb"),
                "-D",
                str(self.config.pgdata),
                "--username",
                self.config.db_user,
                "--pwfile",
                str(self.config.secrets_dir / "db_password"),
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
            ],
            self.user,
        )
        self._pg_ctl("-w", "start", listen="")
        try:
            psql = [
                postgres_bin("psql"),
                "-v",
                "ON_ERROR_STOP=1",
                "--no-psqlrc",
                "--no-password",
                "-h",
                str(self.config.run_dir),
                "-p",
                str(self.config.db_port),
                "-U",
                self.config.db_user,
            ]
            if self.config.db_name != "postgres":
                run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{self.config.db_name}"'], self.user)
            for script in sorted(self.config.sql_dir.glob("*.sql")):
                run([*psql, "-d", self.config.db_name, "-f", str(script)], self.user)
        finally:
            self._pg_ctl("-m", "fast", "-w", "stop", listen="")

    def start(self) -> None:
        if self.running():
            return
        if not self.initialised():
            self.init()
        # After a crash (SIGKILL) the lock files name a dead postmaster, or a
        # zombie not yet reaped, which PostgreSQL would take for a live one.
        socket_lock = self.config.run_dir / f".s.PGSQL.{self.config.db_port}.lock"
        for lock in (self.pid_file, socket_lock):
            lock.unlink(missing_ok=True)
        self._pg_ctl("-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("-m", "fast", "-w", "stop")

    def ready(self) -> bool:
        # Over TCP, like the compose healthcheck: during init only the socket listens.
        try:
            run(
                [
                    postgres_bin("pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.config.db_port),
                    "-U",
                    self.config.db_user,
                    "-d",
                    self.config.db_name,
                ],
                self.user,
            )
        except StartError:
            return False
        return True


class Redis(Service):
    name = "redis"

    def start(self) -> None:
        if self.running():
            return
        self.config.redis_dir.mkdir(mode=0o700, exist_ok=True)
        self.user.own(self.config.redis_dir)
        self._spawn(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                str(REPO_ROOT / "redis" / "redis.conf"),
                "--port",
                str(self.config.redis_port),
                "--bind",
                "127.0.0.1",
                "--aclfile",
                str(self.config.secrets_dir / "redis-users.acl"),
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],
            cwd=self.config.redis_dir,
        )

    def ready(self) -> bool:
        # As the compose healthcheck: the PING-only user, password from the environment.
        password = (self.config.secrets_dir / REDIS_HEALTHCHECK_SECRET).read_text().strip()
        try:
            result = run(
                [
                    shutil.which("redis-cli") or "/usr/bin/redis-cli",
                    "-p",
                    str(self.config.redis_port),
                    "--user",
                    REDIS_HEALTHCHECK_USER,
                    "ping",
                ],
                self.user,
                env={"REDISCLI_AUTH": password},
            )
        except StartError:
            return False
        return result.stdout.strip() == "PONG"


class Api(Service):
    name = "api"

    def _environment(self, fixed: dict[str, str]) -> dict[str, str]:
        # The caller's overrides of the API's settings (e.g. from .env), then
        # what the native stack fixes: hosts, ports and secret files.
        overrides = {key: value for key, value in os.environ.items() if key.lower() in Settings.model_fields}
        return {**overrides, **fixed, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}

    def _api_environment(self) -> dict[str, str]:
        # The owner's password never reaches the API, even from the caller's environment.
        api = self._environment(self.config.app_environment())
        return {key: value for key, value in api.items() if key.lower() not in OWNER_ONLY}

    def redis_names(self) -> tuple[str, str]:
        """The API's Redis user and counter key, as the API will read them:
        its ACL is written from these, before the secret files exist."""
        values: dict[str, object] = {
            key.lower(): value
            for key, value in self._api_environment().items()
            if key.lower() in Settings.model_fields
        }
        values.update({name: None for name in Settings.model_fields if name.endswith("_file")})
        settings = Settings.model_validate(values)
        return settings.redis_user, settings.counter_key

    def migrate(self) -> None:
        """The one-shot migration step, at every start (compose's `migrate`)."""
        env = self._environment(self.config.migrate_environment())
        run([str(PYTHON), "-m", "app.migrate"], self.user, env=env, cwd=REPO_ROOT)

    def start(self) -> None:
        if self.running():
            return
        # Supervised: restarted when it dies, like the container's restart policy.
        serve = [str(PYTHON), "-m", "app.serve"]
        self._spawn([str(PYTHON), "-m", "native.supervise", "--", *serve], env=self._api_environment())

    def server_pid(self) -> int | None:
        """The API server itself (the supervisor's child)."""
        supervisor = self.pid()
        return None if supervisor is None else child_pid(supervisor)

    def ready(self) -> bool:
        return _unix_http_ok(self.config.api_socket, "/healthz")


class Proxy(Service):
    name = "proxy"

    def start(self) -> None:
        if self.running():
            return
        conf = edge.write_native_config(self.config)
        self.user.own(self.config.nginx_dir)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        base = [
            nginx,
            "-p",
            str(self.config.nginx_dir),
            "-c",
            str(conf),
            "-e",
            str(self.config.log_file(self.name)),
        ]
        run([*base, "-t", "-q"], self.user)
        self._spawn([*base, "-g", "daemon off;"])

    def ready(self) -> bool:
        return _http_ok(f"http://127.0.0.1:{EDGE_PAGE_PORT}/healthz") and port_open(EDGE_API_PORT)


def child_pid(parent: int) -> int | None:
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the standard library speaks only TCP)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=2)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def _unix_http_ok(path: Path, target: str) -> bool:
    connection = _UnixHTTPConnection(path)
    try:
        connection.request("GET", target)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
