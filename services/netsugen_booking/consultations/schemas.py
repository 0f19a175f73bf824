from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.netsugen_booking.consultations.models import (
    Consultation,
    ConsultationSlot,
    Coordinator,
    CoordinatorAvailability,
)
from shared.jst import JST

Expertise = Annotated[str, StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Outcome = Literal[
    "resolved", "follow_up", "referred_to_business_matching", "referred_to_specialist", "no_show"
]
ConsultationStatus = Literal["confirmed", "cancelled", "completed", "no_show"]


def _jst(dt: datetime | None) -> datetime | None:
    return dt.astimezone(JST) if dt is not None else None


class CoordinatorCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "高橋 誠",
                    "name_en": "Makoto Takahashi",
                    "title": "公認会計士",
                    "expertise": ["accounting", "funding"],
                    "bio": "中小企業の資金調達・会計を支援。",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200, description="E.g. 公認会計士, 中小企業診断士.")
    expertise: list[Expertise] = Field(
        default_factory=list, max_length=20, description="Areas, e.g. accounting, sme_management, funding."
    )
    bio: str | None = Field(default=None, max_length=5000)


class CoordinatorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    expertise: list[Expertise] | None = Field(default=None, max_length=20)
    bio: str | None = Field(default=None, max_length=5000)
    active: bool | None = None


class AvailabilityCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "weekday": 2,
                    "starts_at": "13:00",
                    "ends_at": "17:00",
                    "slot_minutes": 60,
                    "valid_from": "2026-12-01",
                }
            ]
        },
    )

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")
    starts_at: time = Field(description="JST wall clock, HH:MM.")
    ends_at: time
    slot_minutes: Literal[30, 60] = 60
    valid_from: date | None = Field(default=None, description="Default: today.")
    valid_until: date | None = None


class AvailabilityOut(BaseModel):
    id: uuid.UUID
    weekday: int
    starts_at: str
    ends_at: str
    slot_minutes: int
    valid_from: date
    valid_until: date | None

    @classmethod
    def of(cls, a: CoordinatorAvailability) -> AvailabilityOut:
        return cls(
            id=a.id,
            weekday=a.weekday,
            starts_at=a.starts_at.strftime("%H:%M"),
            ends_at=a.ends_at.strftime("%H:%M"),
            slot_minutes=a.slot_minutes,
            valid_from=a.valid_from,
            valid_until=a.valid_until,
        )


class AvailabilityCreated(AvailabilityOut):
    slots_created: int = Field(description="Slots generated from it within the generation horizon.")


class CoordinatorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182",
                    "name": "高橋 誠",
                    "name_en": "Makoto Takahashi",
                    "title": "公認会計士",
                    "expertise": ["accounting", "funding"],
                    "bio": "中小企業の資金調達・会計を支援。",
                    "active": True,
                    "availability": [
                        {
                            "id": "3c4d5e6f-7081-4a92-8b3c-4d5e6f708192",
                            "weekday": 2,
                            "starts_at": "13:00",
                            "ends_at": "17:00",
                            "slot_minutes": 60,
                            "valid_from": "2026-12-01",
                            "valid_until": None,
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    name_en: str | None
    title: str | None
    expertise: list[str]
    bio: str | None
    active: bool
    availability: list[AvailabilityOut]

    @classmethod
    def of(cls, c: Coordinator, windows: list[CoordinatorAvailability]) -> CoordinatorOut:
        return cls(
            id=c.id,
            name=c.name,
            name_en=c.name_en,
            title=c.title,
            expertise=list(c.expertise),
            bio=c.bio,
            active=c.active,
            availability=[AvailabilityOut.of(w) for w in windows],
        )


class CoordinatorList(BaseModel):
    items: list[CoordinatorOut]


class SlotOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4d5e6f70-8192-4aa3-8c4d-5e6f708192a3",
                    "coordinator_id": "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182",
                    "start": "2026-12-02T13:00:00+09:00",
                    "end": "2026-12-02T14:00:00+09:00",
                    "minutes": 60,
                    "available": True,
                }
            ]
        }
    )

    id: uuid.UUID
    coordinator_id: uuid.UUID
    start: datetime
    end: datetime
    minutes: int
    available: bool

    @classmethod
    def of(cls, s: ConsultationSlot, *, available: bool) -> SlotOut:
        return cls(
            id=s.id,
            coordinator_id=s.coordinator_id,
            start=s.start_at.astimezone(JST),
            end=s.end_at.astimezone(JST),
            minutes=int((s.end_at - s.start_at).total_seconds() // 60),
            available=available,
        )


class SlotList(BaseModel):
    items: list[SlotOut]
    next_cursor: str | None = None


class SlotGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"days": 28}]})

    days: int = Field(default=28, ge=1, le=180, description="Generate from today for this many days.")


class SlotGenerated(BaseModel):
    slots_created: int


class ConsultationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slot_id": "4d5e6f70-8192-4aa3-8c4d-5e6f708192a3",
                    "member_id": "6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b",
                    "topic": "創業融資の申請書類について相談したい",
                }
            ]
        },
    )

    slot_id: uuid.UUID
    member_id: uuid.UUID
    topic: str = Field(min_length=1, max_length=500)


class ConsultationRecord(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "note": "事業計画を確認。販路開拓の相談はビジネスマッチングへつなぐ。",
                    "outcome": "referred_to_business_matching",
                }
            ]
        },
    )

    note: str = Field(min_length=1, max_length=10_000)
    outcome: Outcome


class ConsultationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5e6f7081-92a3-4bb4-8d5e-6f708192a3b4",
                    "slot_id": "4d5e6f70-8192-4aa3-8c4d-5e6f708192a3",
                    "coordinator_id": "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182",
                    "member_id": "6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b",
                    "start": "2026-12-02T13:00:00+09:00",
                    "end": "2026-12-02T14:00:00+09:00",
                    "topic": "創業融資の申請書類について相談したい",
                    "status": "completed",
                    "note": "事業計画を確認。販路開拓の相談はビジネスマッチングへつなぐ。",
                    "outcome": "referred_to_business_matching",
                    "recorded_at": "2026-12-02T14:05:00+09:00",
                    "created_at": "2026-11-29T10:00:00+09:00",
                    "cancelled_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    slot_id: uuid.UUID
    coordinator_id: uuid.UUID
    member_id: uuid.UUID
    start: datetime
    end: datetime
    topic: str
    status: ConsultationStatus
    note: str | None = Field(description="Staff and coordinators only; null for the member.")
    outcome: Outcome | None
    recorded_at: datetime | None
    created_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def of(cls, c: Consultation, slot: ConsultationSlot, *, show_note: bool) -> ConsultationOut:
        return cls(
            id=c.id,
            slot_id=c.slot_id,
            coordinator_id=slot.coordinator_id,
            member_id=c.member_id,
            start=slot.start_at.astimezone(JST),
            end=slot.end_at.astimezone(JST),
            topic=c.topic,
            status=c.status,  # type: ignore[arg-type]
            note=c.note if show_note else None,
            outcome=c.outcome,  # type: ignore[arg-type]
            recorded_at=_jst(c.recorded_at),
            created_at=c.created_at.astimezone(JST),
            cancelled_at=_jst(c.cancelled_at),
        )


class ConsultationList(BaseModel):
    items: list[ConsultationOut]
    next_cursor: str | None = None


class ConsultationCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"override_deadline": True}]})

    override_deadline: bool = Field(
        default=False, description="Staff only: cancel after the member's deadline."
    )
