from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.netsugen_booking.visits.models import Visit, VisitAudit
from shared.jst import to_jst

_VISIT_EXAMPLE: dict[str, Any] = {
    "id": "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09",
    "member_id": "0b7e4c1a-5d6f-4e3a-9b2c-1d0e8f7a6b5c",
    "member_user_id": None,
    "check_in_at": "2026-10-05T14:00:00+09:00",
    "check_out_at": "2026-10-05T16:30:00+09:00",
    "open": False,
    "minutes": 150,
    "source": "card",
    "auto_checked_out": False,
    "plan_code": "dropin",
    "created_by": "front desk",
    "created_at": "2026-10-05T14:00:00+09:00",
    "updated_at": "2026-10-05T16:30:00+09:00",
}


class CheckInRequest(BaseModel):
    """Who is checking in: exactly one of ``member_id``, ``member_number`` or ``card_token``.

    A corporate member's users check in as themselves: with their own card, or with the member and
    ``member_user_id``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"card_token": "nsc_x1y2z3…"},
                {"member_number": "M000123"},
                {
                    "member_id": "0b7e4c1a-5d6f-4e3a-9b2c-1d0e8f7a6b5c",
                    "member_user_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                },
            ]
        },
    )

    member_id: uuid.UUID | None = None
    member_number: str | None = Field(default=None, min_length=1, max_length=16)
    card_token: str | None = Field(default=None, min_length=1, max_length=100)
    member_user_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CheckInRequest:
        given = [v for v in (self.member_id, self.member_number, self.card_token) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of member_id, member_number, card_token")
        return self


_OVERRIDE_DOC = (
    "Record it although the member was suspended, had left, had not registered yet on that day, or "
    "the time is outside opening hours. Requires `override_reason`; both are kept in the audit log."
)


def _check_override(override: bool, reason: str | None) -> None:
    if override and not (reason or "").strip():
        raise ValueError("override requires a non-blank override_reason")
    if not override and reason is not None:
        raise ValueError("override_reason is only for override=true")


class ManualVisitCreate(BaseModel):
    """A visit recorded afterwards (kiosk down …). Both times within that day's opening hours, in the past."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_number": "M000123",
                    "check_in_at": "2026-10-05T10:30:00+09:00",
                    "check_out_at": "2026-10-05T12:00:00+09:00",
                    "reason": "受付端末の故障のため手入力",
                }
            ]
        },
    )

    member_id: uuid.UUID | None = None
    member_number: str | None = Field(default=None, min_length=1, max_length=16)
    member_user_id: uuid.UUID | None = None
    check_in_at: AwareDatetime
    check_out_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)
    override: bool = Field(default=False, description=_OVERRIDE_DOC)
    override_reason: str | None = Field(default=None, max_length=500, description="Required with `override`.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ManualVisitCreate:
        if (self.member_id is None) == (self.member_number is None):
            raise ValueError("give exactly one of member_id, member_number")
        if not self.reason.strip():
            raise ValueError("reason must not be blank")
        _check_override(self.override, self.override_reason)
        return self


class VisitCorrection(BaseModel):
    """Correct a visit's times. The reason is required and kept in the audit log."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"check_out_at": "2026-10-05T17:00:00+09:00", "reason": "退館時のカード読み取り漏れ"}
            ]
        },
    )

    check_in_at: AwareDatetime | None = None
    check_out_at: AwareDatetime | None = None
    reason: str = Field(min_length=1, max_length=500)
    override: bool = Field(default=False, description=_OVERRIDE_DOC)
    override_reason: str | None = Field(default=None, max_length=500, description="Required with `override`.")

    @model_validator(mode="after")
    def _something(self) -> VisitCorrection:
        if self.check_in_at is None and self.check_out_at is None:
            raise ValueError("give check_in_at and/or check_out_at (a visit cannot be reopened)")
        if not self.reason.strip():
            raise ValueError("reason must not be blank")
        _check_override(self.override, self.override_reason)
        return self


class VisitOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_VISIT_EXAMPLE]})

    id: uuid.UUID
    member_id: uuid.UUID
    member_user_id: uuid.UUID | None
    check_in_at: datetime = Field(description="JST (+09:00).")
    check_out_at: datetime | None = Field(description="JST (+09:00); null while checked in.")
    open: bool
    minutes: int | None = Field(description="Whole minutes between check-in and check-out.")
    source: Literal["desk", "card", "manual"]
    auto_checked_out: bool = Field(description="Closed by the closing-time job, not at the desk.")
    plan_code: str = Field(description="The member's plan on the day (dropin when none).")
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, v: Visit) -> VisitOut:
        minutes = None
        if v.check_out_at is not None:
            minutes = int((v.check_out_at - v.check_in_at).total_seconds() // 60)
        return cls(
            id=v.id,
            member_id=v.member_id,
            member_user_id=v.member_user_id,
            check_in_at=to_jst(v.check_in_at),
            check_out_at=to_jst(v.check_out_at) if v.check_out_at else None,
            open=v.check_out_at is None,
            minutes=minutes,
            source=v.source,  # type: ignore[arg-type]
            auto_checked_out=v.auto_checked_out,
            plan_code=v.plan_code,
            created_by=v.created_by,
            created_at=to_jst(v.created_at),
            updated_at=to_jst(v.updated_at),
        )


class VisitList(BaseModel):
    items: list[VisitOut]
    next_cursor: str | None


class AuditOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1f2e…",
                    "visit_id": "7d3c…",
                    "action": "correction",
                    "actor": "front desk",
                    "actor_role": "staff",
                    "reason": "退館時のカード読み取り漏れ",
                    "before": {"check_in_at": "2026-10-05T14:00:00+09:00", "check_out_at": None},
                    "after": {
                        "check_in_at": "2026-10-05T14:00:00+09:00",
                        "check_out_at": "2026-10-05T17:00:00+09:00",
                    },
                    "at": "2026-10-06T10:00:00+09:00",
                }
            ]
        }
    )

    id: uuid.UUID
    visit_id: uuid.UUID
    action: Literal["check_in", "check_out", "auto_check_out", "manual_entry", "correction"]
    actor: str
    actor_role: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    at: datetime

    @classmethod
    def of(cls, a: VisitAudit) -> AuditOut:
        return cls(
            id=a.id,
            visit_id=a.visit_id,
            action=a.action,  # type: ignore[arg-type]
            actor=a.actor,
            actor_role=a.actor_role,
            reason=a.reason,
            before=a.before,
            after=a.after,
            at=to_jst(a.at),
        )


class AuditList(BaseModel):
    items: list[AuditOut]


class Occupant(BaseModel):
    visit_id: uuid.UUID
    member_id: uuid.UUID
    member_number: str
    member_user_id: uuid.UUID | None
    name: str = Field(description="The member's name, or the corporate user's.")
    check_in_at: datetime


class OccupancyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-10-05T14:05:00+09:00",
                    "open_now": True,
                    "opens_at": "10:00",
                    "closes_at": "21:00",
                    "count": 1,
                    "capacity": 80,
                    "available": 79,
                    "visitors": [
                        {
                            "visit_id": "7d3c…",
                            "member_id": "0b7e…",
                            "member_number": "M000123",
                            "member_user_id": None,
                            "name": "上州 太郎",
                            "check_in_at": "2026-10-05T14:00:00+09:00",
                        }
                    ],
                }
            ]
        }
    )

    as_of: datetime
    open_now: bool
    opens_at: str | None
    closes_at: str | None
    count: int
    capacity: int
    available: int
    visitors: list[Occupant]
