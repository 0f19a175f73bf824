"""Members' notification preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from services.notifier.preferences import service
from services.notifier.preferences.schemas import PreferencesOut, PreferencesPatch, PreferencesUpdate
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import Forbidden, problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/preferences", tags=["preferences"])


def _check_acting_for(principal: Principal, member_id: uuid.UUID) -> None:
    if not principal.can_act_for_member(member_id):
        raise Forbidden(
            "A member may read and change only their own preferences.",
            detail_ja="ご自身の配信設定のみ確認・変更できます。",
        )


@router.get(
    "/{member_id}",
    summary="A member's notification preferences",
    description="The member (own id) or staff. Without any change every category is on.",
    response_model=PreferencesOut,
    responses=problem_responses(401, 403),
)
async def get_preferences(
    member_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.PREFERENCES_READ)]
) -> PreferencesOut:
    _check_acting_for(principal, member_id)
    return await service.get_preferences(session, member_id)


@router.put(
    "/{member_id}",
    summary="Set a member's notification preferences",
    description=(
        "The member (own id) or staff. The full set: a category left out is switched on (use PATCH to "
        "change one). Categories `activity` and `reminders` can be turned "
        "off; mail of a category turned off is recorded as `suppressed` in the ledger and not sent. "
        "`transactional` cannot be turned off: 422 `transactional-required`."
    ),
    response_model=PreferencesOut,
    responses=problem_responses(401, 403, 422),
)
async def put_preferences(
    member_id: uuid.UUID,
    body: PreferencesUpdate,
    session: DbSession,
    principal: Annotated[Principal, require(P.PREFERENCES_WRITE)],
) -> PreferencesOut:
    _check_acting_for(principal, member_id)
    return await service.put_preferences(
        session, member_id, body, by=f"{principal.role}:{principal.name}"[:200]
    )


@router.patch(
    "/{member_id}",
    summary="Change some of a member's notification preferences",
    description=(
        "The member (own id) or staff. Only the categories in the body change; the others stay as they "
        "were. `transactional` cannot be turned off: 422 `transactional-required`."
    ),
    response_model=PreferencesOut,
    responses=problem_responses(401, 403, 422),
)
async def patch_preferences(
    member_id: uuid.UUID,
    body: PreferencesPatch,
    session: DbSession,
    principal: Annotated[Principal, require(P.PREFERENCES_WRITE)],
) -> PreferencesOut:
    _check_acting_for(principal, member_id)
    return await service.patch_preferences(
        session, member_id, body, by=f"{principal.role}:{principal.name}"[:200]
    )
