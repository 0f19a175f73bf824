"""Personal data of members (APPI): export and anonymization. Admin only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.privacy import service
from services.netsugen_booking.privacy.schemas import AnonymizeResult, MemberExport
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/members", tags=["privacy"])


@router.get(
    "/{member_id}/export",
    response_model=MemberExport,
    summary="Export all data held about a member (admin)",
    description=(
        "For a request under the Act on the Protection of Personal Information (個人情報保護法): every row "
        "NETSUGEN holds about the member (member, named users, plan history, visits and their audit, "
        "invoices with lines and payments, bookings, event registrations, also those made as a guest with "
        "the member's email, consultations) and, read from the notifier with the caller's token, the "
        "notification preferences and delivery ledger. Hashes of card, feed and API tokens are never "
        "exported. `incomplete` names any part that could not be read."
    ),
    responses=problem_responses(401, 403, 404),
)
async def export_member(
    member_id: uuid.UUID,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.MEMBERS_EXPORT)],
    now: Now,
) -> MemberExport:
    settings = request.app.state.settings
    assert isinstance(settings, NetsugenSettings)
    await service.get_member(session, member_id)  # 404 before calling the notifier
    notifier, incomplete = await service.read_notifier(
        settings, request.headers.get("authorization"), member_id
    )
    return await service.export_member(session, member_id, now=now, notifier=notifier, incomplete=incomplete)


@router.post(
    "/{member_id}/anonymize",
    response_model=AnonymizeResult,
    summary="Anonymize a member who has left (admin)",
    description=(
        "Removes the personal fields of a member who has `left` (409 `member-not-left` otherwise): name, "
        "email and card token of the member and of its named users, guest registrations made with its "
        "email, consultation topics and notes, booking cancel reasons; deletes its calendar-feed secret "
        "and cached answers that contain it; revokes its API tokens. Visits, bookings and invoices stay "
        "for statistics and accounting; **invoices keep their own copy of the recipient's name** (a "
        "qualified invoice must be kept unaltered for 7 years). Emits no event. Repeating it changes "
        "nothing (`already_anonymized: true`)."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def anonymize_member(
    member_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_ANONYMIZE)], now: Now
) -> AnonymizeResult:
    return await service.anonymize_member(session, member_id, now=now)
