"""The ASGI middlewares of app.middleware, around a small Starlette app.

The whole app under real overload is covered in tests/integration/test_overload.py.
"""

import asyncio
import logging
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.middleware import CatchUnexpected, InFlightLimit, RejectControlCharacters


def scripted_app(release: asyncio.Event, *middleware: Middleware) -> Starlette:
    """Routes behind the middleware, the first listed running first (as in app.main)."""

    async def slow(request: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({"ok": True})

    async def fast(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def bug(request: Request) -> JSONResponse:
        raise KeyError("secret-internal-detail")

    routes = [Route("/", slow), Route("/healthz", fast), Route("/bug", bug)]
    return Starlette(routes=routes, middleware=list(middleware))


def client_for(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


def test_requests_beyond_the_limit_get_an_immediate_503() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        async with client_for(scripted_app(release, Middleware(InFlightLimit, limit=2))) as client:
            held = [asyncio.create_task(client.get("/")) for _ in range(2)]
            await asyncio.sleep(0.05)  # both are in the handler now
            refused = await asyncio.wait_for(client.get("/"), timeout=1)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "2"
            assert refused.json() == {"detail": "server busy"}
            # Liveness does no I/O: it answers even at the limit.
            assert (await client.get("/healthz")).status_code == 200
            release.set()
            assert [response.status_code for response in await asyncio.gather(*held)] == [200, 200]
            # The slots were given back.
            assert (await client.get("/")).status_code == 200

    asyncio.run(scenario())


def test_a_failing_request_gives_its_slot_back() -> None:
    async def scenario() -> None:
        app = scripted_app(asyncio.Event(), Middleware(CatchUnexpected), Middleware(InFlightLimit, limit=1))
        async with client_for(app) as client:
            for _ in range(3):
                assert (await client.get("/bug")).status_code == 500

    asyncio.run(scenario())


def test_an_unexpected_exception_is_a_json_500_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> httpx.Response:
        async with client_for(scripted_app(asyncio.Event(), Middleware(CatchUnexpected))) as client:
            return await client.get("/bug")

    with caplog.at_level(logging.ERROR):
        response = asyncio.run(scenario())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret-internal-detail" not in response.text
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None


@pytest.mark.parametrize("path", ["/healthz\n", "/healthz\r", "/\x00", "/healthz\x7f", "/\t"])
def test_a_path_holding_a_control_character_is_a_404(path: str) -> None:
    async def scenario() -> httpx.Response:
        app = scripted_app(asyncio.Event(), Middleware(RejectControlCharacters))
        async with client_for(app) as client:
            return await client.get(quote(path))

    response = asyncio.run(scenario())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
