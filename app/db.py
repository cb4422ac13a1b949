"""The PostgreSQL pool's lifecycle and the students query."""

from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.breaker import Breaker, BreakerOpen
from app.settings import Settings

STUDENTS_QUERY = "SELECT id, nom, promo FROM students ORDER BY id"
# A failed connection attempt is retried with a doubling delay (1 s, 2 s, 4 s…)
# until this timeout, then dropped; the next request starts a fresh attempt at
# once. Without the cap, a long outage would leave a 30 s+ wait between
# attempts, and the API would come back that long after the database.
RECONNECT_TIMEOUT_S = 3.0


class DatabaseUnavailable(Exception):
    """The database cannot answer now; the caller should answer 503."""


def conninfo(settings: Settings) -> str:
    password = settings.postgres_password.get_secret_value() if settings.postgres_password else None
    return make_conninfo(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.postgres_user,
        password=password,
        connect_timeout=settings.db_connect_timeout,
        application_name="student-dashboard",
        options=f"-c statement_timeout={settings.db_statement_timeout_ms}",
    )


class StudentStore:
    """Reads students through a pool that connects in the background.

    The pool is opened without waiting, so the API starts while the database
    is still down, and it replaces broken connections by itself. While the
    database is down, requests fail fast (503) instead of each waiting for a
    connection; one request per back-off period probes it (app.breaker).
    """

    def __init__(self, settings: Settings) -> None:
        self._acquire_timeout = settings.db_acquire_timeout
        self._breaker = Breaker("PostgreSQL", settings.db_backoff, "answering 503")
        self._pool = AsyncConnectionPool(
            conninfo(settings),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name="students",
        )

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    async def fetch_students(self) -> list[dict[str, Any]]:
        return await self._fetch_all(STUDENTS_QUERY)

    async def ping(self) -> bool:
        try:
            await self._fetch_all("SELECT 1 AS ok")
        except DatabaseUnavailable:
            return False
        return True

    async def _fetch_all(self, query: str) -> list[dict[str, Any]]:
        try:
            return await self._breaker.call(lambda: self._query(query), (DatabaseUnavailable,))
        except BreakerOpen as exc:
            raise DatabaseUnavailable("database down, waiting for it to come back") from exc

    async def _query(self, query: str) -> list[dict[str, Any]]:
        try:
            async with self._pool.connection(timeout=self._acquire_timeout) as conn:
                cursor = await conn.execute(query)
                return await cursor.fetchall()  # type: ignore[return-value]
        except PoolTimeout as exc:
            raise DatabaseUnavailable("no database connection available") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise DatabaseUnavailable("database connection failed") from exc
        except psycopg.errors.UndefinedTable as exc:
            # The schema is not migrated yet: a transient state, not a bug here.
            raise DatabaseUnavailable("database schema not ready") from exc
