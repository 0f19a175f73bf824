"""Structured JSON logs (structlog) carrying the request id across services and into jobs.

Personal data (names, email addresses, card tokens) is never logged: log ids only.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

import structlog

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def _add_request_id(
    logger: object, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    rid = request_id_var.get()
    if rid and "request_id" not in event_dict:
        event_dict["request_id"] = rid
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Route stdlib loggers (uvicorn, arq, sqlalchemy) through a plain JSON-ish line on stdout.
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(message)s", force=True)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
