"""Members, their plan history, cards and corporate users.

Plan history rule: an assignment covers ``start_date``..``end_date`` (inclusive, NULL = open). A
change effective on day D ends the assignment covering D at D-1 and starts a new one on D. D is
never before today (JST), so a bill already computed for a past day can never change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.db import outbox
from services.netsugen_booking.members.cards import card_hash, new_card_token
from services.netsugen_booking.members.exceptions import (
    MemberGone,
    MemberHasOpenVisit,
    MemberLeft,
    MemberNotFound,
    MemberNotSuspended,
    MemberSuspended,
    MemberUserInactive,
    MemberUserNotFound,
    MemberUserRequired,
    NotCorporate,
    PlanChangeInPast,
    PlanNotAllowed,
    PlanUnchanged,
    UnknownCard,
    UserLimitReached,
)
from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment, member_number_seq
from services.netsugen_booking.plans.models import PLAN_CORPORATE_MONTHLY, PLAN_INDIVIDUAL_MONTHLY, Plan
from services.netsugen_booking.plans.service import get_plan
from shared.events import MemberRegistered
from shared.outbox import emit
from shared.pagination import paginate

#: Which plans each kind of member may have.
ALLOWED_PLANS: dict[str, frozenset[str]] = {
    "individual": frozenset({"dropin", PLAN_INDIVIDUAL_MONTHLY}),
    "corporate": frozenset({"dropin", PLAN_CORPORATE_MONTHLY}),
}


def format_member_number(n: int) -> str:
    return f"M{n:06d}"


def normalize_member_number(value: str) -> str:
    return value.strip().upper()


def check_plan_allowed(kind: str, plan: str) -> None:
    if plan not in ALLOWED_PLANS[kind]:
        allowed = ", ".join(sorted(ALLOWED_PLANS[kind]))
        raise PlanNotAllowed(
            f"A {kind} member cannot have the plan {plan}; allowed: {allowed}.",
            detail_ja=f"{'個人' if kind == 'individual' else '法人'}会員はプラン「{plan}」を利用できません(利用可能: {allowed})。",
        )


# ---- reading ----------------------------------------------------------------------------------
async def get_member(session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False) -> Member:
    member = await session.get(Member, member_id, with_for_update=for_update or None)
    if member is None:
        raise MemberNotFound(f"No member {member_id}.", detail_ja="該当する会員がいません。")
    return member


async def get_member_by_number(session: AsyncSession, member_number: str) -> Member:
    number = normalize_member_number(member_number)
    member = (await session.scalars(select(Member).where(Member.member_number == number))).first()
    if member is None:
        raise MemberNotFound(f"No member number {number}.", detail_ja=f"会員番号 {number} の会員はいません。")
    return member


async def find_by_card(session: AsyncSession, card_token: str) -> tuple[Member, MemberUser | None]:
    """The member (and, for a corporate user's card, the user) a card token belongs to."""
    digest = card_hash(card_token)
    member = (await session.scalars(select(Member).where(Member.card_token_hash == digest))).first()
    if member is not None:
        return member, None
    user = (await session.scalars(select(MemberUser).where(MemberUser.card_token_hash == digest))).first()
    if user is None:
        raise UnknownCard(
            "This card is not registered (or was replaced).",
            detail_ja="このカードは登録されていないか、再発行により無効になっています。",
        )
    return await get_member(session, user.member_id), user


async def get_user(session: AsyncSession, member: Member, user_id: uuid.UUID) -> MemberUser:
    user = await session.get(MemberUser, user_id)
    if user is None or user.member_id != member.id:
        raise MemberUserNotFound(
            f"Member {member.member_number} has no user {user_id}.",
            detail_ja=f"会員 {member.member_number} にこの利用者は登録されていません。",
        )
    return user


def ensure_can_visit(member: Member, user: MemberUser | None) -> None:
    """A suspended or departed member (or a deactivated corporate user) may not enter."""
    if member.status == "suspended":
        raise MemberSuspended(
            f"Membership {member.member_number} is suspended.",
            detail_ja=f"会員 {member.member_number} は利用停止中です。受付でご確認ください。",
            member_id=str(member.id),
        )
    if member.status == "left":
        raise MemberLeft(
            f"Member {member.member_number} has left.",
            detail_ja=f"会員 {member.member_number} は退会済みです。",
            member_id=str(member.id),
        )
    if user is not None and not user.active:
        raise MemberUserInactive(
            f"User {user.id} of member {member.member_number} is deactivated.",
            detail_ja=f"会員 {member.member_number} のこの利用者は無効化されています。",
        )


async def resolve_person(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None = None,
    member_number: str | None = None,
    card_token: str | None = None,
    member_user_id: uuid.UUID | None = None,
) -> tuple[Member, MemberUser | None]:
    """Who is at the desk: by member id, member number or card token (exactly one is given).

    A corporate member checks in per named user: by that user's card, or with ``member_user_id``.
    """
    user: MemberUser | None = None
    if card_token is not None:
        member, user = await find_by_card(session, card_token)
        # A corporate member's own card (no user on it) picks its named user through the desk's
        # chooser (member_user_id); a user's card is that user only.
        if member_user_id is not None and user is not None and user.id != member_user_id:
            raise MemberUserNotFound(
                "The card does not belong to that user.",
                detail_ja="このカードは指定された利用者のものではありません。",
            )
    elif member_number is not None:
        member = await get_member_by_number(session, member_number)
    elif member_id is not None:
        member = await get_member(session, member_id)
    else:  # the request schemas make this unreachable
        raise MemberNotFound("No member given.", detail_ja="会員が指定されていません。")
    if user is None and member_user_id is not None:
        if member.kind != "corporate":
            raise NotCorporate(
                "Only corporate members have named users; omit member_user_id.",
                detail_ja="利用者(member_user_id)の指定は法人会員のみです。",
            )
        user = await get_user(session, member, member_user_id)
    if member.kind == "corporate" and user is None:
        # The desk's chooser: the member's active named users, so the person can be picked.
        choices = (
            await session.execute(
                select(MemberUser.id, MemberUser.name)
                .where(MemberUser.member_id == member.id, MemberUser.active)
                .order_by(MemberUser.name, MemberUser.id)
                .limit(200)
            )
        ).all()
        raise MemberUserRequired(
            "A corporate member's users check in as themselves: give member_user_id (one of `users`) or the "
            "user's card.",
            detail_ja="法人会員は利用者ごとに入館します。利用者(member_user_id)を選ぶか、その利用者のカードを指定してください。",
            users=[{"id": str(c.id), "name": c.name} for c in choices],
        )
    return member, user


async def plans_on(session: AsyncSession, member_ids: Sequence[uuid.UUID], day: date) -> dict[uuid.UUID, str]:
    """The plan assigned to each member on ``day`` (members without one are absent)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(PlanAssignment.member_id, PlanAssignment.plan_code).where(
            PlanAssignment.member_id.in_(member_ids),
            PlanAssignment.start_date <= day,
            or_(PlanAssignment.end_date.is_(None), PlanAssignment.end_date >= day),
        )
    )
    return {r.member_id: r.plan_code for r in rows}


async def plan_on(session: AsyncSession, member_id: uuid.UUID, day: date) -> str | None:
    return (await plans_on(session, [member_id], day)).get(member_id)


async def plan_history(session: AsyncSession, member_id: uuid.UUID) -> Sequence[PlanAssignment]:
    return (
        await session.scalars(
            select(PlanAssignment)
            .where(PlanAssignment.member_id == member_id)
            .order_by(PlanAssignment.start_date)
        )
    ).all()


async def list_members(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    kind: str | None,
    member_number: str | None,
    q: str | None,
) -> tuple[list[Member], str | None]:
    """Oldest first (keyset on ``(created_at, id)``): ``(members, next_cursor)``."""
    stmt = select(Member)
    if status is not None:
        stmt = stmt.where(Member.status == status)
    if kind is not None:
        stmt = stmt.where(Member.kind == kind)
    if member_number is not None:
        stmt = stmt.where(Member.member_number == normalize_member_number(member_number))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(Member.name.ilike(pattern), Member.email.ilike(pattern), Member.member_number.ilike(pattern))
        )
    return await paginate(
        session, stmt, (Member.created_at, Member.id), limit=limit, cursor=cursor, scalars=True
    )


# ---- writing ----------------------------------------------------------------------------------
async def create_member(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    email: str,
    language: str,
    plan: str,
    plan_start: date,
    actor: str,
) -> tuple[Member, str]:
    """A new member with a card token (returned once) and its first plan assignment."""
    check_plan_allowed(kind, plan)
    await get_plan(session, plan)
    number = int(await session.scalar(member_number_seq.next_value()) or 0)
    token, digest = new_card_token()
    member = Member(
        member_number=format_member_number(number),
        kind=kind,
        name=name,
        email=email.strip(),
        language=language,
        status="active",
        card_token_hash=digest,
    )
    session.add(member)
    await session.flush()
    session.add(PlanAssignment(member_id=member.id, plan_code=plan, start_date=plan_start, created_by=actor))
    await session.flush()
    await emit(session, outbox, MemberRegistered(member_id=member.id))
    return member, token


def ensure_not_left(member: Member) -> None:
    if member.status == "left":
        raise MemberLeft(
            f"Member {member.member_number} has left; the record is read-only.",
            detail_ja=f"会員 {member.member_number} は退会済みのため変更できません。",
        )


async def update_member(session: AsyncSession, member: Member, changes: dict[str, Any]) -> Member:
    ensure_not_left(member)
    for field in ("name", "email", "language"):
        value = changes.get(field)
        if value is not None:
            setattr(member, field, value)
    await session.flush()
    return member


async def suspend(session: AsyncSession, member: Member, reason: str | None) -> Member:
    ensure_not_left(member)
    if member.status != "suspended":
        member.status = "suspended"
        member.status_reason = reason
        await session.flush()
    return member


async def reactivate(session: AsyncSession, member: Member) -> Member:
    ensure_not_left(member)
    if member.status != "suspended":
        raise MemberNotSuspended(
            f"Member {member.member_number} is not suspended.",
            detail_ja="この会員は利用停止中ではありません。",
        )
    member.status = "active"
    member.status_reason = None
    await session.flush()
    return member


async def _has_open_visit(session: AsyncSession, member_id: uuid.UUID) -> bool:
    from services.netsugen_booking.visits.models import Visit

    found = await session.scalar(
        select(Visit.id).where(Visit.member_id == member_id, Visit.check_out_at.is_(None)).limit(1)
    )
    return found is not None


async def leave(
    session: AsyncSession, member: Member, *, reason: str | None, now: datetime, today: date
) -> Member:
    """The member leaves today: plans end today, scheduled ones are dropped, no more check-ins."""
    if member.status == "left":
        return member
    if await _has_open_visit(session, member.id):
        raise MemberHasOpenVisit(
            f"Member {member.member_number} is checked in; check them out first.",
            detail_ja=f"会員 {member.member_number} は入館中です。先に退館処理をしてください。",
        )
    await _end_plans_from(session, member.id, today + timedelta(days=1))
    member.status = "left"
    member.status_reason = reason
    member.left_at = now
    await session.flush()
    return member


async def _end_plans_from(session: AsyncSession, member_id: uuid.UUID, day: date) -> None:
    """No plan from ``day`` on: drop assignments starting then or later, end the one covering it at day-1."""
    await session.execute(
        delete(PlanAssignment).where(PlanAssignment.member_id == member_id, PlanAssignment.start_date >= day)
    )
    covering = (
        await session.scalars(
            select(PlanAssignment).where(
                PlanAssignment.member_id == member_id,
                PlanAssignment.start_date < day,
                or_(PlanAssignment.end_date.is_(None), PlanAssignment.end_date >= day),
            )
        )
    ).first()
    if covering is not None:
        covering.end_date = day - timedelta(days=1)
    await session.flush()


#: How far back staff may back-date a plan change (the invoice runs catch up recent months).
MAX_BACKDATE_DAYS = 366


async def change_plan(
    session: AsyncSession,
    member: Member,
    *,
    plan: str,
    effective_from: date,
    today: date,
    actor: str,
    reason: str | None = None,
) -> Sequence[PlanAssignment]:
    """Change the plan from ``effective_from``. A past date (back-dated by staff) needs a reason and
    may not precede the member's first plan; the next invoice run bills the new plan's fee for the
    months it now covers (drop-in days already invoiced that the plan now covers are corrected by
    staff with a credit note, billing/README.md "Corrections")."""
    ensure_not_left(member)
    check_plan_allowed(member.kind, plan)
    if effective_from < today:
        if reason is None or not reason.strip():
            raise PlanChangeInPast(
                f"A plan change before today ({today}) is a back-dated correction: give a reason.",
                detail_ja=f"本日({today})より前の日付でプランを変更する場合は理由(reason)を入力してください。",
            )
        first = await session.scalar(
            select(func.min(PlanAssignment.start_date)).where(PlanAssignment.member_id == member.id)
        )
        earliest = max(first or today, today - timedelta(days=MAX_BACKDATE_DAYS))
        if effective_from < earliest:
            raise PlanChangeInPast(
                f"A back-dated plan change may not start before {earliest} (the member's first plan, at most "
                f"{MAX_BACKDATE_DAYS} days back).",
                detail_ja=f"さかのぼってのプラン変更は {earliest} 以降の日付にしてください。",
                earliest=earliest.isoformat(),
            )
    history = await plan_history(session, member.id)
    current = next(
        (
            a
            for a in history
            if a.start_date <= effective_from and (a.end_date is None or a.end_date >= effective_from)
        ),
        None,
    )
    later = [a for a in history if a.start_date > effective_from]
    if current is not None and current.plan_code == plan and current.end_date is None and not later:
        raise PlanUnchanged(
            f"Member {member.member_number} already has {plan} from {effective_from}.",
            detail_ja=f"会員 {member.member_number} は {effective_from} 時点で既にこのプランです。",
        )
    if current is not None and current.plan_code == plan:
        # Back to the plan already in effect that day (a scheduled change is called off): keep the
        # current assignment open-ended instead of splitting it.
        await session.execute(
            delete(PlanAssignment).where(
                PlanAssignment.member_id == member.id, PlanAssignment.start_date > effective_from
            )
        )
        current.end_date = None
        await session.flush()
        return await plan_history(session, member.id)
    await _end_plans_from(session, member.id, effective_from)
    session.add(
        PlanAssignment(
            member_id=member.id,
            plan_code=plan,
            start_date=effective_from,
            created_by=actor,
            reason=reason.strip() if reason else None,
        )
    )
    await session.flush()
    return await plan_history(session, member.id)


async def regenerate_card(session: AsyncSession, member: Member) -> str:
    ensure_not_left(member)
    token, digest = new_card_token()
    member.card_token_hash = digest
    await session.flush()
    return token


def contact_of(member: Member) -> Member:
    if member.status == "left":
        raise MemberGone(
            f"Member {member.member_number} has left; do not contact them.",
            detail_ja=f"会員 {member.member_number} は退会済みです。",
        )
    return member


# ---- corporate users --------------------------------------------------------------------------
async def _user_limit(session: AsyncSession, member: Member, today: date) -> int | None:
    code = await plan_on(session, member.id, today)
    if code is None:
        return None
    plan = await session.get(Plan, code)
    return plan.max_users if plan is not None else None


async def _check_user_limit(session: AsyncSession, member: Member, today: date) -> None:
    limit = await _user_limit(session, member, today)
    if limit is None:
        return
    active = int(
        await session.scalar(
            select(func.count())
            .select_from(MemberUser)
            .where(MemberUser.member_id == member.id, MemberUser.active.is_(True))
        )
        or 0
    )
    if active >= limit:
        raise UserLimitReached(
            f"The plan covers {limit} users and {active} are active.",
            detail_ja=f"このプランの利用者数の上限({limit}名)に達しています。",
            max_users=limit,
        )


async def add_user(
    session: AsyncSession, member: Member, *, name: str, email: str | None, today: date
) -> tuple[MemberUser, str]:
    """A named user of a corporate member (the member row is locked: the limit check cannot race)."""
    ensure_not_left(member)
    if member.kind != "corporate":
        raise NotCorporate(
            "Only corporate members have named users.", detail_ja="利用者を登録できるのは法人会員のみです。"
        )
    await _check_user_limit(session, member, today)
    token, digest = new_card_token()
    user = MemberUser(member_id=member.id, name=name, email=email, card_token_hash=digest, active=True)
    session.add(user)
    await session.flush()
    return user, token


async def list_users(session: AsyncSession, member_id: uuid.UUID) -> Sequence[MemberUser]:
    return (
        await session.scalars(
            select(MemberUser)
            .where(MemberUser.member_id == member_id)
            .order_by(MemberUser.created_at, MemberUser.id)
        )
    ).all()


async def update_user(
    session: AsyncSession, member: Member, user: MemberUser, changes: dict[str, Any], today: date
) -> MemberUser:
    ensure_not_left(member)
    if changes.get("active") is True and not user.active:
        await _check_user_limit(session, member, today)
    for field in ("name", "email", "active"):
        if field in changes and (changes[field] is not None or field == "email"):
            setattr(user, field, changes[field])
    await session.flush()
    return user


async def regenerate_user_card(session: AsyncSession, member: Member, user: MemberUser) -> str:
    ensure_not_left(member)
    token, digest = new_card_token()
    user.card_token_hash = digest
    await session.flush()
    return token
