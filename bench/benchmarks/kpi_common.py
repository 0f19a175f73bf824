"""KPI bench data: observations for every seeded indicator, posted through the admin API.

The seed has baselines and targets but no observations (status `no_data` everywhere). For a
realistic progress document each indicator (and each breakdown) gets observations for FY2021–FY2024
moving from its baseline in its direction (+/-2 % a year; counts without a baseline 10, 20 …).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from bench.benchmarks.context import BenchContext
from bench.data import make_tokens

SERVICE = "kpi_api"
LIST_PATH = "/v1/kpis?limit=500"
YEARS = (2021, 2022, 2023, 2024)


def kpi_missing(ctx: BenchContext, *paths: str) -> str | None:
    if not ctx.stack.ready.get(SERVICE):
        return f"{SERVICE} is not running"
    known = httpx.get(f"{ctx.stack.url(SERVICE)}/openapi.json", timeout=10).json().get("paths", {})
    absent = [p for p in paths if p not in known]
    return f"{', '.join(absent)} not in kpi_api's API yet" if absent else None


def _value(baseline: float | None, direction: str, k: int) -> float:
    if baseline is None:
        return float(10 * (k + 1))
    step = Decimal("0.02") * (k + 1)
    factor = (1 + step) if direction == "increase" else (1 - step)
    return float((Decimal(str(baseline)) * factor).quantize(Decimal("0.01")))


async def _post_all(base: str, token: str, items: list[dict[str, Any]]) -> tuple[int, int]:
    """Each indicator's observations in year order; indicators 8 at a time."""
    counts = {"posted": 0, "failed": 0}
    gate = asyncio.Semaphore(8)

    async def one_indicator(client: httpx.AsyncClient, item: dict[str, Any]) -> None:
        keys = [b["key"] if isinstance(b, dict) else b for b in item.get("breakdowns", [])] or [None]
        baselines = {b["breakdown"]: b["value"] for b in item.get("baselines", [])}
        async with gate:
            for key in keys:
                for k, year in enumerate(YEARS):
                    body: dict[str, Any] = {
                        "fiscal_year": year,
                        "source": "bench",
                        "value": _value(baselines.get(key), item["direction"], k),
                    }
                    if key is not None:
                        body["breakdown"] = key
                    r = await client.post(f"/v1/kpis/{item['id']}/observations", json=body)
                    if r.status_code in (200, 201):
                        counts["posted"] += 1
                    else:
                        counts["failed"] += 1
                        if counts["failed"] <= 3:
                            print(f"    observation {item['id']} {year}: {r.status_code} {r.text[:200]}")

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        await asyncio.gather(*(one_indicator(client, item) for item in items))
    return counts["posted"], counts["failed"]


def ensure_observations(ctx: BenchContext) -> dict[str, Any]:
    """Once per run: post the observations; returns the list response's items."""
    if "kpi_items" in ctx.shared:
        return ctx.shared["kpi_setup"]  # type: ignore[no-any-return]
    if "admin" not in ctx.tokens:
        ctx.tokens.update(asyncio.run(make_tokens(ctx.stack.database_url)))
    items = httpx.get(f"{ctx.stack.url(SERVICE)}{LIST_PATH}", timeout=30).json()["items"]
    posted, failed = asyncio.run(_post_all(ctx.stack.url(SERVICE), ctx.tokens["admin"], items))
    ctx.wait_quiet(max_s=30)
    setup = {
        "indicators": len(items),
        "observations_posted": posted,
        "observations_failed": failed,
        "ids": [i["id"] for i in items],
    }
    ctx.shared["kpi_items"] = items
    ctx.shared["kpi_setup"] = setup
    print(f"    {len(items)} indicators, {posted} observations posted ({failed} refused)")
    return setup
