"""The FastAPI app: GET / (students + views), /healthz, /readyz, /openapi.json.

Run with ``uvicorn app.main:create_app --factory``: nothing connects at import.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from app.counter import ViewCounter
from app.db import DatabaseUnavailable, StudentStore
from app.metrics import DB_POOL, RequestRecorder
from app.middleware import RETRY_AFTER_SECONDS, CatchUnexpected, InFlightLimit, RejectControlCharacters
from app.settings import STUDENTS_PAGE_MAX, Settings, get_settings


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": detail},
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


# async: FastAPI would run a plain def dependency in its thread pool, per request.
async def get_store(request: Request) -> StudentStore:
    store: StudentStore = request.app.state.store
    return store


async def get_counter(request: Request) -> ViewCounter:
    counter: ViewCounter = request.app.state.counter
    return counter


Store = Annotated[StudentStore, Depends(get_store)]
Counter = Annotated[ViewCounter, Depends(get_counter)]


class StudentOut(BaseModel):
    """One student as GET / serves it (documentation: the answer is encoded
    without this model). Text fields are HTML-encoded for the page's innerHTML."""

    id: int
    nom: str
    promo: str
    views: int | None = Field(default=None, description="omitted (not null) while the counter is unavailable")


LINK_HEADER = {
    "description": 'the next page, when there is one: </?after=ID&limit=N>; rel="next" (RFC 8288)',
    "schema": {"type": "string"},
}
POOL_REPORT_S = 5.0
REQUEST_ID_HEADER = "X-Request-ID"
# The range of the students' SERIAL ids.
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1


def next_link(after: int, limit: int) -> str:
    return f'</?after={after}&limit={limit}>; rel="next"'


async def report_pool(store: StudentStore) -> None:
    """The pool's connections in the metrics, every few seconds (a scrape
    reaches no worker)."""
    while True:
        for state, count in store.pool_stats().items():
            DB_POOL.labels(state).set(count)
        await asyncio.sleep(POOL_REPORT_S)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = StudentStore(settings)
        counter = ViewCounter.from_settings(settings)
        await store.open()  # does not wait for the database
        app.state.store, app.state.counter = store, counter
        reporting = asyncio.create_task(report_pool(store))
        try:
            yield
        finally:
            reporting.cancel()
            await counter.close()
            await store.close()

    app = FastAPI(
        title="Student dashboard API",
        version="1.0.0",
        lifespan=lifespan,
        # Swagger UI and ReDoc cannot run under the API's CSP (default-src
        # 'none'); the OpenAPI document itself is served.
        docs_url=None,
        redoc_url=None,
        # The slash redirect builds its Location from the Host header.
        redirect_slashes=False,
    )
    # The last added runs first: the request's id is known to every log line,
    # CatchUnexpected sees every exception, every answer is recorded, and the
    # limit's 503 still carries the CORS headers the page needs to read it.
    app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET"],
        allow_credentials=False,
        # The next page's address, for a script on the page's origin.
        expose_headers=["Link"],
    )
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(RequestRecorder)
    app.add_middleware(CatchUnexpected)
    # The edge's X-Request-ID, checked there (no second check here).
    app.add_middleware(CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=None)

    # HEAD wherever GET (RFC 9110 9.1): FastAPI's routes do not add it. One
    # route per method, so that each operation has an id of its own.
    students_route: dict[str, Any] = {
        "summary": "Students with the global view counter, one page at a time",
        "response_model": None,
        "responses": {200: {"model": list[StudentOut], "headers": {"Link": LINK_HEADER}}},
    }

    @app.get("/", **students_route)
    @app.head("/", **students_route)
    async def list_students(
        request: Request,
        store: Store,
        counter: Counter,
        after: Annotated[
            int | None, Query(ge=INT4_MIN, le=INT4_MAX, description="the last id of the previous page")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=STUDENTS_PAGE_MAX)] = settings.students_page_size,
    ) -> Response:
        """Students in id order, `limit` at a time: without parameters, the
        first page, which is what the dashboard shows. Each has `views`: how
        many student lists have been served, this one included (absent while
        Redis is unavailable). A 503 is not counted, so a value is served once
        and values only go up. HEAD reads the page (its status is GET's) but
        counts no view."""
        try:
            page = await store.fetch_page(after, limit)
        except DatabaseUnavailable as exc:
            # Logged once by the breaker when the database goes down, not per request.
            return _unavailable(exc.detail)
        # Counted only once the list is in hand, never undone: an undo would
        # hand the same value out again after concurrent requests took higher ones.
        views = await counter.increment() if request.method == "GET" else None
        # Relative (RFC 8288): nothing taken from the Host header.
        headers = {} if page.next_after is None else {"Link": next_link(page.next_after, limit)}
        return Response(page.body(views), media_type="application/json", headers=headers)

    @app.get("/healthz", summary="Liveness: the process answers")
    @app.head("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    readiness = "Readiness: the database answers the students query; Redis is reported"

    @app.get("/readyz", summary=readiness)
    @app.head("/readyz", summary=readiness)
    async def readyz(store: Store, counter: Counter) -> Any:
        database_up, redis_up = await asyncio.gather(store.ping(), counter.ping())
        body = {
            "status": "ok" if database_up else "unavailable",
            "database": "up" if database_up else "down",
            "redis": "up" if redis_up else "down",
        }
        return body if database_up else JSONResponse(status_code=503, content=body)

    return app
