from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment
from services.netsugen_booking.plans.schemas import PlanCode
from shared.jst import to_jst

MemberKind = Literal["individual", "corporate"]
MemberStatus = Literal["active", "suspended", "left"]
LanguageCode = Literal["ja", "en"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("a name must not contain control characters (line breaks, tabs …)")
    return value


#: A person's or company's name: it becomes an email display name, so no control characters
#: (security finding 10: a CR/LF there made every mail to the person fail).
PersonName = Annotated[str, AfterValidator(_no_control_characters)]

_MEMBER_EXAMPLE: dict[str, Any] = {
    "id": "0b7e4c1a-5d6f-4e3a-9b2c-1d0e8f7a6b5c",
    "member_number": "M000123",
    "kind": "individual",
    "name": "上州 太郎",
    "email": "taro@example.jp",
    "language": "ja",
    "status": "active",
    "current_plan": "individual_monthly",
    "left_at": None,
    "created_at": "2026-04-01T10:00:00+09:00",
    "updated_at": "2026-04-01T10:00:00+09:00",
}


class MemberCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "individual",
                    "name": "上州 太郎",
                    "email": "taro@example.jp",
                    "language": "ja",
                    "plan": "individual_monthly",
                    "plan_start": "2026-04-01",
                },
                {
                    "kind": "corporate",
                    "name": "株式会社ぐんまラボ",
                    "email": "office@gunma-lab.example.jp",
                    "language": "ja",
                    "plan": "corporate_monthly",
                    "plan_start": "2026-04-01",
                },
            ]
        },
    )

    kind: MemberKind
    name: PersonName = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    language: LanguageCode = "ja"
    plan: PlanCode
    plan_start: date | None = Field(default=None, description="First day of the plan; default today (JST).")


class MemberUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "new@example.jp", "language": "en"}]}
    )

    name: PersonName | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)
    language: LanguageCode | None = None

    @model_validator(mode="after")
    def _something(self) -> MemberUpdate:
        if self.name is None and self.email is None and self.language is None:
            raise ValueError("give at least one of name, email, language")
        return self


class MemberOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MEMBER_EXAMPLE]})

    id: uuid.UUID
    member_number: str = Field(description="Printed on the member's card.")
    kind: MemberKind
    name: str
    email: str
    language: LanguageCode
    status: MemberStatus
    current_plan: str | None = Field(description="The plan assigned for today (JST); null when none.")
    left_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Member, current_plan: str | None) -> MemberOut:
        return cls(
            id=m.id,
            member_number=m.member_number,
            kind=m.kind,  # type: ignore[arg-type]
            name=m.name,
            email=m.email,
            language=m.language,  # type: ignore[arg-type]
            status=m.status,  # type: ignore[arg-type]
            current_plan=current_plan,
            left_at=to_jst(m.left_at) if m.left_at else None,
            created_at=to_jst(m.created_at),
            updated_at=to_jst(m.updated_at),
        )


class MemberCreated(MemberOut):
    """The new member, with its card token. The token is shown only here (stored hashed)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_MEMBER_EXAMPLE, "card_token": "nsc_x1y2z3…"}]}
    )

    card_token: str | None = Field(
        description="Write it to the member's QR/IC card now: it is never shown again. Null in an "
        "Idempotency-Key replay, because the token is stored only as a hash (regenerate it instead)."
    )


class MemberList(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "会費未納"}]})

    reason: str | None = Field(default=None, max_length=500)


class PlanChange(BaseModel):
    """Change the plan from a date. The old assignment ends the day before.

    A date in the past (a back-dated change, e.g. "moved to the monthly plan on the 15th") needs a
    ``reason``; the next invoice run bills the difference."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"plan": "dropin", "effective_from": "2026-12-01"},
                {
                    "plan": "individual_monthly",
                    "effective_from": "2026-11-15",
                    "reason": "11/15 に月額へ変更の申込あり（記録漏れ）",
                },
            ]
        },
    )

    plan: PlanCode
    effective_from: date
    reason: str | None = Field(
        default=None, min_length=1, max_length=500, description="Required for a past date."
    )


class PlanAssignmentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5c1d…",
                    "plan": "individual_monthly",
                    "start_date": "2026-04-01",
                    "end_date": "2026-11-30",
                    "created_by": "front desk",
                    "created_at": "2026-04-01T10:00:00+09:00",
                }
            ]
        }
    )

    id: uuid.UUID
    plan: str
    start_date: date
    end_date: date | None = Field(description="Last day (inclusive); null = open-ended.")
    created_by: str | None
    created_at: datetime
    reason: str | None = Field(default=None, description="Why staff back-dated the change.")

    @classmethod
    def of(cls, a: PlanAssignment) -> PlanAssignmentOut:
        return cls(
            id=a.id,
            plan=a.plan_code,
            start_date=a.start_date,
            end_date=a.end_date,
            created_by=a.created_by,
            created_at=to_jst(a.created_at),
            reason=a.reason,
        )


class PlanHistory(BaseModel):
    member_id: uuid.UUID
    items: list[PlanAssignmentOut]


class CardTokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"member_id": "0b7e4c1a-…", "member_user_id": None, "card_token": "nsc_x1y2z3…"}]
        }
    )

    member_id: uuid.UUID
    member_user_id: uuid.UUID | None
    card_token: str = Field(description="The new token; the old one stops working. Shown only once.")


class MemberContact(BaseModel):
    """How to reach a member (for the notifier)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_id": "0b7e4c1a-…",
                    "name": "上州 太郎",
                    "email": "taro@example.jp",
                    "language": "ja",
                    "status": "active",
                }
            ]
        }
    )

    member_id: uuid.UUID
    name: str
    email: str
    language: LanguageCode
    status: MemberStatus


class MemberUserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "前橋 花子", "email": "hanako@gunma-lab.example.jp"}]},
    )

    name: PersonName = Field(min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)


class MemberUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    name: PersonName | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)
    active: bool | None = None


class MemberUserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9a8b…",
                    "member_id": "0b7e4c1a-…",
                    "name": "前橋 花子",
                    "email": "hanako@gunma-lab.example.jp",
                    "active": True,
                    "created_at": "2026-04-01T10:00:00+09:00",
                }
            ]
        }
    )

    id: uuid.UUID
    member_id: uuid.UUID
    name: str
    email: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, u: MemberUser) -> MemberUserOut:
        return cls(
            id=u.id,
            member_id=u.member_id,
            name=u.name,
            email=u.email,
            active=u.active,
            created_at=to_jst(u.created_at),
        )


class MemberUserCreated(MemberUserOut):
    card_token: str = Field(description="The user's card token; shown only here (stored hashed).")


class MemberUserList(BaseModel):
    items: list[MemberUserOut]
