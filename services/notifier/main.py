"""Notifier: delivers email and signed webhooks for the platform's events, with a delivery ledger."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifier.settings import NotifierSettings, get_settings
from shared.app import create_service_app

DESCRIPTION = """
通知サービス / The notifier: email and Standard Webhooks deliveries for every platform event,
with a delivery ledger, retries, dead letters, preferences and quiet hours.

Errors are RFC 9457 `application/problem+json`.
"""


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
    )
