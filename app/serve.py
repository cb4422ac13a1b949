"""Start the API server: the image's CMD."""

import copy
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from app.settings import get_settings

# Set in the server process that a draining parent starts.
_DRAINED_CHILD = "APP_SERVE_DRAINED_CHILD"
log = logging.getLogger("app.serve")


def logging_config() -> dict[str, Any]:
    """uvicorn's own logging, plus the app's loggers (state changes of Redis
    and the database) at INFO, in every worker process."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["app"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # The pool logs every failed connection attempt; app.breaker logs the
    # database going down and coming back, once each.
    config["loggers"]["psycopg.pool"] = {"handlers": ["default"], "level": "ERROR", "propagate": False}
    return config


def serve() -> None:
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        server_header=False,
        log_level="info",
        # The edge logs every request already; one more line per request here
        # costs the API a good part of its throughput.
        access_log=False,
        # Client addresses are not used: skip X-Forwarded-For parsing.
        proxy_headers=False,
        log_config=logging_config(),
    )


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
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
        sys.exit(serve_with_drain(drain))
    serve()


if __name__ == "__main__":
    main()
