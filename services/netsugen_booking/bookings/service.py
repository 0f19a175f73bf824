"""Bookings: make, cancel, list. The exclusion constraint is the guarantee against double booking;
the checks here only give friendly answers for the common mistakes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings import rules
from services.netsugen_booking.bookings.common import active_member, hours_of
from services.netsugen_booking.bookings.exceptions import (
    BookingEnded,
    BookingNotFound,
    CancellationDeadlinePassed,
    HeldByEvent,
    NotYourMember,
    ResourceInactive,
    SlotTaken,
    UnknownResource,
)
from services.netsugen_booking.bookings.models import BOOKING_NO_OVERLAP, Booking
from services.netsugen_booking.calendar.rules import Language
from services.netsugen_booking.db import outbox
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from services.netsugen_booking.resources.models import Resource
from shared.auth import Principal
from shared.events import BookingCancelled, BookingConfirmed
from shared.jst import start_of_day_jst
from shared.outbox import emit
from shared.pagination import paginate


def slot_taken(name_en: str, name_ja: str) -> SlotTaken:
    return SlotTaken(
        f"{name_en} is already booked for part of that time.",
        detail_ja=f"{name_ja}はその時間帯の一部が既に予約されています。",
    )


async def bookable_resource(session: AsyncSession, resource_id: uuid.UUID) -> Resource:
    resource = await session.get(Resource, resource_id)
    if resource is None:
        raise UnknownResource(f"No resource {resource_id}.", detail_ja="指定されたリソースは存在しません。")
    if not resource.active:
        raise ResourceInactive(
            f"{resource.name_en} is not bookable at the moment.",
            detail_ja=f"{resource.name_ja}は現在予約できません。",
        )
    return resource


async def insert_booking(session: AsyncSession, booking: Booking, resource: Resource) -> Booking:
    """Insert, turning the exclusion-constraint violation into 409 ``slot-taken``."""
    names = (resource.name_en, resource.name_ja)  # read before a failed savepoint can expire them
    # Concurrent inserts of overlapping ranges can deadlock inside the exclusion constraint's
    # check (each waits for the other's uncommitted row). Serialising the inserts of one resource
    # makes the constraint decide cleanly: the first commits, the rest get 409. The constraint
    # stays the guarantee; the lock only orders the contenders.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"netsugen.booking:{resource.id}"},
    )
    try:
        await flush_in_savepoint(session, lambda: session.add(booking))
    except IntegrityError as exc:
        if constraint_name(exc) == BOOKING_NO_OVERLAP:
            raise slot_taken(*names) from exc
        raise
    return booking


async def create_booking(
    session: AsyncSession,
    *,
    resource_id: uuid.UUID,
    member_id: uuid.UUID,
    start: datetime,
    end: datetime,
    principal: Principal,
    now: datetime,
    language: Language = "ja",
) -> Booking:
    resource = await bookable_resource(session, resource_id)
    await active_member(session, member_id)
    rules.check_times_in_order(start, end)
    hours = await hours_of(session, start, language=language)
    rules.check_bookable(start, end, grid_minutes=resource.grid_minutes, hours=hours, now=now)
    booking = Booking(
        resource_id=resource.id,
        member_id=member_id,
        start_at=start,
        end_at=end,
        status="confirmed",
        price_yen=rules.price_yen(resource.price_per_hour_yen, start, end),
        created_by=principal.name,
        created_at=now,
    )
    await insert_booking(session, booking, resource)
    await emit(session, outbox, BookingConfirmed(member_id=member_id, booking_id=booking.id))
    return booking


def cancellation_deadline(booking: Booking, deadline_hours: int) -> datetime:
    return booking.start_at - timedelta(hours=deadline_hours)


async def get_booking(
    session: AsyncSession, booking_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> Booking:
    booking = await session.get(Booking, booking_id, with_for_update=for_update or None)
    # Another member's booking is "not found" for a member: its existence is not theirs to know.
    if booking is None or (
        not principal.is_staff
        and (booking.member_id is None or not principal.can_act_for_member(booking.member_id))
    ):
        raise BookingNotFound(f"No booking {booking_id}.", detail_ja="指定された予約は存在しません。")
    return booking


async def cancel_booking(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    principal: Principal,
    now: datetime,
    reason: str | None,
    override_deadline: bool,
    deadline_hours: int,
) -> Booking:
    if override_deadline and not principal.is_staff:
        raise NotYourMember(
            "Only staff may override the cancellation deadline.",
            detail_ja="キャンセル期限を超えての取消はスタッフのみ行えます。",
        )
    booking = await get_booking(session, booking_id, principal, for_update=True)
    if booking.program_id is not None:
        raise HeldByEvent(
            "This booking holds the resource for an event; it ends with the event.",
            detail_ja="この予約はイベントのための予約です。",
        )
    if booking.status == "cancelled":
        return booking  # a repeated cancellation answers the same, and notifies nobody twice
    if now >= booking.end_at:
        raise BookingEnded("The booking has already ended.", detail_ja="この予約は既に終了しています。")
    deadline = cancellation_deadline(booking, deadline_hours)
    overridden = False
    if now > deadline:
        if not override_deadline:
            raise CancellationDeadlinePassed(
                f"Bookings can be cancelled until {deadline_hours} hours before the start"
                f" ({deadline.isoformat()})."
                + (
                    " Staff can send override_deadline=true." if principal.is_staff else " Contact the staff."
                ),
                detail_ja=f"キャンセルは開始{deadline_hours}時間前までです。スタッフにご連絡ください。",
                deadline=deadline.isoformat(),
            )
        overridden = True
    booking.status = "cancelled"
    booking.cancelled_at = now
    booking.cancelled_by = principal.name
    booking.cancel_reason = reason
    booking.deadline_overridden = overridden
    await session.flush()
    assert booking.member_id is not None
    await emit(session, outbox, BookingCancelled(member_id=booking.member_id, booking_id=booking.id))
    return booking


async def list_bookings(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None,
    resource_id: uuid.UUID | None,
    status: str | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Booking], str | None]:
    query = select(Booking)
    if member_id is not None:
        query = query.where(Booking.member_id == member_id)
    if resource_id is not None:
        query = query.where(Booking.resource_id == resource_id)
    if status is not None:
        query = query.where(Booking.status == status)
    if date_from is not None:
        query = query.where(Booking.start_at >= start_of_day_jst(date_from))
    if date_to is not None:
        query = query.where(Booking.start_at < start_of_day_jst(date_to + timedelta(days=1)))
    return await paginate(
        session, query, (Booking.start_at, Booking.id), limit=limit, cursor=cursor, scalars=True
    )
