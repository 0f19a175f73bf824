"""Look-ups shared by bookings, events and consultations: members, a day's opening hours."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings.exceptions import (
    MemberNotActive,
    NotYourMember,
    UnknownMember,
    UnsupportedDate,
)
from services.netsugen_booking.calendar import service as calendar_service
from services.netsugen_booking.calendar.rules import (
    HOLIDAY_CALENDAR_FIRST_YEAR,
    HOLIDAY_CALENDAR_LAST_YEAR,
    DayHours,
    Language,
)
from services.netsugen_booking.members.models import Member
from shared.auth import Principal
from shared.jst import jst_date


def ensure_can_act_for(principal: Principal, member_id: uuid.UUID) -> None:
    """Members act for themselves only; staff for anyone."""
    if not principal.can_act_for_member(member_id):
        raise NotYourMember(
            "A member token can only act for its own member.",
            detail_ja="会員トークンでは本人の予約・申込のみ行えます。",
        )


def member_subject(principal: Principal) -> uuid.UUID:
    """The member id a member token stands for."""
    try:
        return uuid.UUID(str(principal.subject))
    except ValueError as exc:
        raise NotYourMember(
            "This member token names no member.", detail_ja="この会員トークンには会員が設定されていません。"
        ) from exc


async def active_member(session: AsyncSession, member_id: uuid.UUID) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise UnknownMember(f"No member {member_id}.", detail_ja="指定された会員は存在しません。")
    if member.status != "active":
        raise MemberNotActive(
            f"Member {member.member_number} is {member.status}.",
            detail_ja=f"会員{member.member_number}は{'休止中' if member.status == 'suspended' else '退会済み'}です。",
        )
    return member


async def hours_of(session: AsyncSession, at: datetime, *, language: Language = "ja") -> DayHours:
    """Opening hours (closures and special hours applied) of the JST day of ``at``; reasons in ``language``."""
    day = jst_date(at)
    if not HOLIDAY_CALENDAR_FIRST_YEAR <= day.year <= HOLIDAY_CALENDAR_LAST_YEAR:
        raise UnsupportedDate(
            f"The calendar covers {HOLIDAY_CALENDAR_FIRST_YEAR}–{HOLIDAY_CALENDAR_LAST_YEAR}.",
            detail_ja=f"カレンダーは{HOLIDAY_CALENDAR_FIRST_YEAR}年〜{HOLIDAY_CALENDAR_LAST_YEAR}年のみ対応しています。",
        )
    return await calendar_service.hours_on(session, day, language=language)
