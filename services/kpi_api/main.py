"""KPI registry: every KPI of Gunma's SDGs Future City Plan, observations, progress and status."""

from __future__ import annotations

from fastapi import FastAPI

from services.kpi_api.db import outbox
from services.kpi_api.settings import KpiSettings, get_settings
from shared.app import create_service_app

DESCRIPTION = """
群馬県SDGs未来都市計画のKPIレジストリ / The KPI registry of Gunma Prefecture's SDGs Future City Plan.

Public reads need no token; writes need an `admin` token (observations also accept a `service` token).
Errors are RFC 9457 `application/problem+json`. Names and messages follow `Accept-Language` (ja by default, en).
Public GETs send a strong `ETag` and answer `If-None-Match` with 304. Numbers are exact (yen are integers).
Status rules: see `services/kpi_api/README.md`.
"""

TAGS = [
    {
        "name": "indicators",
        "description": "The plan's KPIs with SDG links, breakdowns, baselines, targets and status.",
    },
    {
        "name": "observations",
        "description": "Observed values per fiscal year; corrections are new revisions.",
    },
    {"name": "imports", "description": "Bulk CSV import of observations, validated completely first."},
    {
        "name": "progress",
        "description": "Achievement rate, expected line, anticipated progress, status; rollups.",
    },
    {"name": "sdgs", "description": "The 17 SDGs and their 169 targets."},
    {"name": "initiatives", "description": "The plan's initiatives (取組) and their KPIs."},
    {"name": "exports", "description": "Open SDG data CSV and JSON."},
]


def create_app(settings: KpiSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    from services.kpi_api.core.http import CHANNEL, KpiFastPath
    from services.kpi_api.routers import ROUTERS

    return create_service_app(
        service="kpi_api",
        title="Gunma SDGs KPI registry",
        description=DESCRIPTION,
        version="1.0.0",
        settings=settings,
        routers=ROUTERS,
        outbox=outbox,
        openapi_tags=TAGS,
        notify_channels=[CHANNEL],
        middleware=[(KpiFastPath, {})],
    )
