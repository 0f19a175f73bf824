from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.netsugen_booking.kpi_reporting.models import KpiReport
from shared.jst import JST


class KpiReportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                    "program_id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                    "category": "creator_lab",
                    "indicator_id": "creator-laboratory-participants",
                    "fiscal_year": 2026,
                    "attendance": 12,
                    "status": "sent",
                    "attempts": 2,
                    "next_attempt_at": "2026-12-10T21:00:30+09:00",
                    "last_error": None,
                    "sent_value": 57,
                    "sent_as_correction": True,
                    "sent_at": "2026-12-10T21:01:00+09:00",
                    "created_at": "2026-12-10T21:00:00+09:00",
                }
            ]
        }
    )

    id: uuid.UUID
    program_id: uuid.UUID
    category: str
    indicator_id: str
    fiscal_year: int
    attendance: int
    status: Literal["pending", "sent"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_value: int | None
    sent_as_correction: bool | None
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, r: KpiReport) -> KpiReportOut:
        return cls(
            id=r.id,
            program_id=r.program_id,
            category=r.category,
            indicator_id=r.indicator_id,
            fiscal_year=r.fiscal_year,
            attendance=r.attendance,
            status=r.status,  # type: ignore[arg-type]
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at.astimezone(JST),
            last_error=r.last_error,
            sent_value=r.sent_value,
            sent_as_correction=r.sent_as_correction,
            sent_at=r.sent_at.astimezone(JST) if r.sent_at else None,
            created_at=r.created_at.astimezone(JST),
        )


class KpiReportList(BaseModel):
    items: list[KpiReportOut]
    next_cursor: str | None = None
