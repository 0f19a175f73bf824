"""Baselines of the KPI registry's public reads.

- ``GET /v1/kpis``: serves the precomputed bytes of the service's own ``/v1/kpis?limit=500``
  response with its ETag, and answers a matching ``If-None-Match`` with 304. This is the floor of
  "serve a cached JSON document over HTTP" on this stack: no SQL, no serialisation.
- ``GET /dashboard`` and ``GET /dashboard/kpis/{id}`` (the progress site): the same kind of
  baseline as the list — the service's own bytes of each page (``BASELINE_KPI_PAGES``: path →
  [file, ETag, content type]) with its ETag, 304 on a match.
- ``GET /v1/kpis/{id}/progress``: progress computed on demand — the five SELECTs of
  ``services.kpi_api.progress.service.compute_docs`` for one indicator (in bare asyncpg, one
  connection, no transaction block) and ``services.kpi_api.progress.rules.compute_progress`` for
  every target, the statuses aggregated with ``rules.aggregate_status``, serialised with orjson.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.kpi_api.progress import rules

INDICATOR = "SELECT id, direction, cumulative FROM kpi.indicator WHERE id = $1"
BREAKDOWNS = (
    "SELECT indicator_id, key FROM kpi.breakdown WHERE indicator_id = $1 ORDER BY indicator_id, position, key"
)
BASELINES = "SELECT indicator_id, breakdown_key, fiscal_year, value FROM kpi.baseline WHERE indicator_id = $1"
TARGETS = (
    "SELECT t.id, t.indicator_id, t.breakdown_key, t.fiscal_year, t.comparator, t.value, t.reference_fiscal_year "
    "FROM kpi.target AS t LEFT OUTER JOIN kpi.breakdown AS b "
    "ON b.indicator_id = t.indicator_id AND b.key = t.breakdown_key "
    "WHERE t.indicator_id = $1 ORDER BY t.indicator_id, b.position NULLS FIRST, t.fiscal_year"
)
OBSERVATIONS = (
    "SELECT indicator_id, breakdown_key, fiscal_year, value FROM kpi.observation WHERE indicator_id = $1 "
    "ORDER BY indicator_id, fiscal_year"
)


async def startup(app: Starlette) -> None:
    pages = json.loads(os.environ.get("BASELINE_KPI_PAGES", "{}"))
    app.state.kpi_pages = {
        path: (Path(file).read_bytes(), etag.encode(), media_type)
        for path, (file, etag, media_type) in pages.items()
    }


async def kpi_page(request: Request) -> Response:
    page = request.app.state.kpi_pages.get(request.url.path)
    if page is None:
        return Response(b"not found", status_code=404)
    body, etag, media_type = page
    inm = request.headers.get("if-none-match")
    if inm is not None and inm.encode() == etag:
        return Response(status_code=304, headers={"etag": etag.decode()})
    return Response(body, media_type=media_type, headers={"etag": etag.decode()})


async def kpi_list(request: Request) -> Response:
    state = request.app.state
    etag: bytes = state.kpi_list_etag
    inm = request.headers.get("if-none-match")
    if inm is not None and inm.encode() == etag:
        return Response(status_code=304, headers={"etag": etag.decode()})
    return Response(state.kpi_list, media_type="application/json", headers={"etag": etag.decode()})


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def progress(request: Request) -> Response:
    indicator_id = request.path_params["indicator_id"]
    async with request.app.state.pool.acquire() as conn:
        indicator = await conn.fetchrow(INDICATOR, indicator_id)
        if indicator is None:
            return Response(b'{"status":404}', status_code=404, media_type="application/json")
        breakdowns = [r["key"] for r in await conn.fetch(BREAKDOWNS, indicator_id)]
        baselines = {
            r["breakdown_key"]: rules.Baseline(r["fiscal_year"], Decimal(r["value"]))
            for r in await conn.fetch(BASELINES, indicator_id)
        }
        targets = await conn.fetch(TARGETS, indicator_id)
        observed: dict[str | None, list[rules.Observation]] = defaultdict(list)
        for r in await conn.fetch(OBSERVATIONS, indicator_id):
            observed[r["breakdown_key"]].append(rules.Observation(r["fiscal_year"], Decimal(r["value"])))
    graded: list[dict[str, Any]] = []
    for t in targets:
        target = rules.Target(
            t["fiscal_year"],
            None if t["value"] is None else Decimal(t["value"]),
            t["comparator"],
            t["reference_fiscal_year"],
        )
        result = rules.compute_progress(
            direction=indicator["direction"],
            cumulative=indicator["cumulative"],
            baseline=baselines.get(t["breakdown_key"]),
            target=target,
            observations=observed.get(t["breakdown_key"], []),
        )
        graded.append(
            {
                "target_id": t["id"],
                "breakdown": t["breakdown_key"],
                "fiscal_year": t["fiscal_year"],
                "comparator": t["comparator"],
                "target_value": _text(target.value),
                "status": result.status,
                "achievement_rate": _text(result.achievement_rate),
                "expected_value": _text(result.expected_value),
                "expected_rate": _text(result.expected_rate),
                "anticipated_value": _text(result.anticipated_value),
                "anticipated_ratio": _text(result.anticipated_ratio),
                "latest": None
                if result.latest is None
                else {"fiscal_year": result.latest.fiscal_year, "value": str(result.latest.value)},
                "baseline_implied": result.baseline_implied,
                "method": result.method,
                "method_version": result.method_version,
                "explanation": result.explanation,
            }
        )
    body = {
        "indicator_id": indicator_id,
        "status": rules.aggregate_status([g["status"] for g in graded]),
        "method": rules.METHOD,
        "method_version": rules.METHOD_VERSION,
        "breakdowns": [
            {
                "breakdown": k,
                "status": rules.aggregate_status([g["status"] for g in graded if g["breakdown"] == k]),
            }
            for k in breakdowns
        ],
        "targets": graded,
    }
    return Response(orjson.dumps(body), media_type="application/json")


ROUTES = [
    Route("/v1/kpis", kpi_list),
    Route("/v1/kpis/{indicator_id}/progress", progress),
    Route("/dashboard", kpi_page),
    Route("/dashboard/kpis/{indicator_id}", kpi_page),
]
