"""NETSUGEN: the prefecture's public–private co-creation space (官民共創スペース)."""

from __future__ import annotations

from fastapi import FastAPI

from services.netsugen_booking.db import outbox
from services.netsugen_booking.settings import NetsugenSettings, get_settings
from shared.app import create_service_app

DESCRIPTION = """
官民共創スペース「NETSUGEN」 / NETSUGEN, Gunma's public–private co-creation space:
members and plans, the opening calendar, front-desk check-in and check-out, billing and invoices,
bookings of rooms, events and coordinator consultations.

Errors are RFC 9457 `application/problem+json`.
"""


def create_app(settings: NetsugenSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    from services.netsugen_booking.billing.repository import PRICES_CHANNEL
    from services.netsugen_booking.calendar.service import CALENDAR_CHANNEL
    from services.netsugen_booking.routers import ROUTERS

    return create_service_app(
        service="netsugen_booking",
        title="NETSUGEN booking and front desk",
        description=DESCRIPTION,
        version="1.0.0",
        settings=settings,
        routers=ROUTERS,
        outbox=outbox,
        notify_channels=[CALENDAR_CHANNEL, PRICES_CHANNEL],
    )
