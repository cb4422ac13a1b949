"""The PostgreSQL pool's lifecycle and the students query."""

import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.breaker import Breaker, BreakerOpen
from app.settings import Settings

# How long a retry after a dead connection waits for another one: only an
# idle connection will do, a new one would take a connect.
IDLE_ONLY_S = 0.01
STUDENTS_QUERY = "SELECT id, nom, promo FROM students ORDER BY id"
# A failed connection attempt is retried with a doubling delay (1 s, 2 s, 4 s…)
# until this timeout, then dropped; the next request starts a fresh attempt at
# once. Without the cap, a long outage would leave a 30 s+ wait between
# attempts, and the API would come back that long after the database.
RECONNECT_TIMEOUT_S = 3.0
# With connections out and no query completed for this long (or the acquire
# timeout, if longer), a PoolTimeout means a stuck database, not a busy pool.
STALL_S = 1.0


class DatabaseUnavailable(Exception):
    """The database cannot answer now; the caller should answer 503."""

    detail = "database unavailable"


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection is taken by queries that do complete: the
    database is up, only this request answers 503."""

    detail = "database busy"


class _PoolSaturated(Exception):
    """Raised inside the breaker: not one of its failures, so it stays closed."""


def conninfo(settings: Settings, *, owner: bool = False) -> str:
    """The API's role by default (SELECT on students only); the database's
    owner (POSTGRES_USER) for the migrate step alone."""
    if owner:
        user, secret, application = settings.postgres_user, settings.postgres_password, "migrate"
    else:
        user, secret, application = settings.postgres_api_user, settings.postgres_api_password, "api"
    return make_conninfo(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=user,
        password=secret.get_secret_value() if secret else None,
        connect_timeout=settings.db_connect_timeout,
        application_name=f"student-dashboard-{application}",
        options=f"-c statement_timeout={settings.db_statement_timeout_ms}",
    )


class StudentStore:
    """Reads students through a pool that connects in the background.

    The pool is opened without waiting, so the API starts while the database
    is still down, and it replaces broken connections by itself. While the
    database is down, requests fail fast (503) instead of each waiting for a
    connection; one request per back-off period probes it (app.breaker).
    A saturated pool is not a dead database: it answers 503 to the request
    that waited in vain, and leaves the breaker closed.
    """

    def __init__(self, settings: Settings) -> None:
        self._acquire_timeout = settings.db_acquire_timeout
        self._max_size = settings.db_pool_max_size
        # When a query last completed (time.monotonic()): tells a saturated
        # pool from a database that no longer answers.
        self._last_answer = 0.0
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
        except _PoolSaturated as exc:
            raise DatabaseBusy("every database connection is busy") from exc

    def _saturated(self) -> bool:
        """Connections are out and queries keep completing: overload, not an
        outage (a dead database leaves no connection, a frozen one completes
        no query)."""
        stats = self._pool.get_stats()
        connections_out = stats["pool_size"] - stats["pool_available"]
        stalled_for = time.monotonic() - self._last_answer
        return connections_out > 0 and stalled_for < max(self._acquire_timeout, STALL_S)

    async def _query(self, query: str) -> list[dict[str, Any]]:
        try:
            return await self._query_once(query, self._acquire_timeout)
        except (psycopg.OperationalError, psycopg.InterfaceError) as failed:
            # After a database restart every idle pooled connection is dead
            # and fails at once on use (the pool then drops it). Try the other
            # idle ones now, without waiting for a new one: otherwise each
            # would fail a later request and trip the breaker again long after
            # the database is back. (Checking each connection before use would
            # cost GET / about 16 % of its throughput, measured.)
            for _ in range(self._max_size):
                try:
                    return await self._query_once(query, wait_s=IDLE_ONLY_S)
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    continue  # another dead one, now dropped
                except (DatabaseUnavailable, _PoolSaturated):
                    break  # no idle connection left to try
            raise DatabaseUnavailable("database connection failed") from failed

    async def _query_once(self, query: str, wait_s: float) -> list[dict[str, Any]]:
        try:
            async with self._pool.connection(timeout=wait_s) as conn:
                cursor = await conn.execute(query)
                rows: list[dict[str, Any]] = await cursor.fetchall()  # type: ignore[assignment]
                self._last_answer = time.monotonic()
                return rows
        except PoolTimeout as exc:
            if self._saturated():
                raise _PoolSaturated from exc
            raise DatabaseUnavailable("no database connection available") from exc
        except psycopg.errors.UndefinedTable as exc:
            # The schema is not migrated yet: a transient state, not a bug here.
            raise DatabaseUnavailable("database schema not ready") from exc
