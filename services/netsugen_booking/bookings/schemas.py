from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.netsugen_booking.bookings.models import Booking
from shared.jst import JST

BookingStatus = Literal["confirmed", "cancelled"]


class BookingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resource_id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "member_id": "6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b",
                    "start": "2026-12-01T13:00:00+09:00",
                    "end": "2026-12-01T14:30:00+09:00",
                }
            ]
        },
    )

    resource_id: uuid.UUID
    member_id: uuid.UUID = Field(description="The member the booking is for (a member token: itself).")
    start: AwareDatetime = Field(description="ISO-8601 with an offset; on the resource's grid (JST).")
    end: AwareDatetime


class BookingCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "予定変更のため"}, {"override_deadline": True}]},
    )

    reason: str | None = Field(default=None, max_length=500)
    override_deadline: bool = Field(
        default=False, description="Staff only: cancel even after the member's cancellation deadline."
    )


class BookingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c3d4e5f6-0718-4a29-8b3c-4d5e6f708192",
                    "resource_id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "member_id": "6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b",
                    "program_id": None,
                    "start": "2026-12-01T13:00:00+09:00",
                    "end": "2026-12-01T14:30:00+09:00",
                    "status": "confirmed",
                    "price_yen": 1500,
                    "cancellation_deadline": "2026-11-30T13:00:00+09:00",
                    "created_at": "2026-11-29T10:12:00+09:00",
                    "cancelled_at": None,
                    "cancel_reason": None,
                    "deadline_overridden": False,
                }
            ]
        }
    )

    id: uuid.UUID
    resource_id: uuid.UUID
    member_id: uuid.UUID | None
    program_id: uuid.UUID | None = Field(description="Set when the booking holds the resource for an event.")
    start: datetime
    end: datetime
    status: BookingStatus
    price_yen: int = Field(description="Tax-inclusive yen, frozen at booking time.")
    cancellation_deadline: datetime = Field(description="Until when the member may cancel.")
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None
    deadline_overridden: bool

    @classmethod
    def of(cls, b: Booking, *, deadline: datetime) -> BookingOut:
        return cls(
            id=b.id,
            resource_id=b.resource_id,
            member_id=b.member_id,
            program_id=b.program_id,
            start=b.start_at.astimezone(JST),
            end=b.end_at.astimezone(JST),
            status=b.status,  # type: ignore[arg-type]
            price_yen=b.price_yen,
            cancellation_deadline=deadline.astimezone(JST),
            created_at=b.created_at.astimezone(JST),
            cancelled_at=b.cancelled_at.astimezone(JST) if b.cancelled_at else None,
            cancel_reason=b.cancel_reason,
            deadline_overridden=b.deadline_overridden,
        )


class BookingList(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None = None
