"""Members: registration, plans, cards, corporate users, status. Staff manage; members read their own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.netsugen_booking.frontdesk_common import idempotency
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.idempotency import IdempotencyKeyHeader
from services.netsugen_booking.members import service
from services.netsugen_booking.members.models import Member
from services.netsugen_booking.members.schemas import (
    CardTokenOut,
    MemberContact,
    MemberCreate,
    MemberCreated,
    MemberKind,
    MemberList,
    MemberOut,
    MemberStatus,
    MemberUpdate,
    MemberUserCreate,
    MemberUserCreated,
    MemberUserList,
    MemberUserOut,
    MemberUserUpdate,
    PlanAssignmentOut,
    PlanChange,
    PlanHistory,
    StatusChange,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import Forbidden, problem_responses
from shared.jst import jst_date
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require
from shared.sessions import Account, AuthSession, session_id_of

router = APIRouter(prefix="/v1/members", tags=["members"])


def ensure_own(principal: Principal, member_id: uuid.UUID) -> None:
    if not principal.can_act_for_member(member_id):
        raise Forbidden(
            "A member token can only read its own member.", detail_ja="ご自身の会員情報のみ参照できます。"
        )


async def ensure_corporate_admin(session: DbSession, principal: Principal, member: Member) -> None:
    """Staff, or a corporate member acting as itself (its own sign-in or API token), manage its named
    users; a named user signed in as themselves does not (403)."""
    if principal.is_staff:
        return
    if principal.role == "member" and principal.can_act_for_member(member.id) and member.kind == "corporate":
        session_id = session_id_of(principal)
        named_user = None
        if session_id is not None:
            named_user = await session.scalar(
                select(Account.member_user_id)
                .join(AuthSession, AuthSession.account_id == Account.id)
                .where(AuthSession.id == session_id)
            )
        if named_user is None:
            return
    raise Forbidden(
        "Only staff or the corporate member's own account manage its users.",
        detail_ja="利用者の管理は、法人会員ご本人のアカウントまたはスタッフのみが行えます。",
    )


async def _out(session: DbSession, member: Member, now: datetime) -> MemberOut:
    return MemberOut.of(member, await service.plan_on(session, member.id, jst_date(now)))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberCreated,
    summary="Register a member",
    description=(
        "Staff. Creates an individual or corporate member with a member number (printed on the card), "
        "a card token (returned **once**, stored hashed) and its first plan from `plan_start` "
        "(default today, JST). Individuals may have `dropin` or `individual_monthly`; corporations "
        "`dropin` or `corporate_monthly`. Emits `member.registered`. Accepts `Idempotency-Key`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_member(
    body: MemberCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBERS_WRITE)],
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MemberCreated | JSONResponse:
    started = await idempotency.begin(
        session, key=idempotency_key, principal=principal, operation="POST /v1/members", body=body
    )
    if isinstance(started, JSONResponse):
        return started
    member, token = await service.create_member(
        session,
        kind=body.kind,
        name=body.name,
        email=str(body.email),
        language=body.language,
        plan=body.plan,
        plan_start=body.plan_start or jst_date(now),
        actor=principal.name,
    )
    out = MemberCreated(**(await _out(session, member, now)).model_dump(), card_token=token)
    if started is not None:
        # The remembered answer never holds the card token: secrets are stored only as hashes.
        await started.save(session, status.HTTP_201_CREATED, out.model_copy(update={"card_token": None}))
    return out


@router.get(
    "",
    summary="List members",
    description=(
        "Staff. Oldest first, with cursor pagination. Filters: `status`, `kind`, `member_number`, "
        "and `q` (part of the name, email or member number)."
    ),
    responses=problem_responses(401, 403),
)
async def list_members(
    session: DbSession,
    _: Annotated[Principal, require(P.MEMBERS_LIST)],
    now: Now,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status_: Annotated[MemberStatus | None, Query(alias="status")] = None,
    kind: MemberKind | None = None,
    member_number: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> MemberList:
    page, next_cursor = await service.list_members(
        session, limit=limit, cursor=cursor, status=status_, kind=kind, member_number=member_number, q=q
    )
    plans = await service.plans_on(session, [m.id for m in page], jst_date(now))
    return MemberList(items=[MemberOut.of(m, plans.get(m.id)) for m in page], next_cursor=next_cursor)


@router.get(
    "/{member_id}",
    summary="Read a member",
    description="Staff, or the member itself with a `member` token.",
    responses=problem_responses(401, 403, 404),
)
async def get_member(
    member_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBER_NAMES_READ)],
    now: Now,
) -> MemberOut:
    ensure_own(principal, member_id)
    return await _out(session, await service.get_member(session, member_id), now)


@router.patch(
    "/{member_id}",
    summary="Update a member's name, email or language",
    description="Staff. A member who has left is read-only (403 `member-left`).",
    responses=problem_responses(401, 403, 404),
)
async def update_member(
    member_id: uuid.UUID,
    body: MemberUpdate,
    session: DbSession,
    _: Annotated[Principal, require(P.MEMBERS_WRITE)],
    now: Now,
) -> MemberOut:
    member = await service.get_member(session, member_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if body.email is not None:
        changes["email"] = str(body.email)
    await service.update_member(session, member, changes)
    return await _out(session, member, now)


@router.get(
    "/{member_id}/contact",
    summary="How to reach a member (for the notifier)",
    description=(
        "Service or staff. Name, email, language and status, so the notifier can address a message. "
        "404 `member-not-found` for an unknown member; 410 `member-gone` for a member who has left."
    ),
    responses=problem_responses(401, 403, 404, 410),
)
async def get_contact(
    member_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_CONTACT)]
) -> MemberContact:
    member = service.contact_of(await service.get_member(session, member_id))
    return MemberContact(
        member_id=member.id,
        name=member.name,
        email=member.email,
        language=member.language,  # type: ignore[arg-type]
        status=member.status,  # type: ignore[arg-type]
    )


@router.post(
    "/{member_id}/suspend",
    summary="Suspend a membership",
    description="Staff. A suspended member cannot check in (403 `member-suspended`). Repeating it changes nothing.",
    responses=problem_responses(401, 403, 404),
)
async def suspend_member(
    member_id: uuid.UUID,
    body: StatusChange,
    session: DbSession,
    _: Annotated[Principal, require(P.MEMBERS_WRITE)],
    now: Now,
) -> MemberOut:
    member = await service.get_member(session, member_id, for_update=True)
    return await _out(session, await service.suspend(session, member, body.reason), now)


@router.post(
    "/{member_id}/reactivate",
    summary="Lift a suspension",
    description="Staff. 409 `member-not-suspended` when the member is not suspended.",
    responses=problem_responses(401, 403, 404, 409),
)
async def reactivate_member(
    member_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_WRITE)], now: Now
) -> MemberOut:
    member = await service.get_member(session, member_id, for_update=True)
    return await _out(session, await service.reactivate(session, member), now)


@router.post(
    "/{member_id}/leave",
    summary="Mark a member as left",
    description=(
        "Staff. The member leaves today (JST): the current plan ends today, scheduled plans are dropped, "
        "and check-ins are refused (403 `member-left`). 409 `member-has-open-visit` while checked in. "
        "Repeating it changes nothing."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def leave_member(
    member_id: uuid.UUID,
    body: StatusChange,
    session: DbSession,
    _: Annotated[Principal, require(P.MEMBERS_WRITE)],
    now: Now,
) -> MemberOut:
    member = await service.get_member(session, member_id, for_update=True)
    await service.leave(session, member, reason=body.reason, now=now, today=jst_date(now))
    return await _out(session, member, now)


@router.get(
    "/{member_id}/plans",
    summary="A member's plan history",
    description="Staff, or the member itself. Every assignment, oldest first; `end_date` is inclusive.",
    responses=problem_responses(401, 403, 404),
)
async def get_plan_history(
    member_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.MEMBERS_READ)]
) -> PlanHistory:
    ensure_own(principal, member_id)
    await service.get_member(session, member_id)
    rows = await service.plan_history(session, member_id)
    return PlanHistory(member_id=member_id, items=[PlanAssignmentOut.of(a) for a in rows])


@router.post(
    "/{member_id}/plan-changes",
    status_code=status.HTTP_201_CREATED,
    summary="Change a member's plan from a date",
    description=(
        "Staff. The plan changes on `effective_from` (JST): the assignment covering that day ends the "
        "day before and a new one starts; later assignments are replaced. A date in the past is a "
        'back-dated correction ("moved to the monthly plan on the 15th"): it needs a `reason` (kept on '
        "the assignment) and may not precede the member's first plan (422 `plan-change-in-past`); the "
        "next invoice run bills the difference. 409 `plan-unchanged` when nothing would change."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def change_plan(
    member_id: uuid.UUID,
    body: PlanChange,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBERS_WRITE)],
    now: Now,
) -> PlanHistory:
    member = await service.get_member(session, member_id, for_update=True)
    rows = await service.change_plan(
        session,
        member,
        plan=body.plan,
        effective_from=body.effective_from,
        today=jst_date(now),
        actor=principal.name,
        reason=body.reason,
    )
    return PlanHistory(member_id=member_id, items=[PlanAssignmentOut.of(a) for a in rows])


@router.post(
    "/{member_id}/card-token",
    summary="Issue a new card token",
    description=(
        "Staff, or the corporate member's own account (not a named user). The old card stops working at "
        "once. The new token is returned only here."
    ),
    responses=problem_responses(401, 403, 404),
)
async def regenerate_card(
    member_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_WRITE)]
) -> CardTokenOut:
    member = await service.get_member(session, member_id, for_update=True)
    token = await service.regenerate_card(session, member)
    return CardTokenOut(member_id=member.id, member_user_id=None, card_token=token)


# ---- corporate users --------------------------------------------------------------------------
@router.post(
    "/{member_id}/users",
    status_code=status.HTTP_201_CREATED,
    summary="Add a named user to a corporate member",
    description=(
        "Staff, or the corporate member's own account (not a named user). The user checks in as themselves "
        "with their own card (token returned once). The plan's "
        "`max_users` limits active users (409 `user-limit-reached`); unset means unlimited."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_user(
    member_id: uuid.UUID,
    body: MemberUserCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBER_USERS_WRITE)],
    now: Now,
) -> MemberUserCreated:
    ensure_own(principal, member_id)
    member = await service.get_member(session, member_id, for_update=True)
    await ensure_corporate_admin(session, principal, member)
    user, token = await service.add_user(
        session, member, name=body.name, email=str(body.email) if body.email else None, today=jst_date(now)
    )
    return MemberUserCreated(**MemberUserOut.of(user).model_dump(), card_token=token)


@router.get(
    "/{member_id}/users",
    summary="List a corporate member's users",
    description="Staff, or the member itself.",
    responses=problem_responses(401, 403, 404),
)
async def list_users(
    member_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.MEMBERS_READ)]
) -> MemberUserList:
    ensure_own(principal, member_id)
    await service.get_member(session, member_id)
    return MemberUserList(items=[MemberUserOut.of(u) for u in await service.list_users(session, member_id)])


@router.patch(
    "/{member_id}/users/{user_id}",
    summary="Update or (de)activate a corporate user",
    description=(
        "Staff, or the corporate member's own account (not a named user). Reactivating counts against "
        "the plan's `max_users`."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def update_user(
    member_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberUserUpdate,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBER_USERS_WRITE)],
    now: Now,
) -> MemberUserOut:
    ensure_own(principal, member_id)
    member = await service.get_member(session, member_id, for_update=True)
    await ensure_corporate_admin(session, principal, member)
    user = await service.get_user(session, member, user_id)
    changes = body.model_dump(exclude_unset=True)
    if body.email is not None:
        changes["email"] = str(body.email)
    return MemberUserOut.of(await service.update_user(session, member, user, changes, jst_date(now)))


@router.post(
    "/{member_id}/users/{user_id}/card-token",
    summary="Issue a new card token for a corporate user",
    description=(
        "Staff, or the corporate member's own account (not a named user). The old card stops working at "
        "once. The new token is returned only here."
    ),
    responses=problem_responses(401, 403, 404),
)
async def regenerate_user_card(
    member_id: uuid.UUID,
    user_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.MEMBER_USERS_WRITE)],
) -> CardTokenOut:
    ensure_own(principal, member_id)
    member = await service.get_member(session, member_id, for_update=True)
    await ensure_corporate_admin(session, principal, member)
    user = await service.get_user(session, member, user_id)
    token = await service.regenerate_user_card(session, member, user)
    return CardTokenOut(member_id=member.id, member_user_id=user.id, card_token=token)
