"""The public progress site: `GET /dashboard` and one indicator page, 16 connections (bench/lua/get.lua).

Baseline: bench/baselines/kpi.py serves *the service's own bytes* of each page (fetched once, after
the KPI observations are posted) with the same ETag, and answers a matching If-None-Match with 304:
the same kind of baseline as the KPI list — the floor of serving a precomputed document on
uvicorn + Starlette with no SQL. The pages are rendered once per registry version and replayed
from memory (KpiFastPath), so the service should come close to it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from bench.baselines.runner import BASELINE_URL, baseline_app
from bench.benchmarks.context import BenchContext
from bench.benchmarks.http import Scenario, measure_pair, throughput_rows
from bench.benchmarks.kpi_common import SERVICE, ensure_observations, kpi_missing
from bench.config import TARGETS
from bench.report import Row
from bench.sqlcapture import Call, capture

HOME = "/dashboard"
#: An indicator with breakdowns (two charts, two data tables): the heaviest kind of page.
INDICATOR = "/dashboard/kpis/healthy-life-expectancy"
PAGES = (("home", "GET /dashboard", HOME), ("indicator", "GET /dashboard/kpis/{id}", INDICATOR))


def missing(ctx: BenchContext) -> str | None:
    return kpi_missing(ctx, "/dashboard", "/dashboard/kpis/{indicator_id}")


def run(ctx: BenchContext) -> None:
    setup = ensure_observations(ctx)
    url = ctx.stack.url(SERVICE)
    pages: dict[str, dict[str, Any]] = {}
    baseline_pages: dict[str, list[str]] = {}
    for key, _, path in PAGES:
        r = httpx.get(f"{url}{path}", timeout=30)
        r.raise_for_status()
        etag = r.headers.get("etag")
        if not etag:
            raise RuntimeError(f"GET {path} sends no ETag: the 304 path cannot be measured")
        body_file = ctx.artifacts / f"kpi_dashboard_{key}.html"
        body_file.write_bytes(r.content)
        pages[key] = {"etag": etag, "bytes": len(r.content)}
        baseline_pages[path] = [str(body_file), etag, r.headers["content-type"]]
    calls = []
    for key, _, path in PAGES:
        etag = pages[key]["etag"]
        calls += [Call("GET", path), Call("GET", path), Call("GET", path, None, {"If-None-Match": etag})]
    statements = asyncio.run(
        capture(SERVICE, calls, database_url=ctx.stack.database_url, redis_url=ctx.stack.redis_url)
    )
    details: dict[str, Any] = {"setup": {"indicators": setup["indicators"]}}
    with baseline_app(ctx.stack, BASELINE_KPI_PAGES=json.dumps(baseline_pages)):
        for n, (key, title, path) in enumerate(PAGES):
            etag = pages[key]["etag"]
            full = Scenario(f"kpi_dashboard_{key}_full", "get.lua", [path, "200"])
            not_modified = Scenario(f"kpi_dashboard_{key}_304", "get.lua", [path, "304", etag])
            m_full = measure_pair(ctx, url, BASELINE_URL, full, SERVICE)
            m_304 = measure_pair(ctx, url, BASELINE_URL, not_modified, SERVICE)
            first, warm, inm = (statements[3 * n + i].summary() for i in range(3))
            details[key] = {
                "full": m_full.as_dict(),
                "not_modified": m_304.as_dict(),
                **pages[key],
                "sql": {"first_request": first, "warm_request": warm, "if_none_match": inm},
            }
            p99 = TARGETS["kpi_dashboard_p99_ms"]
            ctx.report.add(
                *throughput_rows(
                    title,
                    "full",
                    m_full,
                    unit="req/s",
                    ratio_target=TARGETS["kpi_dashboard_ratio"],
                    p99_target_ms=p99,
                )
            )
            ctx.report.add(
                *throughput_rows(
                    title,
                    "304",
                    m_304,
                    unit="req/s",
                    ratio_target=TARGETS["kpi_304_ratio"],
                    p99_target_ms=p99,
                )
            )
            ctx.report.add(
                Row(
                    title,
                    "SQL statements (warm / 304)",
                    len(warm["statements"]),
                    note=f"{len(warm['statements'])} / {len(inm['statements'])} statements, "
                    f"{warm['round_trips']} / {inm['round_trips']} round trips (baseline 0); "
                    f"cold {len(first['statements'])}; {pages[key]['bytes']:,} bytes",
                )
            )
    ctx.report.details["kpi_dashboard"] = details
