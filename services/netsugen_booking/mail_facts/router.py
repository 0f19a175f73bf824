"""The facts an email needs, for the notifier (``service`` token) or staff.

Events carry ids only (no names, rooms or amounts through Redis). When the notifier renders a mail
it asks here for the facts of the object the event names, preformatted in neither language: plain
values (JST dates and times, integer yen) that its templates word in the recipient's language.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy import select

from services.netsugen_booking.billing.models import Invoice
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.resources.models import Resource
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import NotFound, problem_responses
from shared.jst import JST
from shared.permissions import P, require

router = APIRouter(tags=["mail facts"])


@router.get(
    "/v1/bookings/{booking_id}/facts",
    summary="Facts of a booking for its emails (notifier)",
    description="Service or staff: room (ja/en), JST date, start and end (HH:MM), price in yen, status.",
    responses=problem_responses(401, 403, 404),
)
async def booking_facts(
    booking_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_CONTACT)]
) -> dict[str, Any]:
    row = (
        await session.execute(
            select(Booking, Resource)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(Booking.id == booking_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such booking.", detail_ja="該当する予約はありません。")
    booking, resource = row
    start, end = booking.start_at.astimezone(JST), booking.end_at.astimezone(JST)
    return {
        "room_ja": resource.name_ja,
        "room_en": resource.name_en,
        "date": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "price_yen": booking.price_yen,
        "status": booking.status,
    }


@router.get(
    "/v1/invoices/{invoice_id}/facts",
    summary="Facts of an invoice or credit note for its emails (notifier)",
    description=(
        "Service or staff: kind (`invoice` or `credit_note`), number, month (YYYY-MM), total and balance "
        "in yen, issue and due dates."
    ),
    responses=problem_responses(401, 403, 404),
)
async def invoice_facts(
    invoice_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.MEMBERS_CONTACT)]
) -> dict[str, Any]:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.", detail_ja="該当する請求書はありません。")
    return {
        "kind": invoice.kind,
        "number": invoice.number,
        "period": invoice.period_start.strftime("%Y-%m"),
        "total_yen": invoice.total_yen,
        "balance_yen": invoice.total_yen - invoice.paid_yen - invoice.credited_yen,
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
    }
