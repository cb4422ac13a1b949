"""Start the API server: one entry point for the image's CMD and the native runner."""

import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from app.settings import get_settings


def logging_config() -> dict[str, Any]:
    """uvicorn's own logging, plus the app's loggers (state changes of Redis
    and the database) at INFO, in every worker process."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["app"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # The pool logs every failed connection attempt; app.breaker logs the
    # database going down and coming back, once each.
    config["loggers"]["psycopg.pool"] = {"handlers": ["default"], "level": "ERROR", "propagate": False}
    return config


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        # When set, the socket replaces host and port.
        uds=str(settings.api_socket) if settings.api_socket else None,
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


if __name__ == "__main__":
    main()
