"""The FastAPI app: GET / (students + views), /healthz, /readyz, /openapi.json.

Run with ``uvicorn app.main:create_app --factory``: nothing connects at import.
"""

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from app.counter import ViewCounter
from app.db import DatabaseUnavailable, StudentStore
from app.middleware import RETRY_AFTER_SECONDS, CatchUnexpected, InFlightLimit, RejectControlCharacters
from app.settings import Settings, get_settings


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


def html_encoded(row: dict[str, Any]) -> dict[str, Any]:
    """The row's text fields HTML-encoded, in place.

    The page writes them with innerHTML, which decodes the entities: text
    shows as written ("O'Brien", "R&D"), and markup shows as text instead of
    becoming elements (a stored <meta http-equiv=refresh> would redirect every
    visitor, and no CSP directive governs it).
    """
    for key, value in row.items():
        if isinstance(value, str):
            row[key] = html.escape(value, quote=True)
    return row


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = StudentStore(settings)
        counter = ViewCounter.from_settings(settings)
        await store.open()  # does not wait for the database
        app.state.store, app.state.counter = store, counter
        try:
            yield
        finally:
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
    # The last added runs first: CatchUnexpected sees every exception, and the
    # limit's 503 still carries the CORS headers the page needs to read it.
    app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET"],
        allow_credentials=False,
    )
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(CatchUnexpected)

    # HEAD wherever GET (RFC 9110 9.1): FastAPI's routes do not add it.
    @app.api_route("/", methods=["GET", "HEAD"], summary="Students with the global view counter")
    async def list_students(request: Request, store: Store, counter: Counter) -> Any:
        """Every student, each with `views`: how many student lists have been
        served, this one included (absent while Redis is unavailable). A 503
        is not counted, so a value is served once and values only go up. HEAD
        reads the students (its status is GET's) but serves and counts nothing."""
        try:
            students = await store.fetch_students()
        except DatabaseUnavailable as exc:
            # Logged once by the breaker when the database goes down, not per request.
            return _unavailable(exc.detail)
        # Counted only once the list is in hand, never undone: an undo would
        # hand the same value out again after concurrent requests took higher ones.
        views = await counter.increment() if request.method == "GET" else None
        for student in students:
            html_encoded(student)
            if views is not None:  # an omitted key is what the page shows as "N/A (Cache HS)"
                student["views"] = views
        # Serialised once by orjson: the rows are plain dicts, nothing to validate.
        return Response(orjson.dumps(students), media_type="application/json")

    @app.api_route("/healthz", methods=["GET", "HEAD"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route(
        "/readyz", methods=["GET", "HEAD"], summary="Readiness: the database answers; Redis is reported"
    )
    async def readyz(store: Store, counter: Counter) -> Any:
        database_up, redis_up = await asyncio.gather(store.ping(), counter.ping())
        body = {
            "status": "ok" if database_up else "unavailable",
            "database": "up" if database_up else "down",
            "redis": "up" if redis_up else "down",
        }
        return body if database_up else JSONResponse(status_code=503, content=body)

    return app
