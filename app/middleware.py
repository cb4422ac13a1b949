"""Pure ASGI middlewares: answers decided before any route runs.

Pure ASGI rather than BaseHTTPMiddleware: GET / is benchmarked, and these add
a function call per request, not a task and a stream.
"""

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"  # the page polls every 2 s
# C0 controls and DEL. Starlette's route patterns end with `$`, which matches
# before a trailing newline: /healthz%0a would reach /healthz.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Liveness does no I/O: an overloaded worker is still alive, and the
# container's healthcheck must not call it dead.
_EXEMPT_FROM_LIMIT = "/healthz"


async def send_json(send: Send, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})


class CatchUnexpected:
    """An exception no handler expected is a bug: logged once with its
    traceback, answered with a JSON 500 that tells nothing of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error answering %s %r", scope["method"], scope["path"])
            if not started:  # otherwise the client gets a truncated response
                await send_json(send, 500, b'{"detail":"Internal Server Error"}')


class RejectControlCharacters:
    """A path holding a control character names no resource: 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL_CHARACTER.search(scope["path"]):
            await send_json(send, 404, b'{"detail":"Not Found"}')
            return
        await self.app(scope, receive, send)


class InFlightLimit:
    """At most `limit` requests at once in this worker; the next ones get an
    immediate 503 with Retry-After instead of queueing for the pools.

    Per worker (one event loop, so a plain counter is exact).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self._limit = limit
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == _EXEMPT_FROM_LIMIT:
            await self.app(scope, receive, send)
            return
        if self._in_flight >= self._limit:
            await send_json(
                send, 503, b'{"detail":"server busy"}', (b"retry-after", RETRY_AFTER_SECONDS.encode())
            )
            return
        self._in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._in_flight -= 1
