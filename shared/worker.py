"""Common arq worker plumbing: engine, sessionmaker and HTTP clients kept in ``ctx``."""

from __future__ import annotations

from typing import Any

import structlog

from shared.db import create_engine, make_sessionmaker
from shared.logging import configure_logging
from shared.settings import CommonSettings

log = structlog.get_logger("worker")


async def worker_startup(ctx: dict[str, Any], *, service: str, settings: CommonSettings) -> None:
    configure_logging(service, level=settings.log_level, json=settings.log_json)
    engine = create_engine(
        settings.require_database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        application_name=service,
        pre_ping=settings.db_pool_pre_ping,
    )
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["sessionmaker"] = make_sessionmaker(engine)
    log.info("worker_started", service=service)


async def worker_shutdown(ctx: dict[str, Any]) -> None:
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()
    log.info("worker_stopped")
