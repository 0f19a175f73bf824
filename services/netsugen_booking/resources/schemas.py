from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.netsugen_booking.resources.models import Resource

ResourceKind = Literal["meeting_room", "booth", "event_space"]
GridMinutes = Literal[5, 10, 15, 20, 30, 60]


class ResourceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "slug": "meeting-room-a",
                    "kind": "meeting_room",
                    "name_ja": "会議室A",
                    "name_en": "Meeting room A",
                    "capacity": 8,
                    "grid_minutes": 15,
                    "price_per_hour_yen": 0,
                    "active": True,
                }
            ]
        }
    )

    id: uuid.UUID
    slug: str
    kind: ResourceKind
    name_ja: str
    name_en: str
    capacity: int = Field(description="People the resource holds.")
    grid_minutes: int = Field(description="Bookings start and end on multiples of this many minutes (JST).")
    price_per_hour_yen: int = Field(description="Tax-inclusive yen per hour; 0 means free.")
    active: bool

    @classmethod
    def of(cls, r: Resource) -> ResourceOut:
        return cls(
            id=r.id,
            slug=r.slug,
            kind=r.kind,  # type: ignore[arg-type]
            name_ja=r.name_ja,
            name_en=r.name_en,
            capacity=r.capacity,
            grid_minutes=r.grid_minutes,
            price_per_hour_yen=r.price_per_hour_yen,
            active=r.active,
        )


class ResourceList(BaseModel):
    items: list[ResourceOut]
    next_cursor: str | None = None


class ResourceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "meeting-room-c",
                    "kind": "meeting_room",
                    "name_ja": "会議室C",
                    "name_en": "Meeting room C",
                    "capacity": 4,
                    "grid_minutes": 15,
                    "price_per_hour_yen": 500,
                }
            ]
        },
    )

    slug: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: ResourceKind
    name_ja: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    capacity: int = Field(ge=1, le=10_000)
    grid_minutes: GridMinutes = 15
    price_per_hour_yen: int = Field(default=0, ge=0, le=10_000_000)


class ResourceUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"price_per_hour_yen": 1200, "active": True}]},
    )

    name_ja: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    grid_minutes: GridMinutes | None = None
    price_per_hour_yen: int | None = Field(default=None, ge=0, le=10_000_000)
    active: bool | None = None


class Interval(BaseModel):
    start: datetime
    end: datetime


class Availability(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resource_id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "date": "2026-12-01",
                    "open": True,
                    "opens_at": "10:00",
                    "closes_at": "21:00",
                    "reason": None,
                    "grid_minutes": 15,
                    "free": [
                        {"start": "2026-12-01T10:00:00+09:00", "end": "2026-12-01T13:00:00+09:00"},
                        {"start": "2026-12-01T14:30:00+09:00", "end": "2026-12-01T21:00:00+09:00"},
                    ],
                    "booked": [{"start": "2026-12-01T13:00:00+09:00", "end": "2026-12-01T14:30:00+09:00"}],
                }
            ]
        }
    )

    resource_id: uuid.UUID
    date: date
    open: bool
    opens_at: str | None = Field(description="HH:MM JST; null on a closed day.")
    closes_at: str | None
    reason: str | None = Field(description="Why the day is special (holiday name, closure reason).")
    grid_minutes: int
    free: list[Interval] = Field(
        description="Free intervals (JST offsets) within opening hours, minus bookings and the past."
    )
    booked: list[Interval] = Field(description="Confirmed bookings of the day (no booker shown).")
