"""The PostgreSQL pool's lifecycle and the students query."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.breaker import Breaker, BreakerOpen
from app.settings import Settings
from app.students import StudentsPage

# How long a retry after a dead connection waits for another one: only an
# idle connection will do, a new one would take a connect.
IDLE_ONLY_S = 0.01
# A page in id order (keyset: the primary key's index, whatever the table
# holds), one row more than asked to tell whether another page follows.
FIRST_PAGE_QUERY = "SELECT id, nom, promo FROM students ORDER BY id LIMIT %s"
NEXT_PAGE_QUERY = "SELECT id, nom, promo FROM students WHERE id > %s ORDER BY id LIMIT %s"
# The same columns and privileges, no row: planned and checked, nothing read.
READINESS_QUERY = "SELECT id, nom, promo FROM students LIMIT 0"
Rows = list[dict[str, Any]]
# A page: the id it starts after (None: the first), and how many rows.
PageKey = tuple[int | None, int]
T = TypeVar("T")
# A failed connection attempt is retried with a doubling delay (1 s, 2 s, 4 s…)
# until this timeout, then dropped; the next request starts a fresh attempt at
# once. Without the cap, a long outage would leave a 30 s+ wait between
# attempts, and the API would come back that long after the database.
RECONNECT_TIMEOUT_S = 3.0
# With connections out and no query completed for this long (or the acquire
# timeout, if longer), a PoolTimeout means a stuck database, not a busy pool.
STALL_S = 1.0
# A students read is joined while it is this young: one takes about a
# millisecond. An older one is stuck (a frozen database, or a pool waiting to
# reconnect after an outage): later requests read on their own, and may find
# a connection it could not.
JOIN_WINDOW_S = 0.05


class DatabaseUnavailable(Exception):
    """The database cannot answer now; the caller should answer 503."""

    detail = "database unavailable"


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection is taken by queries that do complete: the
    database is up, only this request answers 503."""

    detail = "database busy"


class _PoolSaturated(Exception):
    """Raised inside the breaker: not one of its failures, so it stays closed."""


class _DeadConnection(Exception):
    """The connection broke under the query (the database restarted): another
    pooled connection may still work."""


def described(error: psycopg.Error) -> str:
    """What the database said, for the one log line of an outage: the error's
    class and SQLSTATE, and the first line of its message."""
    message = str(error).strip().splitlines()
    code = f" {error.sqlstate}" if error.sqlstate else ""
    return f"{type(error).__name__}{code}: {message[0] if message else 'no detail'}"


def conninfo(settings: Settings, *, owner: bool = False, with_password: bool = True) -> str:
    """The API's role by default (SELECT on students only); the database's
    owner (POSTGRES_USER) for the migrate step alone."""
    if owner:
        user, secret, application = settings.postgres_user, "postgres_password", "migrate"
    else:
        user, secret, application = settings.postgres_api_user, "postgres_api_password", "api"
    return make_conninfo(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=user,
        password=settings.current(secret) if with_password else None,
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
        # The read in flight of each page, shared by the requests that
        # arrive meanwhile, and when it started.
        self._reading: dict[PageKey, tuple[asyncio.Future[StudentsPage], float]] = {}
        self._pool = AsyncConnectionPool(
            conninfo(settings, with_password=False),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            open=False,
            # Called at each new connection: the password file as it is now.
            kwargs=lambda: {
                "autocommit": True,
                "row_factory": dict_row,
                "password": settings.current("postgres_api_password"),
            },
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name="students",
        )

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    def pool_stats(self) -> dict[str, int]:
        """The pool's connections: its size, the available ones, the requests waiting."""
        stats = self._pool.get_stats()
        return {
            "size": stats["pool_size"],
            "available": stats["pool_available"],
            "waiting": stats["requests_waiting"],
        }

    async def fetch_page(self, after: int | None, limit: int) -> StudentsPage:
        """`limit` students in id order, from the first one or after the id `after`."""
        return await self._through_breaker(lambda: self._shared_read((after, limit)))

    async def ping(self) -> bool:
        """Ready when the database answers the students query's shape: a
        SELECT 1 would pass with the table unreadable, and readiness and
        GET / would each flip the breaker back and forth."""
        try:
            await self._through_breaker(lambda: self._query(READINESS_QUERY))
        except DatabaseUnavailable:
            return False
        return True

    async def _through_breaker(self, read: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self._breaker.call(read, (DatabaseUnavailable,))
        except BreakerOpen as exc:
            raise DatabaseUnavailable("database down, waiting for it to come back") from exc
        except _PoolSaturated as exc:
            raise DatabaseBusy("every database connection is busy") from exc

    async def _shared_read(self, page: PageKey) -> StudentsPage:
        """The read in flight of this page, or a new one: a request that
        arrives while a read runs shares its answer (one query, and one
        encoding, per burst of requests instead of one each), if it is young
        (JOIN_WINDOW_S). Each request waits at most the acquire timeout, as
        for a connection; a wait that runs out is overload (503, breaker
        closed) while queries keep completing, an outage otherwise."""
        entry, now = self._reading.get(page), time.monotonic()
        if entry is None or entry[0].done() or now - entry[1] > JOIN_WINDOW_S:
            entry = (asyncio.ensure_future(self._read(*page)), now)
            entry[0].add_done_callback(partial(self._forget, page))
            self._reading[page] = entry
        reading = entry[0]
        try:
            # Shielded: a request that goes away does not cancel the others' read.
            return await asyncio.wait_for(asyncio.shield(reading), self._acquire_timeout)
        except TimeoutError:
            # The read is in flight, slow: overload while queries complete.
            if self._answering():
                raise _PoolSaturated from None
            raise DatabaseUnavailable("the database does not answer") from None

    def _forget(self, page: PageKey, read: asyncio.Future[StudentsPage]) -> None:
        """A finished read is joined no more. Its failure is each waiter's: a
        read nobody waits for any more is not an error."""
        read.cancelled() or read.exception()
        entry = self._reading.get(page)
        if entry is not None and entry[0] is read:
            del self._reading[page]

    async def _read(self, after: int | None, limit: int) -> StudentsPage:
        if after is None:
            rows = await self._query(FIRST_PAGE_QUERY, (limit + 1,))
        else:
            rows = await self._query(NEXT_PAGE_QUERY, (after, limit + 1))
        return StudentsPage.encode(rows, limit)

    def _saturated(self) -> bool:
        """Connections are out and queries keep completing: overload, not an
        outage (a dead database leaves no connection, a frozen one completes
        no query)."""
        stats = self._pool.get_stats()
        return stats["pool_size"] > stats["pool_available"] and self._answering()

    def _answering(self) -> bool:
        """A query completed lately (a frozen database completes none)."""
        return time.monotonic() - self._last_answer < max(self._acquire_timeout, STALL_S)

    async def _query(self, query: str, params: tuple[int, ...] = ()) -> Rows:
        try:
            return await self._query_once(query, params, self._acquire_timeout)
        except _DeadConnection as failed:
            # After a database restart every idle pooled connection is dead
            # and fails at once on use (the pool then drops it). Try the other
            # idle ones now, without waiting for a new one: otherwise each
            # would fail a later request and trip the breaker again long after
            # the database is back. (Checking each connection before use
            # costs GET / a good part of its throughput.)
            for _ in range(self._max_size):
                try:
                    return await self._query_once(query, params, wait_s=IDLE_ONLY_S)
                except _DeadConnection:
                    continue  # another dead one, now dropped
                except (DatabaseUnavailable, _PoolSaturated):
                    break  # no idle connection left to try
            raise DatabaseUnavailable(f"database connection failed ({failed})") from failed

    async def _query_once(self, query: str, params: tuple[int, ...], wait_s: float) -> Rows:
        try:
            async with self._pool.connection(timeout=wait_s) as conn:
                try:
                    cursor = await conn.execute(query, params)
                    rows: Rows = await cursor.fetchall()  # type: ignore[assignment]
                except psycopg.Error as exc:
                    if conn.broken or isinstance(exc, psycopg.InterfaceError):
                        raise _DeadConnection(described(exc)) from exc
                    # The database answered, with an error instead of the rows:
                    # a schema not migrated yet or changed under the API (a
                    # table or column renamed, a grant lost in a restore), a
                    # statement timeout, a full disk. Nothing this request can
                    # fix: an outage (503, breaker open), not a bug (500).
                    raise DatabaseUnavailable(f"the query failed: {described(exc)}") from exc
                self._last_answer = time.monotonic()
                return rows
        except PoolTimeout as exc:
            if self._saturated():
                raise _PoolSaturated from exc
            raise DatabaseUnavailable("no database connection available") from exc
