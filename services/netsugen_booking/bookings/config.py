"""Settings of bookings, events, consultations and KPI reporting, mixed into ``NetsugenSettings``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings


class KpiMapping(BaseModel):
    """Where the attendance of closed events of one category goes in the KPI registry.

    ``count``: ``attendance`` sums the check-ins (延べ人数); ``distinct_attendees`` counts each
    member or guest email once per fiscal year (支援起業家数: one entrepreneur, several sessions).
    """

    indicator_id: str = Field(max_length=100)
    count: Literal["attendance", "distinct_attendees"] = "attendance"


def _default_kpi_mapping() -> dict[str, KpiMapping]:
    return {
        # クリエイターラボラトリー参加者数(累計)
        "creator_lab": KpiMapping(indicator_id="creator-laboratory-participants", count="attendance"),
        # スタートアップ支援事業による支援起業家数(累計)
        "startup_program": KpiMapping(
            indicator_id="startup-supported-entrepreneurs", count="distinct_attendees"
        ),
    }


class BookingSettings(BaseSettings):
    # Members may cancel a booking or consultation until this many hours before its start.
    booking_cancellation_deadline_hours: int = Field(default=24, ge=0, le=24 * 30)
    # The day-before reminders go out from this JST hour on.
    booking_reminder_hour_jst: int = Field(default=9, ge=0, le=23)
    # Events still open this many hours after their end are closed by the scheduler.
    program_auto_close_after_hours: int = Field(default=12, ge=0, le=24 * 14)
    # Consultation slots are generated from coordinators' weekly windows this many days ahead.
    consultation_slot_horizon_days: int = Field(default=28, ge=1, le=180)
    # Event category -> KPI indicator; environment KPI_REPORT_MAPPING as JSON, e.g.
    # {"creator_lab": {"indicator_id": "creator-laboratory-participants", "count": "attendance"}}.
    kpi_report_mapping: dict[str, KpiMapping] = Field(default_factory=_default_kpi_mapping)
    # Unsent KPI reports are retried with exponential backoff up to this delay.
    kpi_report_max_backoff_s: int = Field(default=3600, ge=1)
