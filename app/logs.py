"""Every process of the API logs one JSON object per line, with the id of the
request it serves (the edge's X-Request-ID, through asgi-correlation-id)."""

import logging.config
from typing import Any

# Outside a request: no id.
NO_REQUEST = "-"


def log_config() -> dict[str, Any]:
    """For logging.config.dictConfig, and uvicorn's log_config (every worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "asgi_correlation_id.CorrelationIdFilter", "default_value": NO_REQUEST}
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(correlation_id)s",
                # ISO 8601, UTC, as the edge's log.
                "timestamp": "time",
                "rename_fields": {
                    "levelname": "level",
                    "name": "logger",
                    "correlation_id": "request_id",
                },
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            # uvicorn's own (start, stop, errors); no access log of its own:
            # app.access writes one, with the request's id.
            "uvicorn": {"level": "INFO"},
            "uvicorn.access": {"level": "WARNING"},
            # The pool logs every failed connection attempt; app.breaker logs
            # the database going down and coming back, once each.
            "psycopg.pool": {"level": "ERROR"},
        },
    }


def configure() -> None:
    """For a process that is not uvicorn's (the one-shots, the draining parent)."""
    logging.config.dictConfig(log_config())
