"""`GET /v1/kpis?limit=500` (every indicator with its progress), 16 connections: the full response and
the `If-None-Match` → 304 path (bench/lua/get.lua).

Baseline: bench/baselines/kpi.py serves the *same bytes* (the service's own response, fetched once)
with the same ETag, and answers a matching If-None-Match with 304 — the floor of serving a
precomputed JSON document on this stack (uvicorn + Starlette), with no SQL at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bench.baselines.runner import BASELINE_URL, baseline_app
from bench.benchmarks.context import BenchContext
from bench.benchmarks.http import Scenario, measure_pair, throughput_rows
from bench.benchmarks.kpi_common import LIST_PATH, SERVICE, ensure_observations, kpi_missing
from bench.config import TARGETS
from bench.report import Row
from bench.sqlcapture import Call, capture

TITLE = "GET /v1/kpis?limit=500"


def missing(ctx: BenchContext) -> str | None:
    return kpi_missing(ctx, "/v1/kpis", "/v1/kpis/{indicator_id}/observations")


def run(ctx: BenchContext) -> None:
    setup = ensure_observations(ctx)
    r = httpx.get(f"{ctx.stack.url(SERVICE)}{LIST_PATH}", timeout=30)
    r.raise_for_status()
    etag = r.headers.get("etag")
    if not etag:
        raise RuntimeError("GET /v1/kpis sends no ETag: the 304 path cannot be measured")
    body_file = ctx.artifacts / "kpi_list.json"
    body_file.write_bytes(r.content)
    statements = asyncio.run(
        capture(
            SERVICE,
            [
                Call("GET", LIST_PATH),
                Call("GET", LIST_PATH),
                Call("GET", LIST_PATH, None, {"If-None-Match": etag}),
            ],
            database_url=ctx.stack.database_url,
            redis_url=ctx.stack.redis_url,
        )
    )
    full = Scenario("kpi_list_full", "get.lua", [LIST_PATH, "200"])
    not_modified = Scenario("kpi_list_304", "get.lua", [LIST_PATH, "304", etag])
    url = ctx.stack.url(SERVICE)
    with baseline_app(ctx.stack, BASELINE_KPI_LIST_FILE=str(body_file), BASELINE_KPI_LIST_ETAG=etag):
        m_full = measure_pair(ctx, url, BASELINE_URL, full, SERVICE)
        m_304 = measure_pair(ctx, url, BASELINE_URL, not_modified, SERVICE)
    sql: dict[str, Any] = {
        "first_request": statements[0].summary(),
        "warm_request": statements[1].summary(),
        "if_none_match": statements[2].summary(),
    }
    ctx.report.details["kpi_list"] = {
        "full": m_full.as_dict(),
        "not_modified": m_304.as_dict(),
        "bytes": len(r.content),
        "etag": etag,
        "sql": sql,
        "setup": setup,
    }
    p99 = TARGETS["kpi_list_p99_ms"]
    ctx.report.add(
        *throughput_rows(
            TITLE, "full", m_full, unit="req/s", ratio_target=TARGETS["kpi_list_ratio"], p99_target_ms=p99
        )
    )
    ctx.report.add(
        *throughput_rows(
            TITLE, "304", m_304, unit="req/s", ratio_target=TARGETS["kpi_304_ratio"], p99_target_ms=p99
        )
    )
    warm, inm = sql["warm_request"], sql["if_none_match"]
    ctx.report.add(
        Row(
            TITLE,
            "SQL statements (warm / 304)",
            len(warm["statements"]),
            note=f"{len(warm['statements'])} / {len(inm['statements'])} statements, "
            f"{warm['round_trips']} / {inm['round_trips']} round trips (baseline 0); "
            f"{len(r.content):,} bytes, {setup['indicators']} indicators",
        )
    )
