from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.netsugen_booking.members.schemas import PersonName
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from shared.jst import JST

Category = Literal["seminar", "workshop", "pitch", "networking", "startup_program", "creator_lab"]
ProgramStatus = Literal["scheduled", "closed"]
RegistrationStatus = Literal["pending_confirmation", "confirmed", "waitlisted", "cancelled", "expired"]
Language = Literal["ja", "en"]


def _jst(dt: datetime | None) -> datetime | None:
    return dt.astimezone(JST) if dt is not None else None


class ProgramCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title_ja": "スタートアップピッチ vol.12",
                    "title_en": "Startup pitch vol. 12",
                    "description_ja": "県内スタートアップ5社によるピッチと交流会。",
                    "description_en": "Five Gunma startups pitch, then networking.",
                    "category": "startup_program",
                    "resource_id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "start": "2026-12-10T18:00:00+09:00",
                    "end": "2026-12-10T20:00:00+09:00",
                    "capacity": 40,
                    "registration_opens_at": "2026-11-20T10:00:00+09:00",
                    "registration_closes_at": "2026-12-10T12:00:00+09:00",
                    "public": True,
                }
            ]
        },
    )

    title_ja: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    description_ja: str = Field(default="", max_length=10_000)
    description_en: str = Field(default="", max_length=10_000)
    category: Category = Field(
        description="seminar, workshop, pitch, networking (交流事業), startup_program (スタートアップ支援事業) "
        "or creator_lab (クリエイターラボラトリー)."
    )
    resource_id: uuid.UUID | None = Field(
        default=None, description="The room it takes place in; the event books it for its whole time."
    )
    start: AwareDatetime
    end: AwareDatetime
    capacity: int = Field(ge=1, le=10_000)
    registration_opens_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    registration_closes_at: AwareDatetime | None = Field(default=None, description="Default: the start.")
    public: bool = Field(
        default=True, description="Public events are listed, in the feed, and open to guests."
    )


class ProgramOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                    "title_ja": "スタートアップピッチ vol.12",
                    "title_en": "Startup pitch vol. 12",
                    "description_ja": "県内スタートアップ5社によるピッチと交流会。",
                    "description_en": "Five Gunma startups pitch, then networking.",
                    "category": "startup_program",
                    "resource_id": "0b6a7d52-3c1e-5d7e-9f62-0a0d1c2b3e4f",
                    "start": "2026-12-10T18:00:00+09:00",
                    "end": "2026-12-10T20:00:00+09:00",
                    "capacity": 40,
                    "registration_opens_at": "2026-11-20T10:00:00+09:00",
                    "registration_closes_at": "2026-12-10T12:00:00+09:00",
                    "registration_open": True,
                    "public": True,
                    "status": "scheduled",
                    "confirmed_count": 38,
                    "waitlisted_count": 0,
                    "seats_left": 2,
                    "attendance_count": None,
                    "closed_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    category: Category
    resource_id: uuid.UUID | None
    start: datetime
    end: datetime
    capacity: int
    registration_opens_at: datetime
    registration_closes_at: datetime
    registration_open: bool = Field(description="Whether a registration made now would be accepted.")
    public: bool
    status: ProgramStatus
    confirmed_count: int
    waitlisted_count: int
    seats_left: int
    attendance_count: int | None = Field(description="Checked-in attendees, set when the event closes.")
    closed_at: datetime | None

    @classmethod
    def of(cls, p: Program, *, confirmed: int, waitlisted: int, now: datetime) -> ProgramOut:
        return cls(
            id=p.id,
            title_ja=p.title_ja,
            title_en=p.title_en,
            description_ja=p.description_ja,
            description_en=p.description_en,
            category=p.category,  # type: ignore[arg-type]
            resource_id=p.resource_id,
            start=p.start_at.astimezone(JST),
            end=p.end_at.astimezone(JST),
            capacity=p.capacity,
            registration_opens_at=p.registration_opens_at.astimezone(JST),
            registration_closes_at=p.registration_closes_at.astimezone(JST),
            registration_open=p.status == "scheduled"
            and p.registration_opens_at <= now < p.registration_closes_at,
            public=p.public,
            status=p.status,  # type: ignore[arg-type]
            confirmed_count=confirmed,
            waitlisted_count=waitlisted,
            seats_left=max(p.capacity - confirmed, 0),
            attendance_count=p.attendance_count,
            closed_at=_jst(p.closed_at),
        )


class ProgramList(BaseModel):
    items: list[ProgramOut]
    next_cursor: str | None = None


class Guest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PersonName = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    language: Language = "ja"


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"member_id": "6f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b"},
                {"guest": {"name": "山田 花子", "email": "hanako@example.jp", "language": "ja"}},
            ]
        },
    )

    member_id: uuid.UUID | None = Field(
        default=None, description="A member (member token: itself; or staff)."
    )
    guest: Guest | None = Field(default=None, description="A guest: no token needed for public events.")

    @model_validator(mode="after")
    def one_registrant(self) -> RegistrationCreate:
        if (self.member_id is None) == (self.guest is None):
            raise ValueError("give exactly one of member_id or guest")
        return self


class RegistrationCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"cancel_token": "gcx_4bVt0m9Qe1..."}]},
    )

    cancel_token: str | None = Field(
        default=None, max_length=200, description="A guest's secret from the registration answer."
    )


class RegistrationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "program_id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                    "member_id": None,
                    "guest_name": "山田 花子",
                    "guest_email": "hanako@example.jp",
                    "status": "pending_confirmation",
                    "waitlist_position": None,
                    "created_at": "2026-11-29T10:00:00+09:00",
                    "promoted_at": None,
                    "cancelled_at": None,
                    "checked_in_at": None,
                    "confirmed_at": None,
                    "confirmation_expires_at": "2026-11-29T11:00:00+09:00",
                    "cancel_token": "gcx_4bVt0m9Qe1...",
                }
            ]
        }
    )

    id: uuid.UUID
    program_id: uuid.UUID
    member_id: uuid.UUID | None
    guest_name: str | None
    guest_email: str | None
    status: RegistrationStatus
    waitlist_position: int | None = Field(description="1 = next to be promoted; null unless waitlisted.")
    created_at: datetime
    promoted_at: datetime | None
    cancelled_at: datetime | None
    checked_in_at: datetime | None
    confirmed_at: datetime | None = Field(
        default=None, description="Guests: when the guest confirmed from the emailed link."
    )
    confirmation_expires_at: datetime | None = Field(
        default=None,
        description="Guests while `pending_confirmation`: the registration lapses (and holds nothing) after this.",
    )
    cancel_token: str | None = Field(
        default=None, description="Guests only, shown once: the secret to cancel with."
    )

    @classmethod
    def of(
        cls, r: ProgramRegistration, *, position: int | None, cancel_token: str | None = None
    ) -> RegistrationOut:
        return cls(
            id=r.id,
            program_id=r.program_id,
            member_id=r.member_id,
            guest_name=r.guest_name,
            guest_email=r.guest_email,
            status=r.status,  # type: ignore[arg-type]
            waitlist_position=position if r.status == "waitlisted" else None,
            created_at=r.created_at.astimezone(JST),
            promoted_at=_jst(r.promoted_at),
            cancelled_at=_jst(r.cancelled_at),
            checked_in_at=_jst(r.checked_in_at),
            confirmed_at=_jst(r.confirmed_at),
            confirmation_expires_at=_jst(r.confirm_expires_at)
            if r.status == "pending_confirmation"
            else None,
            cancel_token=cancel_token,
        )


class RegistrationList(BaseModel):
    items: list[RegistrationOut]


class RegistrationContact(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "name": "山田 花子",
                    "email": "hanako@example.jp",
                    "language": "ja",
                    "status": "confirmed",
                }
            ]
        }
    )

    registration_id: uuid.UUID
    name: str
    email: str
    language: Language
    status: RegistrationStatus


class RegistrationConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "gco_Jm3kQ8v0aZ..."}]},
    )

    token: str = Field(
        min_length=1, max_length=200, description="The secret of the emailed confirmation link."
    )


class ConfirmationContact(BaseModel):
    """What the notifier needs for a guest's confirmation email (``service`` only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "name": "山田 花子",
                    "email": "hanako@example.jp",
                    "language": "ja",
                    "status": "pending_confirmation",
                    "confirmation_token": "gco_Jm3kQ8v0aZ...",
                    "expires_at": "2026-11-29T11:00:00+09:00",
                }
            ]
        }
    )

    registration_id: uuid.UUID
    name: str = Field(description="The guest's name, shortened and stripped of anything URL-like.")
    email: str
    language: Language
    status: RegistrationStatus
    confirmation_token: str = Field(
        description="A new one-time secret for the link; the previous one stops working."
    )
    expires_at: datetime
