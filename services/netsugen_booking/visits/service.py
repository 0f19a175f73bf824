"""Front desk: check-in, check-out, manual entry, correction, automatic check-out, occupancy.

Guarantees and how they hold under concurrency:

- One open visit per person and no overlapping visits are database constraints (see
  :mod:`.models`); a constraint violation becomes a clear 409, never a 500.
- Capacity: every check-in takes the transaction-scoped advisory lock ``CHECK_IN_LOCK`` before
  counting who is in, and keeps it until commit, so two check-ins can never both take the last place.
  Everything that does not need the lock is done before it; under it there are exactly two round
  trips: one statement that counts, inserts the visit (``ON CONFLICT DO NOTHING`` for the two
  constraints), its audit row and its outbox event, and the COMMIT.
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

import orjson
from sqlalchemy import and_, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.netsugen_booking.calendar.rules import DayHours
from services.netsugen_booking.calendar.service import hours_on
from services.netsugen_booking.db import outbox
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from services.netsugen_booking.members import service as members
from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment
from services.netsugen_booking.plans.models import PLAN_DROPIN
from services.netsugen_booking.visits.exceptions import (
    ManualEntryBeforeRegistration,
    ManualEntryMemberLeft,
    ManualEntryMemberSuspended,
    NoOpenVisit,
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
from shared.db import transaction_driver
from shared.events import EventData, VisitAutoCheckedOut, VisitCheckedIn, VisitCheckedOut, make_event
from shared.jst import jst_date, start_of_day_jst, to_jst
from shared.outbox import emit, event_row
from shared.pagination import paginate

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
            visit_id=visit.id,
            action=action,
            actor=actor.name,
            actor_role=actor.role,
            reason=reason,
            before=before,
            after=snapshot(visit),
            at=at,
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


async def open_visit_of(session: AsyncSession, member: Member, user: MemberUser | None) -> Visit:
    """The person's open visit, locked (a card scanned again at the desk checks out)."""
    visit = await session.scalar(
        select(Visit)
        .where(_person_filter(member.id, user.id if user else None), Visit.check_out_at.is_(None))
        .with_for_update()
    )
    if visit is None:
        raise NoOpenVisit(
            f"Member {member.member_number} is not checked in.",
            detail_ja=f"会員 {member.member_number} は入館していません。",
        )
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
            select(func.count())
            .select_from(Visit)
            .where(Visit.check_out_at.is_(None), Visit.check_in_at >= start_of_day_jst(today))
        )
        or 0
    )


async def list_visits(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    member_id: uuid.UUID | None,
    member_user_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
    is_open: bool | None,
) -> tuple[list[Visit], str | None]:
    """Newest check-in first (keyset on ``(check_in_at, id)``): ``(visits, next_cursor)``."""
    stmt = select(Visit)
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
    return await paginate(
        session,
        stmt,
        (Visit.check_in_at, Visit.id),
        limit=limit,
        cursor=cursor,
        descending=True,
        scalars=True,
    )


async def audit_of(session: AsyncSession, visit_id: uuid.UUID) -> Sequence[VisitAudit]:
    return (
        await session.scalars(
            select(VisitAudit).where(VisitAudit.visit_id == visit_id).order_by(VisitAudit.at, VisitAudit.id)
        )
    ).all()


# ---- closing ----------------------------------------------------------------------------------
async def _closing_of(
    session: AsyncSession, visit: Visit, cache: dict[date, datetime] | None = None
) -> datetime:
    """The closing instant of the visit's JST day (its check-in when that day is now closed)."""
    day = jst_date(visit.check_in_at)
    if cache is not None and day in cache:
        return max(cache[day], visit.check_in_at)
    closes = (await hours_on(session, day)).closes_at_dt()
    closes = closes if closes is not None else visit.check_in_at
    if cache is not None:
        cache[day] = closes
    return max(closes, visit.check_in_at)


async def _auto_close(session: AsyncSession, visit: Visit, *, closes: datetime, now: datetime) -> None:
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
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"netsugen.visit:{member_id}"},
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


# The person's plan today and open visits, taking the per-person lock first (see _flush_visit).
# The statement's snapshot predates the lock: the open-visit count is only a pre-check, the unique
# index and the exclusion constraint decide (the INSERT below).
_PERSON_SQL = """
    SELECT pg_advisory_xact_lock(hashtextextended($1, 0)) AS locked,
           (SELECT plan_code FROM netsugen.plan_assignment
             WHERE member_id = CAST($2 AS uuid) AND start_date <= CAST($3 AS date)
               AND (end_date IS NULL OR end_date >= CAST($3 AS date))
             ORDER BY start_date DESC LIMIT 1) AS plan_code,
           (SELECT count(*) FROM netsugen.visit
             WHERE member_id = CAST($2 AS uuid)
               AND member_user_id IS NOT DISTINCT FROM CAST($4 AS uuid)
               AND check_out_at IS NULL) AS open_visits
    """


def _announce(source: str, first: int) -> str:
    """The CTE writing the outbox event of each row of ``source`` (parameters ``$first`` … ``$first+3``:
    id, type, payload, request id — :func:`shared.outbox.event_row`)."""
    return (
        f"announced AS (INSERT INTO netsugen.outbox (id, event_type, payload, request_id) "
        f"SELECT CAST(${first} AS uuid), CAST(${first + 1} AS varchar), CAST(${first + 2} AS jsonb), "
        f"CAST(${first + 3} AS varchar) FROM {source}),"
    )


def check_in_sql(*, outbox: bool = True) -> str:
    """Under CHECK_IN_LOCK (taken by the previous statement, so this snapshot sees every committed
    check-in): count who is in, and only below capacity insert the visit, its audit row and (with
    ``outbox``) its outbox event. ON CONFLICT DO NOTHING covers the one-open-visit index and the
    no-overlap constraint: no row comes back and the transaction stays usable (no savepoint needed).
    ``outbox=False`` is the benchmark's baseline (bench/baselines/checkin.py): the same statement."""
    return f"""
    WITH inside AS (
        SELECT count(*) AS n FROM netsugen.visit
         WHERE check_out_at IS NULL AND check_in_at >= CAST($1 AS timestamptz)
    ), inserted AS (
        INSERT INTO netsugen.visit (id, member_id, member_user_id, check_in_at, check_out_at, source,
                                    auto_checked_out, plan_code, created_by)
        SELECT CAST($2 AS uuid), CAST($3 AS uuid), CAST($4 AS uuid),
               CAST($5 AS timestamptz), NULL, CAST($6 AS varchar), false,
               CAST($7 AS varchar), CAST($9 AS varchar)
          FROM inside WHERE inside.n < CAST($10 AS bigint)
        ON CONFLICT DO NOTHING
        RETURNING id, created_at, updated_at
    ), {_announce("inserted", 13) if outbox else ""} audited AS (
        INSERT INTO netsugen.visit_audit (id, visit_id, action, actor, actor_role, reason, before, after, at)
        SELECT CAST($11 AS uuid), inserted.id, 'check_in', CAST($9 AS varchar),
               CAST($8 AS varchar), NULL, NULL, CAST($12 AS jsonb), CAST($5 AS timestamptz)
          FROM inserted
    )
    SELECT inside.n AS inside, inserted.created_at, inserted.updated_at
      FROM inside LEFT JOIN inserted ON true
    """


def check_out_sql(*, outbox: bool = True) -> str:
    """Check-out: the update, its audit row and (with ``outbox``) its outbox event in one statement
    (the row is locked by the caller)."""
    return f"""
    WITH updated AS (
        UPDATE netsugen.visit SET check_out_at = CAST($1 AS timestamptz), updated_at = now()
         WHERE id = CAST($2 AS uuid) AND check_out_at IS NULL
        RETURNING id, updated_at
    ), {_announce("updated", 9) if outbox else ""} audited AS (
        INSERT INTO netsugen.visit_audit (id, visit_id, action, actor, actor_role, reason, before, after, at)
        SELECT CAST($3 AS uuid), updated.id, 'check_out', CAST($5 AS varchar),
               CAST($4 AS varchar), NULL, CAST($6 AS jsonb), CAST($7 AS jsonb),
               CAST($8 AS timestamptz)
          FROM updated
    )
    SELECT updated_at FROM updated
    """


_CHECK_IN_SQL = check_in_sql()
_CHECK_OUT_SQL = check_out_sql()


def _event_params(data: EventData) -> tuple[uuid.UUID, str, str, str | None]:
    """The outbox row of an event (id, type, payload as JSON text, request id) for the statements above."""
    row = event_row(make_event(data))
    return (row["id"], row["event_type"], orjson.dumps(row["payload"]).decode(), row["request_id"])


async def _close_stale_or_refuse(
    session: AsyncSession, member_id: uuid.UUID, user_id: uuid.UUID | None, now: datetime
) -> None:
    """The person has an open visit: close it if its day has closed (the job has not run yet), else 409."""
    open_visits = (
        await session.scalars(
            select(Visit)
            .where(_person_filter(member_id, user_id), Visit.check_out_at.is_(None))
            .with_for_update()
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
    await session.flush()


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
    user_id = user.id if user is not None else None
    driver = await transaction_driver(session)
    person = await driver.fetchrow(_PERSON_SQL, f"netsugen.visit:{member.id}", member.id, today, user_id)
    if person["open_visits"]:
        await _close_stale_or_refuse(session, member.id, user_id, now)
    visit = Visit(
        id=uuid.uuid4(),
        member_id=member.id,
        member_user_id=user_id,
        check_in_at=now,
        check_out_at=None,
        source=source,
        auto_checked_out=False,
        plan_code=person["plan_code"] or PLAN_DROPIN,
        created_by=actor.name,
    )
    event = _event_params(VisitCheckedIn(member_id=member.id, visit_id=visit.id))
    after = orjson.dumps(snapshot(visit)).decode()
    # Serialise check-ins until commit: the capacity count cannot be raced.
    await driver.execute("SELECT pg_advisory_xact_lock($1)", CHECK_IN_LOCK)
    row = await driver.fetchrow(
        _CHECK_IN_SQL,
        start_of_day_jst(today),
        visit.id,
        member.id,
        user_id,
        now,
        source,
        visit.plan_code,
        actor.role,
        actor.name,
        capacity,
        uuid.uuid4(),
        after,
        *event,
    )
    if row["created_at"] is None:
        inside = int(row["inside"])
        if inside >= capacity:
            raise SpaceFull(
                f"NETSUGEN is full: {inside} of {capacity} places are taken.",
                detail_ja=f"満席です(定員{capacity}名、現在{inside}名)。",
                capacity=capacity,
                count=inside,
            )
        existing = await session.scalar(
            select(Visit.id).where(_person_filter(member.id, user_id), Visit.check_out_at.is_(None))
        )
        if existing is not None:
            raise VisitAlreadyOpen(
                "Already checked in.", detail_ja="既に入館中です。", visit_id=str(existing)
            )
        raise VisitOverlap(
            "The visit overlaps another visit of the same person.",
            detail_ja="同じ利用者の別の入館記録と時間が重なっています。",
        )
    visit.created_at, visit.updated_at = row["created_at"], row["updated_at"]
    return visit


async def check_out(session: AsyncSession, visit: Visit, *, actor: Actor, now: datetime) -> Visit:
    """Close an open visit at ``now``, clipped to its day's closing time. A closed visit is returned as is.

    ``visit`` is locked by the caller (``get_visit(for_update=True)``).
    """
    if visit.check_out_at is not None:
        return visit
    closes = await _closing_of(session, visit)
    before = snapshot(visit)
    check_out_at = max(visit.check_in_at, min(now, closes))
    after = {**before, "check_out_at": _iso(check_out_at)}
    driver = await transaction_driver(session)
    updated_at = await driver.fetchval(
        _CHECK_OUT_SQL,
        check_out_at,
        visit.id,
        uuid.uuid4(),
        actor.role,
        actor.name,
        orjson.dumps(before).decode(),
        orjson.dumps(after).decode(),
        now,
        *_event_params(VisitCheckedOut(member_id=visit.member_id, visit_id=visit.id)),
    )
    if updated_at is None:  # the row is locked by the caller and was open: cannot happen
        raise RuntimeError(f"visit {visit.id} was not open when checking out")
    # The row changed in the database; the loaded object follows without being flushed again.
    set_committed_value(visit, "check_out_at", check_out_at)
    set_committed_value(visit, "updated_at", updated_at)
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
    session: AsyncSession,
    check_in_at: datetime,
    check_out_at: datetime | None,
    *,
    now: datetime,
    override: bool = False,
) -> datetime | None:
    """Times in order, not in the future, check-in within that day's opening hours (unless
    ``override``). Returns the check-out, clipped to the day's closing time as a live check-out is."""
    if check_out_at is not None and check_out_at <= check_in_at:
        raise TimesNotInOrder(
            "check_out_at must be after check_in_at.", detail_ja="退館時刻は入館時刻より後にしてください。"
        )
    if check_in_at > now or (check_out_at is not None and check_out_at > now):
        raise TimeInFuture("Visit times cannot be in the future.", detail_ja="未来の時刻は指定できません。")
    if override:
        return check_out_at
    hours = await _check_in_hours(session, check_in_at, what="check_in_at")
    closes = hours.closes_at_dt()
    if check_out_at is not None and closes is not None and check_out_at > closes:
        return closes
    return check_out_at


async def registered_on(session: AsyncSession, member: Member) -> date:
    """The day a member registered: the record's creation, or an earlier plan start given at
    registration (registration may be back-dated)."""
    first_plan = await session.scalar(
        select(func.min(PlanAssignment.start_date)).where(PlanAssignment.member_id == member.id)
    )
    created = jst_date(member.created_at)
    return min(created, first_plan) if first_plan is not None else created


_OVERRIDE_HINT = " Give override=true with an override_reason to record it anyway."
_OVERRIDE_HINT_JA = "記録する場合は override=true と override_reason（理由）を指定してください。"


async def check_membership_on(session: AsyncSession, member: Member, check_in_at: datetime) -> None:
    """A manual entry or correction is for a member who could visit that day: not suspended, not
    left by then, registered by then (409/422, each naming the override)."""
    day = jst_date(check_in_at)
    if member.status == "suspended":
        raise ManualEntryMemberSuspended(
            f"Member {member.member_number} is suspended." + _OVERRIDE_HINT,
            detail_ja=f"会員 {member.member_number} は利用停止中です。" + _OVERRIDE_HINT_JA,
            member_id=str(member.id),
        )
    if member.status == "left" and (member.left_at is None or check_in_at >= member.left_at):
        left = f" on {jst_date(member.left_at).isoformat()}" if member.left_at else ""
        raise ManualEntryMemberLeft(
            f"Member {member.member_number} had left{left}." + _OVERRIDE_HINT,
            detail_ja=f"会員 {member.member_number} はその日には退会済みです。" + _OVERRIDE_HINT_JA,
            member_id=str(member.id),
        )
    registered = await registered_on(session, member)
    if day < registered:
        raise ManualEntryBeforeRegistration(
            f"{day.isoformat()} is before member {member.member_number} registered ({registered.isoformat()})."
            + _OVERRIDE_HINT,
            detail_ja=f"{day.isoformat()} は会員 {member.member_number} の登録日（{registered.isoformat()}）より前です。"
            + _OVERRIDE_HINT_JA,
            registered_on=registered.isoformat(),
        )


def _audit_reason(reason: str, override_reason: str | None) -> str:
    text_ = reason.strip()
    if override_reason:
        text_ += f"（確認の上で記録 / override: {override_reason.strip()}）"
    return text_[:1100]


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
    override_reason: str | None = None,
) -> Visit:
    """Record a past visit (kiosk down …). The membership and opening-hours rules apply unless
    staff override them with a reason (audited); a check-out past closing is clipped to closing."""
    override = override_reason is not None
    if not override:
        await check_membership_on(session, member, check_in_at)
    clipped = await validate_times(session, check_in_at, check_out_at, now=now, override=override)
    assert clipped is not None
    check_out_at = clipped
    plan = await members.plan_on(session, member.id, jst_date(check_in_at)) or PLAN_DROPIN
    visit = Visit(
        member_id=member.id,
        member_user_id=user.id if user else None,
        check_in_at=check_in_at,
        check_out_at=check_out_at,
        source="manual",
        auto_checked_out=False,
        plan_code=plan,
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
    _audit(
        session,
        visit,
        action="manual_entry",
        actor=actor,
        before=None,
        reason=_audit_reason(reason, override_reason),
        at=now,
    )
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
    override_reason: str | None = None,
) -> Visit:
    """Correct a visit's times (the visit row is locked by the caller). Audited with before/after.

    The membership and opening-hours rules of a manual entry apply (unless overridden with a
    reason); a check-out past closing is clipped to closing."""
    new_in = check_in_at or visit.check_in_at
    new_out = check_out_at if check_out_at is not None else visit.check_out_at
    override = override_reason is not None
    if not override:
        member = await session.get(Member, visit.member_id)
        assert member is not None
        await check_membership_on(session, member, new_in)
    new_out = await validate_times(session, new_in, new_out, now=now, override=override)
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
    _audit(
        session,
        visit,
        action="correction",
        actor=actor,
        before=before,
        reason=_audit_reason(reason, override_reason),
        at=now,
    )
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
