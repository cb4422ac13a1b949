"""Start the API server: the image's CMD."""

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import uvicorn

from app import logs
from app.settings import get_settings

# Set in the server process that a draining parent starts.
_DRAINED_CHILD = "APP_SERVE_DRAINED_CHILD"
# Where the workers write their metrics (prometheus_client's multiprocess
# mode): the container's /tmp, a tmpfs.
METRICS_DIR = "/tmp/metrics"  # noqa: S108
log = logging.getLogger("app.serve")


def serve() -> None:
    settings = get_settings()
    expose_metrics(settings.api_host, settings.metrics_port)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        server_header=False,
        log_level="info",
        # app.access logs each request, with its id; not uvicorn too.
        access_log=False,
        # Client addresses are not used: skip X-Forwarded-For parsing.
        proxy_headers=False,
        log_config=logs.log_config(),
    )


def expose_metrics(host: str, port: int) -> None:
    """The workers' metrics, summed, on a port of their own: the edge never
    proxies it, so only the internal network reaches it. Before any worker
    starts: each reads PROMETHEUS_MULTIPROC_DIR when it first imports
    prometheus_client."""
    directory = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR))
    shutil.rmtree(directory, ignore_errors=True)  # an earlier run's workers
    directory.mkdir(parents=True)
    from prometheus_client import CollectorRegistry, start_http_server

    from app.metrics_exposition import LiveWorkersCollector

    registry = CollectorRegistry()
    registry.register(LiveWorkersCollector(directory))
    start_http_server(port, addr=host, registry=registry)


def serve_with_drain(seconds: float) -> int:
    """Run the server in a child process and delay its SIGTERM by `seconds`.

    uvicorn stops accepting as soon as it gets SIGTERM, and installs its own
    handlers, so the delay lives in this parent. Docker has no preStop hook:
    this is the same drain as Kubernetes' preStop sleep.
    """
    child = subprocess.Popen([sys.executable, "-m", "app.serve"], env={**os.environ, _DRAINED_CHILD: "1"})
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while child.poll() is None and not stop.wait(0.5):
        pass
    if child.poll() is None:
        log.warning("stopping: serving %.1fs more while the edge forgets this instance", seconds)
        stop.clear()
        stop.wait(seconds)
        child.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then dies of the signal it got.
        return 0 if child.wait() in (0, -signal.SIGTERM) else 1
    code = child.wait()
    return 128 - code if code < 0 else code


def main() -> None:
    drain = get_settings().api_drain_seconds
    if drain > 0 and os.environ.get(_DRAINED_CHILD) != "1":
        logs.configure()
        sys.exit(serve_with_drain(drain))
    serve()


if __name__ == "__main__":
    main()
