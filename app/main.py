"""The FastAPI app: GET / (students + views), /healthz, /readyz.

Run with ``uvicorn app.main:create_app --factory``: nothing connects at import.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from app.counter import ViewCounter
from app.db import DatabaseUnavailable, StudentStore
from app.settings import Settings, get_settings

RETRY_AFTER_SECONDS = "2"  # the page polls every 2 s


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

    app = FastAPI(title="Student dashboard API", version="1.0.0", lifespan=lifespan)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET"],
        allow_credentials=False,
    )

    @app.get("/", summary="Students with the global view counter")
    async def list_students(store: Store, counter: Counter) -> Any:
        # The INCR runs while the query does: the slower one sets the latency.
        increment = asyncio.ensure_future(counter.increment())
        try:
            students = await store.fetch_students()
        except DatabaseUnavailable:
            # Logged once by the breaker when the database goes down, not per request.
            if await increment is not None:
                await counter.decrement()  # this view was not served
            return _unavailable("database unavailable")
        except BaseException:
            increment.cancel()
            raise
        views = await increment
        if views is not None:
            # An omitted key is what the page shows as "N/A (Cache HS)".
            for student in students:
                student["views"] = views
        # Serialised once by orjson: the rows are plain dicts, nothing to validate.
        return Response(orjson.dumps(students), media_type="application/json")

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: the database answers; Redis is reported")
    async def readyz(store: Store, counter: Counter) -> Any:
        database_up, redis_up = await asyncio.gather(store.ping(), counter.ping())
        body = {
            "status": "ok" if database_up else "unavailable",
            "database": "up" if database_up else "down",
            "redis": "up" if redis_up else "down",
        }
        return body if database_up else JSONResponse(status_code=503, content=body)

    return app
