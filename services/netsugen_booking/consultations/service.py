"""Coordinators, their windows and slots, and consultations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings.common import active_member, hours_of
from services.netsugen_booking.bookings.exceptions import CancellationDeadlinePassed, InThePast, NotYourMember
from services.netsugen_booking.consultations import rules
from services.netsugen_booking.consultations.exceptions import (
    AvailabilityNotFound,
    ConsultationCancelled,
    ConsultationNotFound,
    ConsultationNotHeld,
    ConsultationStarted,
    CoordinatorInactive,
    CoordinatorNotFound,
    InvalidWindow,
    SlotBooked,
    UnknownSlot,
)
from services.netsugen_booking.consultations.models import (
    CONSULTATION_ONE_PER_SLOT,
    Consultation,
    ConsultationSlot,
    Coordinator,
    CoordinatorAvailability,
)
from services.netsugen_booking.consultations.schemas import (
    AvailabilityCreate,
    CoordinatorCreate,
    CoordinatorUpdate,
)
from services.netsugen_booking.db import outbox
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from shared.auth import Principal
from shared.events import ConsultationConfirmed
from shared.jst import jst_date, start_of_day_jst
from shared.outbox import emit
from shared.pagination import paginate


# ---- coordinators and windows -----------------------------------------------------------------
async def create_coordinator(session: AsyncSession, body: CoordinatorCreate, *, now: datetime) -> Coordinator:
    coordinator = Coordinator(**body.model_dump(), active=True, created_at=now)
    coordinator.expertise = sorted(set(body.expertise))
    session.add(coordinator)
    await session.flush()
    return coordinator


async def get_coordinator(
    session: AsyncSession, coordinator_id: uuid.UUID, *, for_update: bool = False
) -> Coordinator:
    coordinator = await session.get(Coordinator, coordinator_id, with_for_update=for_update or None)
    if coordinator is None:
        raise CoordinatorNotFound(
            f"No coordinator {coordinator_id}.", detail_ja="指定されたコーディネーターは存在しません。"
        )
    return coordinator


async def update_coordinator(
    session: AsyncSession, coordinator: Coordinator, body: CoordinatorUpdate
) -> Coordinator:
    for field in body.model_fields_set:
        value = getattr(body, field)
        if field in ("name", "expertise", "active") and value is None:
            continue
        setattr(coordinator, field, sorted(set(value)) if field == "expertise" else value)
    await session.flush()
    return coordinator


async def list_coordinators(
    session: AsyncSession, *, expertise: str | None, include_inactive: bool
) -> Sequence[Coordinator]:
    query = select(Coordinator).order_by(Coordinator.name, Coordinator.id)
    if expertise:
        query = query.where(Coordinator.expertise.contains([expertise]))
    if not include_inactive:
        query = query.where(Coordinator.active.is_(True))
    return (await session.scalars(query)).all()


async def windows_of(
    session: AsyncSession, coordinator_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CoordinatorAvailability]]:
    out: dict[uuid.UUID, list[CoordinatorAvailability]] = {cid: [] for cid in coordinator_ids}
    if not coordinator_ids:
        return out
    rows = (
        await session.scalars(
            select(CoordinatorAvailability)
            .where(CoordinatorAvailability.coordinator_id.in_(coordinator_ids))
            .order_by(CoordinatorAvailability.weekday, CoordinatorAvailability.starts_at)
        )
    ).all()
    for row in rows:
        out[row.coordinator_id].append(row)
    return out


async def add_window(
    session: AsyncSession, coordinator: Coordinator, body: AvailabilityCreate, *, now: datetime
) -> CoordinatorAvailability:
    valid_from = body.valid_from or jst_date(now)
    if not body.starts_at < body.ends_at:
        raise InvalidWindow(
            "The window must start before it ends.", detail_ja="開始時刻は終了時刻より前にしてください。"
        )
    if body.valid_until is not None and body.valid_until < valid_from:
        raise InvalidWindow("valid_until is before valid_from.", detail_ja="有効期限が開始日より前です。")
    if (body.ends_at.hour * 60 + body.ends_at.minute) - (
        body.starts_at.hour * 60 + body.starts_at.minute
    ) < body.slot_minutes:
        raise InvalidWindow(
            "The window is shorter than one slot.", detail_ja="時間枠が1コマより短くなっています。"
        )
    window = CoordinatorAvailability(
        coordinator_id=coordinator.id,
        weekday=body.weekday,
        starts_at=body.starts_at.replace(tzinfo=None),
        ends_at=body.ends_at.replace(tzinfo=None),
        slot_minutes=body.slot_minutes,
        valid_from=valid_from,
        valid_until=body.valid_until,
        created_at=now,
    )
    session.add(window)
    await session.flush()
    return window


async def remove_window(
    session: AsyncSession, coordinator_id: uuid.UUID, window_id: uuid.UUID, *, now: datetime
) -> int:
    """Delete a window; its future slots nobody booked are withdrawn. Returns how many."""
    window = await session.get(CoordinatorAvailability, window_id, with_for_update=True)
    if window is None or window.coordinator_id != coordinator_id:
        raise AvailabilityNotFound(
            f"No availability window {window_id}.", detail_ja="指定された時間枠は存在しません。"
        )
    booked = exists().where(Consultation.slot_id == ConsultationSlot.id, Consultation.status != "cancelled")
    slots = (
        await session.scalars(
            select(ConsultationSlot)
            .where(
                ConsultationSlot.availability_id == window.id,
                ConsultationSlot.withdrawn_at.is_(None),
                ConsultationSlot.start_at > now,
                ~booked,
            )
            .with_for_update()
        )
    ).all()
    for slot in slots:
        slot.withdrawn_at = now
    await session.delete(window)
    await session.flush()
    return len(slots)


# ---- slots ------------------------------------------------------------------------------------
async def generate_slots(
    session: AsyncSession, *, now: datetime, days: int, coordinator_id: uuid.UUID | None = None
) -> int:
    """Create the slots of every active coordinator's windows from today for ``days`` days.

    Idempotent: a slot that exists (or overlaps a live slot of the coordinator) is skipped by the
    exclusion constraint through ``ON CONFLICT DO NOTHING``. Closed days and hours outside the
    opening hours yield no slots.
    """
    query = (
        select(CoordinatorAvailability)
        .join(Coordinator, Coordinator.id == CoordinatorAvailability.coordinator_id)
        .where(Coordinator.active.is_(True))
        .order_by(
            CoordinatorAvailability.coordinator_id,
            CoordinatorAvailability.weekday,
            CoordinatorAvailability.starts_at,
        )
    )
    if coordinator_id is not None:
        query = query.where(CoordinatorAvailability.coordinator_id == coordinator_id)
    windows = (await session.scalars(query)).all()
    if not windows:
        return 0
    today = jst_date(now)
    created = 0
    for offset in range(days):
        day = today + timedelta(days=offset)
        todays = [
            w
            for w in windows
            if rules.window_applies(
                day, weekday=w.weekday, valid_from=w.valid_from, valid_until=w.valid_until
            )
        ]
        if not todays:
            continue
        hours = await hours_of(session, start_of_day_jst(day))
        for window in todays:
            for start, end in rules.slots_on(
                day,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                slot_minutes=window.slot_minutes,
                hours=hours,
                not_before=now,
            ):
                result = await session.execute(
                    insert(ConsultationSlot)
                    .values(
                        id=uuid.uuid4(),
                        coordinator_id=window.coordinator_id,
                        availability_id=window.id,
                        start_at=start,
                        end_at=end,
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                    .returning(ConsultationSlot.id)
                )
                created += len(result.all())
    return created


async def list_slots(
    session: AsyncSession,
    *,
    now: datetime,
    coordinator_id: uuid.UUID | None,
    expertise: str | None,
    date_from: date | None,
    date_to: date | None,
    available_only: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[ConsultationSlot, bool]], str | None]:
    booked = exists().where(Consultation.slot_id == ConsultationSlot.id, Consultation.status != "cancelled")
    query = (
        select(ConsultationSlot, ~booked)
        .join(Coordinator, Coordinator.id == ConsultationSlot.coordinator_id)
        .where(
            ConsultationSlot.withdrawn_at.is_(None),
            Coordinator.active.is_(True),
            ConsultationSlot.start_at > now,
        )
    )
    if coordinator_id is not None:
        query = query.where(ConsultationSlot.coordinator_id == coordinator_id)
    if expertise:
        query = query.where(Coordinator.expertise.contains([expertise]))
    if date_from is not None:
        query = query.where(ConsultationSlot.start_at >= start_of_day_jst(date_from))
    if date_to is not None:
        query = query.where(ConsultationSlot.start_at < start_of_day_jst(date_to + timedelta(days=1)))
    if available_only:
        query = query.where(~booked)
    rows, next_cursor = await paginate(
        session,
        query,
        (ConsultationSlot.start_at, ConsultationSlot.id),
        limit=limit,
        cursor=cursor,
        key=lambda row: (row[0].start_at, row[0].id),
    )
    return [(row[0], bool(row[1])) for row in rows], next_cursor


# ---- consultations ----------------------------------------------------------------------------
async def book(
    session: AsyncSession,
    *,
    slot_id: uuid.UUID,
    member_id: uuid.UUID,
    topic: str,
    principal: Principal,
    now: datetime,
) -> tuple[Consultation, ConsultationSlot]:
    slot = await session.get(ConsultationSlot, slot_id)
    if slot is None or slot.withdrawn_at is not None:
        raise UnknownSlot(f"No consultation slot {slot_id}.", detail_ja="指定された相談枠は存在しません。")
    coordinator = await session.get(Coordinator, slot.coordinator_id)
    assert coordinator is not None  # FK
    if not coordinator.active:
        raise CoordinatorInactive(
            "The coordinator takes no consultations at the moment.",
            detail_ja="このコーディネーターは現在相談を受け付けていません。",
        )
    await active_member(session, member_id)
    if slot.start_at <= now:
        raise InThePast("The slot has already started.", detail_ja="開始済みの相談枠は予約できません。")
    consultation = Consultation(
        slot_id=slot.id,
        member_id=member_id,
        topic=topic,
        status="confirmed",
        created_by=principal.name,
        created_at=now,
    )
    try:
        await flush_in_savepoint(session, lambda: session.add(consultation))
    except IntegrityError as exc:
        if constraint_name(exc) == CONSULTATION_ONE_PER_SLOT:
            raise SlotBooked(
                "This consultation slot is already booked.", detail_ja="この相談枠は既に予約されています。"
            ) from exc
        raise
    await emit(session, outbox, ConsultationConfirmed(member_id=member_id, consultation_id=consultation.id))
    return consultation, slot


async def get_consultation(
    session: AsyncSession, consultation_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> tuple[Consultation, ConsultationSlot]:
    consultation = await session.get(Consultation, consultation_id, with_for_update=for_update or None)
    if consultation is None or not principal.can_act_for_member(consultation.member_id):
        raise ConsultationNotFound(
            f"No consultation {consultation_id}.", detail_ja="指定された相談は存在しません。"
        )
    slot = await session.get(ConsultationSlot, consultation.slot_id)
    assert slot is not None  # FK
    return consultation, slot


async def cancel(
    session: AsyncSession,
    consultation_id: uuid.UUID,
    *,
    principal: Principal,
    now: datetime,
    override_deadline: bool,
    deadline_hours: int,
) -> tuple[Consultation, ConsultationSlot]:
    if override_deadline and not principal.is_staff:
        raise NotYourMember(
            "Only staff may override the cancellation deadline.",
            detail_ja="キャンセル期限を超えての取消はスタッフのみ行えます。",
        )
    consultation, slot = await get_consultation(session, consultation_id, principal, for_update=True)
    if consultation.status == "cancelled":
        return consultation, slot
    if consultation.status != "confirmed" or now >= slot.start_at:
        raise ConsultationStarted(
            "The consultation has started or taken place.", detail_ja="この相談は既に開始または実施済みです。"
        )
    deadline = slot.start_at - timedelta(hours=deadline_hours)
    if now > deadline and not override_deadline:
        raise CancellationDeadlinePassed(
            f"Consultations can be cancelled until {deadline_hours} hours before the start.",
            detail_ja=f"キャンセルは開始{deadline_hours}時間前までです。スタッフにご連絡ください。",
            deadline=deadline.isoformat(),
        )
    consultation.status = "cancelled"
    consultation.cancelled_at = now
    consultation.cancelled_by = principal.name
    await session.flush()
    return consultation, slot


async def record(
    session: AsyncSession,
    consultation_id: uuid.UUID,
    *,
    note: str,
    outcome: str,
    principal: Principal,
    now: datetime,
) -> tuple[Consultation, ConsultationSlot]:
    consultation, slot = await get_consultation(session, consultation_id, principal, for_update=True)
    if consultation.status == "cancelled":
        raise ConsultationCancelled(
            "The consultation was cancelled.", detail_ja="この相談はキャンセルされています。"
        )
    if now < slot.start_at:
        raise ConsultationNotHeld(
            "A note is recorded once the consultation has started.",
            detail_ja="相談開始後に記録してください。",
        )
    consultation.note = note
    consultation.outcome = outcome
    consultation.status = "no_show" if outcome == "no_show" else "completed"
    consultation.recorded_at = now
    consultation.recorded_by = principal.name
    await session.flush()
    return consultation, slot


async def list_consultations(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None,
    coordinator_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Consultation, ConsultationSlot]], str | None]:
    query = select(Consultation, ConsultationSlot).join(
        ConsultationSlot, ConsultationSlot.id == Consultation.slot_id
    )
    if member_id is not None:
        query = query.where(Consultation.member_id == member_id)
    if coordinator_id is not None:
        query = query.where(ConsultationSlot.coordinator_id == coordinator_id)
    if status is not None:
        query = query.where(Consultation.status == status)
    rows, next_cursor = await paginate(
        session,
        query,
        (ConsultationSlot.start_at, Consultation.id),
        limit=limit,
        cursor=cursor,
        key=lambda row: (row[1].start_at, row[0].id),
    )
    return [(row[0], row[1]) for row in rows], next_cursor
