"""Front desk: check-in, check-out, manual entry, correction, automatic check-out, occupancy.

Guarantees and how they hold under concurrency:

- One open visit per person and no overlapping visits are database constraints (see
  :mod:`.models`); a constraint violation becomes a clear 409, never a 500.
- Capacity: every check-in takes the transaction-scoped advisory lock ``CHECK_IN_LOCK`` before
  counting who is in, and keeps it until commit, so two check-ins can never both take the last place.
- Time after closing is never counted: a check-out is clipped to the closing time of the visit's
  day, and the closing-time job closes forgotten visits at that closing time.
- ``now`` is always a parameter (the API injects it; see ``frontdesk_common.clock``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.calendar.rules import DayHours
from services.netsugen_booking.calendar.service import hours_on
from services.netsugen_booking.db import outbox
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from services.netsugen_booking.members import service as members
from services.netsugen_booking.members.models import Member, MemberUser
from services.netsugen_booking.plans.models import PLAN_DROPIN
from services.netsugen_booking.visits.exceptions import (
    NotYourVisit,
    OutsideOpeningHours,
    SpaceClosed,
    SpaceFull,
    TimeInFuture,
    TimesNotInOrder,
    VisitAlreadyOpen,
    VisitNotFound,
    VisitOverlap,
)
from services.netsugen_booking.visits.models import Visit, VisitAudit
from shared.auth import Principal
from shared.events import VisitAutoCheckedOut, VisitCheckedIn, VisitCheckedOut
from shared.jst import jst_date, start_of_day_jst, to_jst
from shared.outbox import emit

#: pg_advisory_xact_lock key serialising check-ins (capacity check + insert). "NSCI".
CHECK_IN_LOCK = 0x4E534349

SYSTEM_ACTOR = "auto-checkout"
SYSTEM_ROLE = "system"

ONE_OPEN_INDEX = "uq_visit_one_open_per_person"
NO_OVERLAP = "visit_no_overlap"


@dataclass(frozen=True)
class Actor:
    name: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(name=principal.name[:200], role=principal.role)


SYSTEM = Actor(SYSTEM_ACTOR, SYSTEM_ROLE)


def _iso(dt: datetime | None) -> str | None:
    return to_jst(dt).isoformat() if dt is not None else None


def snapshot(v: Visit) -> dict[str, Any]:
    return {
        "member_id": str(v.member_id),
        "member_user_id": str(v.member_user_id) if v.member_user_id else None,
        "check_in_at": _iso(v.check_in_at),
        "check_out_at": _iso(v.check_out_at),
        "source": v.source,
        "auto_checked_out": v.auto_checked_out,
        "plan_code": v.plan_code,
    }


def _audit(
    session: AsyncSession,
    visit: Visit,
    *,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None,
    reason: str | None = None,
    at: datetime,
) -> None:
    session.add(
        VisitAudit(
            visit_id=visit.id, action=action, actor=actor.name, actor_role=actor.role, reason=reason,
            before=before, after=snapshot(visit), at=at,
        )
    )


def _hours_text(h: DayHours) -> str:
    if not h.open or h.opens_at is None or h.closes_at is None:
        return "closed"
    return f"{h.opens_at:%H:%M}–{h.closes_at:%H:%M}"


# ---- reading ----------------------------------------------------------------------------------
async def get_visit(session: AsyncSession, visit_id: uuid.UUID, *, for_update: bool = False) -> Visit:
    visit = await session.get(Visit, visit_id, with_for_update=for_update or None)
    if visit is None:
        raise VisitNotFound(f"No visit {visit_id}.", detail_ja="該当する入館記録はありません。")
    return visit


def ensure_visible(principal: Principal, visit: Visit) -> None:
    if not principal.can_act_for_member(visit.member_id):
        raise NotYourVisit(
            "This visit belongs to another member.", detail_ja="この入館記録は他の会員のものです。"
        )


def _person_filter(member_id: uuid.UUID, member_user_id: uuid.UUID | None) -> Any:
    if member_user_id is None:
        return and_(Visit.member_id == member_id, Visit.member_user_id.is_(None))
    return and_(Visit.member_id == member_id, Visit.member_user_id == member_user_id)


async def open_visits_today(session: AsyncSession, today: date) -> Sequence[Visit]:
    return (
        await session.scalars(
            select(Visit)
            .where(Visit.check_out_at.is_(None), Visit.check_in_at >= start_of_day_jst(today))
            .order_by(Visit.check_in_at)
        )
    ).all()


async def count_in(session: AsyncSession, today: date) -> int:
    """People in the space now: open visits checked in today (JST)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Visit).where(
                Visit.check_out_at.is_(None), Visit.check_in_at >= start_of_day_jst(today)
            )
        )
        or 0
    )


async def list_visits(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    member_id: uuid.UUID | None,
    member_user_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
    is_open: bool | None,
) -> Sequence[Visit]:
    """Newest check-in first (keyset on ``(check_in_at, id)``)."""
    stmt = select(Visit).order_by(Visit.check_in_at.desc(), Visit.id.desc()).limit(limit)
    if after is not None:
        stmt = stmt.where(
            or_(Visit.check_in_at < after[0], and_(Visit.check_in_at == after[0], Visit.id < after[1]))
        )
    if member_id is not None:
        stmt = stmt.where(Visit.member_id == member_id)
    if member_user_id is not None:
        stmt = stmt.where(Visit.member_user_id == member_user_id)
    if start is not None:
        stmt = stmt.where(Visit.check_in_at >= start_of_day_jst(start))
    if end is not None:
        stmt = stmt.where(Visit.check_in_at < start_of_day_jst(end + timedelta(days=1)))
    if is_open is True:
        stmt = stmt.where(Visit.check_out_at.is_(None))
    elif is_open is False:
        stmt = stmt.where(Visit.check_out_at.is_not(None))
    return (await session.scalars(stmt)).all()


async def audit_of(session: AsyncSession, visit_id: uuid.UUID) -> Sequence[VisitAudit]:
    return (
        await session.scalars(
            select(VisitAudit).where(VisitAudit.visit_id == visit_id).order_by(VisitAudit.at, VisitAudit.id)
        )
    ).all()


# ---- closing ----------------------------------------------------------------------------------
async def _closing_of(session: AsyncSession, visit: Visit, cache: dict[date, datetime] | None = None) -> datetime:
    """The closing instant of the visit's JST day (its check-in when that day is now closed)."""
    day = jst_date(visit.check_in_at)
    if cache is not None and day in cache:
        return max(cache[day], visit.check_in_at)
    closes = (await hours_on(session, day)).closes_at_dt()
    closes = closes if closes is not None else visit.check_in_at
    if cache is not None:
        cache[day] = closes
    return max(closes, visit.check_in_at)


async def _auto_close(
    session: AsyncSession, visit: Visit, *, closes: datetime, now: datetime
) -> None:
    before = snapshot(visit)
    visit.check_out_at = closes
    visit.auto_checked_out = True
    await session.flush()
    _audit(session, visit, action="auto_check_out", actor=SYSTEM, before=before, at=now)
    await emit(session, outbox, VisitAutoCheckedOut(member_id=visit.member_id, visit_id=visit.id))


async def auto_check_out(session: AsyncSession, *, now: datetime) -> list[uuid.UUID]:
    """Close every open visit whose day has closed, at that day's closing time. Idempotent.

    Rows another transaction is changing are skipped (``SKIP LOCKED``) and picked up next run.
    """
    visits = (
        await session.scalars(
            select(Visit)
            .where(Visit.check_out_at.is_(None), Visit.check_in_at <= now)
            .order_by(Visit.check_in_at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    cache: dict[date, datetime] = {}
    closed: list[uuid.UUID] = []
    for visit in visits:
        closes = await _closing_of(session, visit, cache)
        if now >= closes:
            await _auto_close(session, visit, closes=closes, now=now)
            closed.append(visit.id)
    await session.flush()
    return closed


# ---- check-in / check-out ---------------------------------------------------------------------
async def _flush_visit(
    session: AsyncSession, apply: Callable[[], None], *, member_id: uuid.UUID, open_conflict: Exception
) -> None:
    """Apply the change and flush it in a savepoint, turning the two constraints into 409 problems.

    Racing writes of one member's overlapping visits can deadlock inside the exclusion constraint's
    check; a per-member transaction lock orders them so the constraint answers each one cleanly.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"netsugen.visit:{member_id}"}
    )
    try:
        await flush_in_savepoint(session, apply)
    except IntegrityError as exc:
        name = constraint_name(exc)
        if name == ONE_OPEN_INDEX:
            raise open_conflict from exc
        if name == NO_OVERLAP:
            raise VisitOverlap(
                "The visit overlaps another visit of the same person.",
                detail_ja="同じ利用者の別の入館記録と時間が重なっています。",
            ) from exc
        raise


async def check_in(
    session: AsyncSession,
    *,
    member: Member,
    user: MemberUser | None,
    source: str,
    actor: Actor,
    now: datetime,
    capacity: int,
) -> Visit:
    members.ensure_can_visit(member, user)
    today = jst_date(now)
    hours = await hours_on(session, today)
    if not hours.contains(now):
        raise SpaceClosed(
            f"NETSUGEN is closed now (today: {_hours_text(hours)}).",
            detail_ja=(
                f"現在は開館時間外です(本日: {_hours_text(hours).replace('closed', '休館')}"
                f"{'・' + hours.reason if hours.reason else ''})。"
            ),
            opens_at=f"{hours.opens_at:%H:%M}" if hours.opens_at else None,
            closes_at=f"{hours.closes_at:%H:%M}" if hours.closes_at else None,
        )
    # Serialise check-ins until commit: the capacity count below cannot be raced.
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHECK_IN_LOCK})
    user_id = user.id if user is not None else None
    open_visits = (
        await session.scalars(
            select(Visit).where(_person_filter(member.id, user_id), Visit.check_out_at.is_(None)).with_for_update()
        )
    ).all()
    for visit in open_visits:
        closes = await _closing_of(session, visit)
        if now >= closes:  # left open on an earlier day and not yet closed by the job
            await _auto_close(session, visit, closes=closes, now=now)
            continue
        raise VisitAlreadyOpen(
            f"Already checked in since {to_jst(visit.check_in_at):%H:%M}.",
            detail_ja=f"既に入館中です({to_jst(visit.check_in_at):%H:%M} 入館)。",
            visit_id=str(visit.id),
        )
    inside = await count_in(session, today)
    if inside >= capacity:
        raise SpaceFull(
            f"NETSUGEN is full: {inside} of {capacity} places are taken.",
            detail_ja=f"満席です(定員{capacity}名、現在{inside}名)。",
            capacity=capacity, count=inside,
        )
    plan = await members.plan_on(session, member.id, today) or PLAN_DROPIN
    visit = Visit(
        member_id=member.id, member_user_id=user_id, check_in_at=now, check_out_at=None, source=source,
        auto_checked_out=False, plan_code=plan, created_by=actor.name,
    )
    await _flush_visit(
        session,
        lambda: session.add(visit),
        member_id=member.id,
        open_conflict=VisitAlreadyOpen("Already checked in.", detail_ja="既に入館中です。"),
    )
    _audit(session, visit, action="check_in", actor=actor, before=None, at=now)
    await emit(session, outbox, VisitCheckedIn(member_id=member.id, visit_id=visit.id))
    await session.flush()
    return visit


async def check_out(session: AsyncSession, visit: Visit, *, actor: Actor, now: datetime) -> Visit:
    """Close an open visit at ``now``, clipped to its day's closing time. A closed visit is returned as is."""
    if visit.check_out_at is not None:
        return visit
    closes = await _closing_of(session, visit)
    before = snapshot(visit)
    visit.check_out_at = max(visit.check_in_at, min(now, closes))
    await session.flush()
    _audit(session, visit, action="check_out", actor=actor, before=before, at=now)
    await emit(session, outbox, VisitCheckedOut(member_id=visit.member_id, visit_id=visit.id))
    await session.flush()
    # A drop-in day that has now reached the daily cap is announced once (visit.daily_cap_reached).
    from services.netsugen_booking.billing.service import record_daily_cap_if_reached

    await record_daily_cap_if_reached(session, visit.member_id, jst_date(visit.check_in_at))
    return visit


# ---- manual entry and correction --------------------------------------------------------------
async def _check_in_hours(session: AsyncSession, at: datetime, *, what: str) -> DayHours:
    hours = await hours_on(session, jst_date(at))
    if not hours.open:
        raise OutsideOpeningHours(
            f"NETSUGEN was closed on {hours.date} ({hours.reason or 'closed'}).",
            detail_ja=f"{hours.date} は休館日です{('(' + hours.reason + ')') if hours.reason else ''}。",
        )
    if not hours.contains(at):
        raise OutsideOpeningHours(
            f"{what} {to_jst(at):%H:%M} is outside the opening hours of {hours.date} ({_hours_text(hours)}).",
            detail_ja=f"{hours.date} の開館時間({_hours_text(hours)})外の時刻です。",
        )
    return hours


async def validate_times(
    session: AsyncSession, check_in_at: datetime, check_out_at: datetime | None, *, now: datetime
) -> None:
    """Times in order, not in the future, within one day's opening hours (check-out may equal closing)."""
    if check_out_at is not None and check_out_at <= check_in_at:
        raise TimesNotInOrder(
            "check_out_at must be after check_in_at.", detail_ja="退館時刻は入館時刻より後にしてください。"
        )
    if check_in_at > now or (check_out_at is not None and check_out_at > now):
        raise TimeInFuture("Visit times cannot be in the future.", detail_ja="未来の時刻は指定できません。")
    hours = await _check_in_hours(session, check_in_at, what="check_in_at")
    closes = hours.closes_at_dt()
    if check_out_at is not None and closes is not None and check_out_at > closes:
        raise OutsideOpeningHours(
            f"check_out_at {to_jst(check_out_at):%Y-%m-%d %H:%M} is after closing on {hours.date} "
            f"({_hours_text(hours)}).",
            detail_ja=f"退館時刻が {hours.date} の閉館時刻({hours.closes_at:%H:%M})を過ぎています。",
        )


async def manual_entry(
    session: AsyncSession,
    *,
    member: Member,
    user: MemberUser | None,
    check_in_at: datetime,
    check_out_at: datetime,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Visit:
    """Record a past visit (kiosk down …). Refused for a member who had left by then."""
    if member.status == "left" and member.left_at is not None and check_in_at >= member.left_at:
        members.ensure_can_visit(member, None)
    await validate_times(session, check_in_at, check_out_at, now=now)
    plan = await members.plan_on(session, member.id, jst_date(check_in_at)) or PLAN_DROPIN
    visit = Visit(
        member_id=member.id, member_user_id=user.id if user else None, check_in_at=check_in_at,
        check_out_at=check_out_at, source="manual", auto_checked_out=False, plan_code=plan,
        created_by=actor.name,
    )
    await _flush_visit(
        session,
        lambda: session.add(visit),
        member_id=member.id,
        open_conflict=VisitOverlap(
            "The visit overlaps another visit of the same person.",
            detail_ja="同じ利用者の別の入館記録と時間が重なっています。",
        ),
    )
    _audit(session, visit, action="manual_entry", actor=actor, before=None, reason=reason.strip(), at=now)
    await session.flush()
    return visit


async def correct(
    session: AsyncSession,
    visit: Visit,
    *,
    check_in_at: datetime | None,
    check_out_at: datetime | None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Visit:
    """Correct a visit's times (the visit row is locked by the caller). Audited with before/after."""
    new_in = check_in_at or visit.check_in_at
    new_out = check_out_at if check_out_at is not None else visit.check_out_at
    await validate_times(session, new_in, new_out, now=now)
    if new_in == visit.check_in_at and new_out == visit.check_out_at:
        return visit
    before = snapshot(visit)

    def apply() -> None:
        visit.check_in_at = new_in
        if check_out_at is not None:
            visit.check_out_at = new_out
            visit.auto_checked_out = False  # the time is now the staff's, not the closing-time job's

    await _flush_visit(
        session,
        apply,
        member_id=visit.member_id,
        open_conflict=VisitOverlap(
            "The visit overlaps another visit of the same person.",
            detail_ja="同じ利用者の別の入館記録と時間が重なっています。",
        ),
    )
    _audit(session, visit, action="correction", actor=actor, before=before, reason=reason.strip(), at=now)
    await session.flush()
    return visit


async def occupants(session: AsyncSession, today: date) -> list[tuple[Visit, str, str]]:
    """Open visits of today with the member number and the person's name."""
    rows = await session.execute(
        select(Visit, Member.member_number, func.coalesce(MemberUser.name, Member.name))
        .join(Member, Member.id == Visit.member_id)
        .outerjoin(MemberUser, MemberUser.id == Visit.member_user_id)
        .where(Visit.check_out_at.is_(None), Visit.check_in_at >= start_of_day_jst(today))
        .order_by(Visit.check_in_at)
    )
    return [(r[0], r[1], r[2]) for r in rows]
