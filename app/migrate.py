"""The migration step: play every SQL script, in name order, on the database,
then (re)create the API's own role.

The same scripts the postgres image plays from /docker-entrypoint-initdb.d on a
new volume; here they run at every start, so an existing volume (the POC's,
with v001 only) is brought up to date. The scripts are idempotent, and so is
the role's setup. Runs as the owner (POSTGRES_USER); the API never does.
"""

import logging
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from app import logs
from app.db import conninfo
from app.settings import Settings, get_settings

log = logging.getLogger("app.migrate")

# Serialises concurrent migrate runs (two `up` at once) on the same database.
MIGRATION_LOCK_ID = 2_024_001

# What the API's role may do, reset at every run (anything granted since is
# taken back): CONNECT, USAGE on public, SELECT on students. PUBLIC loses its
# default CONNECT and TEMPORARY on the database, and CREATE on public (the
# default before PostgreSQL 15), which the role would otherwise inherit.
# What initdb creates beside template0 (which takes no connection).
MAINTENANCE_DATABASES = ("postgres", "template1")
API_ROLE_PRIVILEGES = (
    "REVOKE ALL ON DATABASE {db} FROM PUBLIC, {role}",
    "GRANT CONNECT ON DATABASE {db} TO {role}",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    "REVOKE ALL ON SCHEMA public FROM {role}",
    "GRANT USAGE ON SCHEMA public TO {role}",
    "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
    "GRANT SELECT ON TABLE students TO {role}",
)


def migration_files(sql_dir: Path) -> list[Path]:
    """The scripts in the order the image's entrypoint plays them (sorted names)."""
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no *.sql file in {sql_dir}")
    return files


def connect_with_retry(settings: Settings) -> psycopg.Connection:
    deadline = time.monotonic() + settings.migrate_wait_seconds
    while True:
        try:
            return psycopg.connect(conninfo(settings, owner=True), autocommit=True)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("database not reachable yet (%s); retrying", str(exc).strip().splitlines()[0])
            time.sleep(1)


def ensure_api_role(conn: psycopg.Connection, settings: Settings, password: str) -> None:
    """Create the API's role if missing, and set its attributes, password and
    privileges to exactly what the API needs, in one transaction."""
    name = settings.postgres_api_user
    role = sql.Identifier(name)
    # The server only ever receives the SCRAM verifier (what `\password` does):
    # the password is in no statement, so in no server log.
    verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {}").format(role))
            log.info("created the API's role %s", name)
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS CONNECTION LIMIT {} PASSWORD {}"
            ).format(role, sql.Literal(settings.api_connection_limit), sql.Literal(verifier.decode()))
        )
        for statement in API_ROLE_PRIVILEGES:
            conn.execute(sql.SQL(statement).format(role=role, db=sql.Identifier(settings.postgres_db)))
        close_maintenance_databases(conn, settings, role)
    log.info("the API's role %s may read students, nothing else", name)


def close_maintenance_databases(conn: psycopg.Connection, settings: Settings, role: sql.Identifier) -> None:
    """PUBLIC may connect to every database by default, the maintenance
    `postgres` and template1 that initdb creates too: no one but the
    superusers needs them. Only on a server this owner administers (the
    image's superuser): a managed service's owner may not, and other
    applications' databases are not ours to close."""
    # Reported by the server at login, for the session's user.
    if conn.info.parameter_status("is_superuser") != "on":
        log.info("not a superuser: the maintenance databases keep their privileges")
        return
    maintenance = conn.execute(
        "SELECT datname FROM pg_database WHERE datname = ANY(%s) AND datname <> %s",
        (list(MAINTENANCE_DATABASES), settings.postgres_db),
    ).fetchall()
    for (name,) in maintenance:
        revoke = sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC, {}")
        conn.execute(revoke.format(sql.Identifier(name), role))


def report_notice(notice: psycopg.errors.Diagnostic) -> None:
    level = logging.WARNING if notice.severity_nonlocalized == "WARNING" else logging.INFO
    log.log(level, "%s", notice.message_primary)


def migrate(settings: Settings) -> list[str]:
    """Apply every script, then set up the API's role; returns the scripts'
    names in the order applied."""
    if settings.postgres_api_password is None:
        raise ValueError("POSTGRES_API_PASSWORD_FILE is not set: the API's role gets its password from it")
    applied = []
    with connect_with_retry(settings) as conn:
        # What a script reports (RAISE WARNING: rows it kept but could not
        # bring under a new rule) reaches the operator through this log.
        conn.add_notice_handler(report_notice)
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        for path in migration_files(settings.sql_dir):
            # No parameters: psycopg sends the script as one simple query, so
            # a script of several statements runs whole or not at all.
            conn.execute(path.read_text(encoding="utf-8"))
            log.info("applied %s", path.name)
            applied.append(path.name)
        ensure_api_role(conn, settings, settings.postgres_api_password.get_secret_value())
    return applied


def main() -> int:
    logs.configure()
    try:
        migrate(get_settings())
    except (psycopg.Error, OSError, ValueError) as exc:
        log.error("migration failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
