"""The API's PostgreSQL role and Redis user can do what the API does, and
nothing more; `default` is off; the healthcheck user can only PING.

On the product's own db and redis containers (the same scripts, redis.conf
and generated ACL as a user's stack).
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError
from redis.retry import Retry

from app.counter import ViewCounter
from app.db import FIRST_PAGE_QUERY, conninfo
from app.init_secrets import REDIS_ADMIN_SECRET, REDIS_HEALTHCHECK_SECRET
from app.main import create_app
from app.migrate import MAINTENANCE_DATABASES, migrate
from app.settings import REDIS_ADMIN_USER, REDIS_HEALTHCHECK_USER, Settings
from tests.conftest import REPO_ROOT
from tests.integration.backing import Backing
from tests.integration.conftest import backing, database_first_started_with, sql

# --- PostgreSQL -------------------------------------------------------------

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

# Each one a separate transaction, rolled back whatever happens.
DENIED_STATEMENTS = [
    "INSERT INTO students (nom, promo) VALUES ('Eve', 'M2')",
    "UPDATE students SET nom = 'Eve'",
    "DELETE FROM students",
    "TRUNCATE students",
    "DROP TABLE students",
    "ALTER TABLE students ADD COLUMN extra int",
    "CREATE TABLE intruder (id int)",
    "CREATE TEMP TABLE intruder (id int)",
    "CREATE SCHEMA intruder",
    "CREATE ROLE intruder",
    "SELECT * FROM utilisateur",
    "SELECT nextval('students_id_seq')",
    "SET ROLE dashboard",
]


def as_api(settings: Settings, statement: str) -> list[tuple[object, ...]]:
    """One statement as the API's role, in a transaction that is rolled back."""
    with psycopg.connect(conninfo(settings)) as conn:
        try:
            cursor = conn.execute(statement)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []
        finally:
            conn.rollback()


def plain_login_role(settings: Settings) -> list[tuple[object, ...]]:
    """Not superuser, no CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS; login, bounded connections."""
    return [(False, False, False, False, False, True, settings.api_connection_limit)]


def role_attributes(settings: Settings) -> list[tuple[object, ...]]:
    return sql(
        settings,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin,"
        " rolconnlimit FROM pg_roles WHERE rolname = %s",
        (settings.postgres_api_user,),
    )


def privileges(settings: Settings) -> dict[str, object]:
    """Everything the API's role may do in the database, as the owner sees it."""
    role = settings.postgres_api_user
    tables = sql(
        settings,
        "SELECT c.relname, p.privilege FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " CROSS JOIN unnest(%s::text[]) AS p(privilege)"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " AND has_table_privilege(%s, c.oid, p.privilege) ORDER BY 1, 2",
        (list(TABLE_PRIVILEGES), role),
    )
    sequences = sql(
        settings,
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'S'"
        " AND (has_sequence_privilege(%s, c.oid, 'USAGE') OR has_sequence_privilege(%s, c.oid, 'UPDATE'))",
        (role, role),
    )
    (database,) = sql(
        settings,
        "SELECT has_database_privilege(%s, current_database(), 'CONNECT'),"
        " has_database_privilege(%s, current_database(), 'CREATE'),"
        " has_database_privilege(%s, current_database(), 'TEMPORARY'),"
        " has_schema_privilege(%s, 'public', 'USAGE'), has_schema_privilege(%s, 'public', 'CREATE')",
        (role,) * 5,
    )
    memberships = sql(
        settings,
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
        (role,),
    )
    return {"tables": tables, "sequences": sequences, "database": database, "memberships": memberships}


LEAST = {
    "tables": [("students", "SELECT")],
    "sequences": [],
    # CONNECT, no CREATE, no TEMPORARY; USAGE on public, no CREATE.
    "database": (True, False, False, True, False),
    "memberships": [(0,)],
}


def test_the_api_connects_as_its_own_role(client: TestClient, settings: Settings) -> None:
    assert client.get("/").status_code == 200
    application = conninfo_to_dict(conninfo(settings))["application_name"]
    users = sql(
        settings,
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = %s",
        (application,),
    )
    assert users == [(settings.postgres_api_user,)]


def test_the_api_role_is_a_plain_login_role(stack: Backing, settings: Settings) -> None:
    assert role_attributes(settings) == plain_login_role(settings)
    assert as_api(settings, "SELECT current_user") == [(settings.postgres_api_user,)]


def test_the_api_role_reads_students_and_nothing_else(stack: Backing, settings: Settings) -> None:
    every_student = FIRST_PAGE_QUERY.replace("%s", "ALL")
    assert as_api(settings, every_student) == sql(settings, every_student)
    assert as_api(settings, "SELECT 1") == [(1,)]
    assert privileges(settings) == LEAST


def may_connect(settings: Settings, database: str) -> bool:
    ((allowed,),) = sql(
        settings, "SELECT has_database_privilege(%s, %s, 'CONNECT')", (settings.postgres_api_user, database)
    )
    return bool(allowed)


def test_the_api_role_cannot_connect_to_maintenance_databases(stack: Backing, settings: Settings) -> None:
    # PUBLIC may connect to every new database, postgres and template1 too,
    # unless taken back.
    for database in MAINTENANCE_DATABASES:
        assert not may_connect(settings, database), database
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(conninfo(settings), dbname=database).close()
    assert may_connect(settings, settings.postgres_db)


def test_migrate_leaves_other_applications_databases_alone(stack: Backing, settings: Settings) -> None:
    sql(settings, "CREATE DATABASE another_application")
    try:
        migrate(settings)
        assert may_connect(settings, "another_application")  # PUBLIC's, as PostgreSQL made it
    finally:
        sql(settings, "DROP DATABASE another_application")


@pytest.mark.parametrize("statement", DENIED_STATEMENTS)
def test_the_api_role_can_change_nothing(stack: Backing, settings: Settings, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_api(settings, statement)


def test_migrate_is_idempotent_and_takes_back_what_was_added(stack: Backing, settings: Settings) -> None:
    names = {
        "role": pgsql.Identifier(settings.postgres_api_user),
        "db": pgsql.Identifier(settings.postgres_db),
    }
    for statement in (
        "GRANT INSERT, DELETE ON students TO {role}",
        "GRANT SELECT ON utilisateur TO {role}",
        "GRANT CREATE ON SCHEMA public TO {role}",
        "GRANT CREATE, TEMPORARY ON DATABASE {db} TO {role}",
        "ALTER ROLE {role} CREATEDB CONNECTION LIMIT -1 PASSWORD 'not-the-file-one'",
    ):
        sql(settings, pgsql.SQL(statement).format(**names).as_string())
    with pytest.raises(psycopg.OperationalError):
        as_api(settings, "SELECT 1")  # password changed behind the file's back

    migrate(settings)
    migrate(settings)

    assert privileges(settings) == LEAST
    assert role_attributes(settings) == plain_login_role(settings)
    assert as_api(settings, "SELECT 1") == [(1,)]  # the file's password again


def test_a_poc_volume_gets_the_api_role_and_the_password_never_travels(tmp_path: Path) -> None:
    with database_first_started_with(tmp_path, "migration-v001.sql") as poc:
        settings = poc.settings(sql_dir=REPO_ROOT / "sqlfiles")
        sql(settings, "INSERT INTO utilisateur (nom, prenom) VALUES ('Durand', 'Alice')")
        assert role_attributes(settings) == []
        # Every statement of the migrate step lands in the server's log.
        log_all = pgsql.SQL("ALTER DATABASE {} SET log_statement = 'all'")
        sql(settings, log_all.format(pgsql.Identifier(settings.postgres_db)).as_string())

        migrate(settings)

        assert privileges(settings) == LEAST
        with TestClient(create_app(settings)) as client:
            assert len(client.get("/").json()) == 10
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_api(settings, "SELECT * FROM utilisateur")
        assert settings.postgres_api_password is not None
        password = settings.postgres_api_password.get_secret_value()
        server_log = poc.compose("logs", "db").stdout
        assert "ALTER ROLE" in server_log and password not in server_log
        role = (settings.postgres_api_user,)
        stored = sql(settings, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", role)
        assert str(stored[0][0]).startswith("SCRAM-SHA-256$")


def test_migrate_says_which_file_it_needs(stack: Backing, settings: Settings) -> None:
    with pytest.raises(ValueError, match="POSTGRES_API_PASSWORD_FILE"):
        migrate(stack.settings(postgres_api_password_file=None))


# --- Redis ------------------------------------------------------------------

# Commands the API never sends, each refused to its user. None of them may
# harm the session's Redis if they were allowed (no SHUTDOWN, no DEBUG).
API_USER_DENIED = [
    ("FLUSHALL",),
    ("CONFIG", "GET", "*"),
    ("KEYS", "*"),
    ("GET", "some:other:key"),
    ("SET", "some:other:key", "1"),
    ("INCRBY", "some:other:key", "1"),  # an allowed command, another key
    ("GET", "{counter}"),
    ("SET", "{counter}", "0"),
    ("DEL", "{counter}"),
    ("DECR", "{counter}"),
    ("PUBLISH", "news", "hello"),
    ("ACL", "LIST"),
    ("CLIENT", "LIST"),
    ("INFO",),
]


def healthcheck_redis(settings: Settings, stack: Backing) -> Redis:
    password = (stack.secrets_dir / REDIS_HEALTHCHECK_SECRET).read_text().strip()
    return Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        username=REDIS_HEALTHCHECK_USER,
        password=password,
        socket_timeout=2,
    )


def test_the_operators_admin_user_can_repair_the_counter(
    redis_client: Redis, settings: Settings, stack: Backing
) -> None:
    password = (stack.secrets_dir / REDIS_ADMIN_SECRET).read_text().strip()
    admin = Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        username=REDIS_ADMIN_USER,
        password=password,
        socket_timeout=2,
    )
    with admin:
        repaired = int(admin.get(settings.counter_key) or 0) + 100
        assert admin.type(settings.counter_key) in (b"string", b"none")
        assert admin.set(settings.counter_key, repaired) is True
    assert redis_client.incr(settings.counter_key) == repaired + 1


def test_the_api_redis_user_counts_and_pings(redis_client: Redis, settings: Settings) -> None:
    first = redis_client.incr(settings.counter_key)
    assert redis_client.incr(settings.counter_key) == first + 1
    assert redis_client.ping() is True


@pytest.mark.parametrize("command", API_USER_DENIED, ids=lambda command: " ".join(command[:2]))
def test_the_api_redis_user_can_do_nothing_else(
    redis_client: Redis, settings: Settings, command: tuple[str, ...]
) -> None:
    args = [part.replace("{counter}", settings.counter_key) for part in command]
    with pytest.raises(NoPermissionError):
        redis_client.execute_command(*args)


def test_the_default_user_cannot_log_in(redis_client: Redis, settings: Settings) -> None:
    assert settings.redis_password is not None
    password = settings.redis_password.get_secret_value()
    # No retry: redis-py retries a refused login (a ConnectionError) by default.
    once = {"host": settings.redis_host, "port": settings.redis_port, "retry": Retry(NoBackoff(), 0)}
    for client in (Redis(**once, socket_timeout=2), Redis(**once, password=password, socket_timeout=2)):
        with client, pytest.raises(AuthenticationError):
            client.ping()


def test_the_healthcheck_user_can_only_ping(stack: Backing, settings: Settings) -> None:
    with healthcheck_redis(settings, stack) as client:
        assert client.ping() is True
        for command in (("INCR", settings.counter_key), ("GET", settings.counter_key), ("INFO",)):
            with pytest.raises(NoPermissionError):
                client.execute_command(*command)
    # Compose's healthcheck logs in as this user (healthy at its next check).
    deadline = time.monotonic() + 30
    while stack.state("redis") != "running/healthy":
        assert time.monotonic() < deadline, stack.state("redis")
        time.sleep(0.5)


@pytest.fixture
def audited() -> Iterator[tuple[Backing, Settings, Redis]]:
    """A stack of its own, whose ACL log of what the API sends (refusals
    included) the operator's admin user reads."""
    with backing() as own:
        settings = own.settings()
        password = (own.secrets_dir / REDIS_ADMIN_SECRET).read_text().strip()
        with Redis(port=own.redis_port, username=REDIS_ADMIN_USER, password=password) as admin:
            admin.acl_log_reset()
            yield own, settings, admin


def test_the_counter_logs_in_as_its_user_and_sends_nothing_else(
    audited: tuple[Backing, Settings, Redis],
) -> None:
    _, settings, admin = audited

    async def use_the_counter() -> tuple[int | None, bool, set[str]]:
        counter = ViewCounter.from_settings(settings.model_copy(update={"redis_timeout": 2.0}))
        try:
            views = await counter.increment()
            pong = await counter.ping()
            return views, pong, {client["user"] for client in admin.client_list()}
        finally:
            await counter.close()

    views, pong, users = asyncio.run(use_the_counter())
    assert (views, pong) == (1, True)
    # (Compose's healthcheck logs in now and then as its own user.)
    assert users - {REDIS_HEALTHCHECK_USER} == {REDIS_ADMIN_USER, settings.redis_user}
    # Nothing refused (redis-py's CLIENT SETINFO would be, from Redis 7.2 on).
    assert admin.acl_log() == []


def test_the_api_sends_redis_nothing_its_user_may_not(audited: tuple[Backing, Settings, Redis]) -> None:
    """Every path of the API that talks to Redis: a view, readiness, and a
    request the database cannot answer."""
    own, settings, admin = audited
    with TestClient(create_app(settings)) as client:
        assert client.get("/").json()[0]["views"] == 1
        assert client.get("/readyz").json()["redis"] == "up"
        own.stop("db")
        assert client.get("/").status_code == 503
    assert admin.acl_log() == []
