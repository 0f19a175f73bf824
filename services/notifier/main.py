"""Notifier: delivers email and signed webhooks for the platform's events, with a delivery ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifier.db import outbox
from services.notifier.deliveries.metrics import start_metrics_refresh, stop_metrics_refresh
from services.notifier.settings import NotifierSettings, get_settings
from shared.app import create_service_app

DESCRIPTION = """
通知サービス / The notifier: email and Standard Webhooks deliveries for every platform event,
with a delivery ledger, retries, dead letters, preferences and quiet hours.

Events arrive from every service's outbox through the queue (or over `POST /v1/notifications`);
the worker (`python -m arq services.notifier.worker.WorkerSettings`) sends them. See
`services/notifier/README.md` for the retry schedule, quiet hours and webhook verification.

Errors are RFC 9457 `application/problem+json`.
"""

TAGS = [
    {"name": "notifications", "description": "Submit events over HTTP."},
    {"name": "deliveries", "description": "The delivery ledger: every message, every attempt, dead letters."},
    {"name": "webhooks", "description": "Webhook endpoints (Standard Webhooks signatures, secret rotation)."},
    {"name": "preferences", "description": "Members' opt-outs per category."},
    {"name": "event types", "description": "Event types and the per-type pause switch."},
]


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    from services.notifier.routers import ROUTERS

    return create_service_app(
        service="notifier",
        title="Gunma platform notifier",
        description=DESCRIPTION,
        version="1.0.0",
        settings=settings,
        routers=ROUTERS,
        outbox=outbox,
        on_startup=[start_metrics_refresh],
        on_shutdown=[stop_metrics_refresh],
        openapi_tags=TAGS,
    )
