"""`GET /v1/kpis/{id}/progress` for random indicator ids, 16 connections (bench/lua/random_ids.lua).

Baseline: bench/baselines/kpi.py computes the progress on demand: the five SELECTs that read an
indicator's inputs (indicator, breakdowns, baselines, targets, observations — the statements of
services.kpi_api.progress.service.compute_docs) in bare asyncpg, then
services.kpi_api.progress.rules.compute_progress for every target, serialised with orjson. The service
may precompute or cache; the ratio then shows what that buys over doing the work at read time.
"""

from __future__ import annotations

import asyncio

from bench.baselines.runner import BASELINE_URL, baseline_app
from bench.benchmarks.context import BenchContext
from bench.benchmarks.http import Scenario, measure_pair, throughput_rows
from bench.benchmarks.kpi_common import SERVICE, ensure_observations, kpi_missing
from bench.config import TARGETS
from bench.data import write_lines
from bench.report import Row
from bench.sqlcapture import Call, capture

TITLE = "GET /v1/kpis/{id}/progress"
PATH = "/v1/kpis/{id}/progress"


def missing(ctx: BenchContext) -> str | None:
    return kpi_missing(ctx, "/v1/kpis", "/v1/kpis/{indicator_id}/progress")


def run(ctx: BenchContext) -> None:
    setup = ensure_observations(ctx)
    ids = setup["ids"]
    ids_file = write_lines(ctx.artifacts / "kpi_ids.txt", ids)
    captured = asyncio.run(
        capture(
            SERVICE,
            [Call("GET", PATH.replace("{id}", ids[0])), Call("GET", PATH.replace("{id}", ids[0]))],
            database_url=ctx.stack.database_url,
            redis_url=ctx.stack.redis_url,
        )
    )
    scenario = Scenario("kpi_progress", "random_ids.lua", [str(ids_file), PATH, "200"])
    with baseline_app(ctx.stack):
        measured = measure_pair(ctx, ctx.stack.url(SERVICE), BASELINE_URL, scenario, SERVICE)
    sql = {"first_request": captured[0].summary(), "warm_request": captured[1].summary()}
    ctx.report.details["kpi_progress"] = {**measured.as_dict(), "sql": sql, "ids": len(ids)}
    ctx.report.add(
        *throughput_rows(
            TITLE,
            "random ids",
            measured,
            unit="req/s",
            ratio_target=TARGETS["kpi_progress_ratio"],
            p99_target_ms=None,
        )
    )
    warm = sql["warm_request"]
    ctx.report.add(
        Row(
            TITLE,
            "SQL statements (warm)",
            len(warm["statements"]),
            note=f"{warm['round_trips']} round trips with BEGIN/COMMIT/pre-ping; baseline 5 + rules",
        )
    )
