"""PostgreSQL as the postgres image runs it: pg_ctl, and the first start of
an empty data directory (initdb, then every script of sqlfiles/ once, on a
server that listens on its socket only, like /docker-entrypoint-initdb.d)."""

from app.init_secrets import DB_SECRET
from native.config import NativeConfig
from native.privileges import RunAs
from native.process import postgres_program, probe, run


def psql_command(config: NativeConfig, database: str | None = None) -> list[str]:
    """psql as the owner, over the stack's socket (trusted locally, as in the image)."""
    socket, port, database = str(config.run_dir), str(config.db_port), database or config.db_name
    return [postgres_program("psql"), "-h", socket, "-p", port, "-U", config.db_user, "-d", database]


def pg_ctl(config: NativeConfig, user: RunAs, *args: str, listen: str = "127.0.0.1") -> None:
    options = (
        f"-c listen_addresses='{listen}' -p {config.db_port} -c unix_socket_directories='{config.run_dir}'"
    )
    log = str(config.log_file("db"))
    run([postgres_program("pg_ctl"), "-D", str(config.pgdata), "-l", log, "-o", options, *args], user)


def first_start(config: NativeConfig, user: RunAs) -> None:
    """The image's entrypoint on an empty data directory."""
    config.pgdata.mkdir(mode=0o700, exist_ok=True)
    user.own(config.pgdata)
    initdb = [postgres_program("initdb"), "-D", str(config.pgdata), "--username", config.db_user]
    initdb += ["--pwfile", str(config.secrets_dir / DB_SECRET), "--encoding", "UTF8", "--locale", "C.UTF-8"]
    run([*initdb, "--auth-local", "trust", "--auth-host", "scram-sha-256"], user)
    pg_ctl(config, user, "-w", "start", listen="")
    try:
        options = ["-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--no-password"]
        if config.db_name != "postgres":
            create = ["-c", f'CREATE DATABASE "{config.db_name}"']
            run([*psql_command(config, "postgres"), *options, *create], user)
        for script in sorted(config.sql_dir.glob("*.sql")):
            run([*psql_command(config), *options, "-f", str(script)], user)
    finally:
        pg_ctl(config, user, "-m", "fast", "-w", "stop", listen="")


def accepts_tcp(config: NativeConfig, user: RunAs) -> bool:
    """pg_isready over TCP, like the compose healthcheck: during the first
    start only the socket listens."""
    pg_isready = [postgres_program("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(config.db_port)]
    return probe([*pg_isready, "-U", config.db_user, "-d", config.db_name], user) is not None
