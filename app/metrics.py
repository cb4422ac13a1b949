"""The API's Prometheus metrics, and the record of each request (its metrics
and one JSON log line carrying the request's id).

The uvicorn workers share the metrics through PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, set up by app.serve); the serving
process exposes their sum on its own port, which only the internal network
reaches.
"""

import logging
import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "dashboard_http_requests", "HTTP requests answered by the API", ["route", "method", "status"]
)
LATENCY = Histogram(
    "dashboard_http_request_duration_seconds",
    "Time to answer a request, in the API",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
# The lowest over the workers: 0 as soon as one of them finds it down.
DEPENDENCY_UP = Gauge(
    "dashboard_dependency_up",
    "1 while the dependency answers, 0 while its breaker is open",
    ["dependency"],
    multiprocess_mode="livemin",
)
BREAKER_OPENINGS = Counter("dashboard_breaker_openings", "Times a dependency was found down", ["dependency"])
DB_POOL = Gauge(
    "dashboard_db_pool_connections",
    "The database pools' connections, over the workers (size, available, waiting requests)",
    ["state"],
    multiprocess_mode="livesum",
)
COUNTER_ERRORS = Counter("dashboard_views_counter_errors", "Calls of the views counter to Redis that failed")

access_log = logging.getLogger("app.access")


class RequestRecorder:
    """Each request counted by route and status, timed, and logged as one
    line (the request id comes with the log filter)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            # The route's template, never the raw path: a bounded set of labels.
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route).observe(seconds)
            access_log.info(
                "%s %s %d",
                scope["method"],
                route,
                status,
                extra={"path": scope["path"], "status": status, "duration_ms": round(seconds * 1000, 2)},
            )
