"""The baseline app: the floor cost of the stack for each benchmarked endpoint.

A minimal Starlette app under the same uvicorn (uvloop + httptools, one worker) as the services,
doing the same database work with bare asyncpg: the same SQL statements the service issues, without
auth, validation, outbox, logging, metrics or error handling. Settings come from the environment:

- ``BASELINE_DSN``: the bench database (asyncpg DSN).
- ``BASELINE_POOL_SIZE``: asyncpg pool size (default 10 = the services' pool_size 5 + max_overflow 5).
- ``BASELINE_KPI_LIST_FILE`` / ``BASELINE_KPI_LIST_ETAG``: the precomputed body of
  ``GET /v1/kpis?limit=500`` (the service's own bytes) and its ETag.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.baselines import checkin, kpi, usage_stats


async def readyz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        size = int(os.environ.get("BASELINE_POOL_SIZE", "10"))
        app.state.pool = await asyncpg.create_pool(
            os.environ["BASELINE_DSN"],
            min_size=size,
            max_size=size,
            server_settings={"application_name": "bench-baseline", "timezone": "UTC"},
        )
        list_file = os.environ.get("BASELINE_KPI_LIST_FILE")
        app.state.kpi_list = Path(list_file).read_bytes() if list_file else b"{}"
        app.state.kpi_list_etag = os.environ.get("BASELINE_KPI_LIST_ETAG", '"baseline"').encode()
        await kpi.startup(app)
        await checkin.startup(app)
        try:
            yield
        finally:
            await app.state.pool.close()

    routes = [Route("/readyz", readyz), *kpi.ROUTES, *checkin.ROUTES, *usage_stats.ROUTES]
    return Starlette(routes=routes, lifespan=lifespan)
