"""Events, registrations and the waitlist.

Concurrency: every change to an event's seats (register, cancel, promote, check in, close) first
locks the event row ``FOR UPDATE``. Registrations of one event are therefore serialised: the seat
count read under the lock is exact, and the identity ``seq`` drawn afterwards is the arrival order
that the waitlist follows. The partial unique indexes stop a double registration regardless.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings import rules
from services.netsugen_booking.bookings.common import active_member, ensure_can_act_for, hours_of
from services.netsugen_booking.bookings.config import KpiMapping
from services.netsugen_booking.bookings.exceptions import NotYourMember
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.bookings.service import bookable_resource, insert_booking
from services.netsugen_booking.calendar.rules import Language
from services.netsugen_booking.db import outbox
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from services.netsugen_booking.kpi_reporting.models import KpiReport
from services.netsugen_booking.members.models import Member
from services.netsugen_booking.programs.exceptions import (
    AlreadyConfirmed,
    AlreadyRegistered,
    CapacityExceedsResource,
    ConfirmationExpired,
    ConfirmationNotPending,
    GuestsNotAllowed,
    InvalidRegistrationWindow,
    NotConfirmed,
    ProgramClosed,
    ProgramNotFound,
    ProgramNotStarted,
    ProgramStarted,
    RegistrationClosed,
    RegistrationNotFound,
)
from services.netsugen_booking.programs.guests import display_name, normalize_email
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from services.netsugen_booking.programs.schemas import (
    ConfirmationContact,
    Guest,
    ProgramCreate,
    RegistrationContact,
)
from shared.auth import Principal
from shared.events import (
    EventRegistrationConfirmationRequested,
    EventRegistrationConfirmed,
    EventWaitlisted,
    EventWaitlistPromoted,
)
from shared.jst import JST, fiscal_year_of, jst_date, start_of_day_jst
from shared.outbox import emit
from shared.pagination import paginate

CANCEL_TOKEN_PREFIX = "gcx_"
CONFIRM_TOKEN_PREFIX = "gco_"
#: Staff may check attendees in from this long before the start.
CHECK_IN_OPENS_BEFORE = timedelta(hours=1)
LIVE_REGISTRATION_INDEXES = ("uq_program_registration_member", "uq_program_registration_guest")
#: Registrations that count for the one-per-person rule (the partial unique indexes' condition).
LIVE_STATUSES = ("pending_confirmation", "confirmed", "waitlisted")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- events ----------------------------------------------------------------------------------
async def create_program(
    session: AsyncSession,
    body: ProgramCreate,
    *,
    principal: Principal,
    now: datetime,
    language: Language = "ja",
) -> Program:
    rules.check_times_in_order(body.start, body.end)
    rules.check_not_past(body.start, now)
    opens_at = body.registration_opens_at or now
    closes_at = body.registration_closes_at or body.start
    if not opens_at < closes_at or closes_at > body.end:
        raise InvalidRegistrationWindow(
            "Registration must open before it closes, and close no later than the event's end.",
            detail_ja="申込受付は開始より後に締め切り、イベント終了までに締め切ってください。",
        )
    resource = None
    if body.resource_id is not None:
        resource = await bookable_resource(session, body.resource_id)
        if body.capacity > resource.capacity:
            raise CapacityExceedsResource(
                f"{resource.name_en} holds {resource.capacity} people; the event asks for {body.capacity}.",
                detail_ja=f"{resource.name_ja}の定員は{resource.capacity}名です。",
            )
    hours = await hours_of(session, body.start, language=language)
    rules.check_bookable(
        body.start, body.end, grid_minutes=resource.grid_minutes if resource else None, hours=hours, now=now
    )
    program = Program(
        title_ja=body.title_ja,
        title_en=body.title_en,
        description_ja=body.description_ja,
        description_en=body.description_en,
        category=body.category,
        resource_id=body.resource_id,
        start_at=body.start,
        end_at=body.end,
        capacity=body.capacity,
        registration_opens_at=opens_at,
        registration_closes_at=closes_at,
        public=body.public,
        status="scheduled",
        created_by=principal.name,
        created_at=now,
    )
    session.add(program)
    await session.flush()
    if resource is not None:
        # The event holds its room like any booking: the same exclusion constraint applies.
        hold = Booking(
            resource_id=resource.id,
            program_id=program.id,
            start_at=body.start,
            end_at=body.end,
            status="confirmed",
            price_yen=0,
            created_by=principal.name,
            created_at=now,
        )
        await insert_booking(session, hold, resource)
    return program


async def get_program(
    session: AsyncSession,
    program_id: uuid.UUID,
    *,
    principal: Principal | None = None,
    for_update: bool = False,
    internal: bool = False,
) -> Program:
    """``internal``: a job's look-up (no caller to hide members-only events from)."""
    program = await session.get(
        Program, program_id, with_for_update=for_update or None, populate_existing=for_update
    )
    # Members-only events are visible to any token holder, never anonymously.
    if program is None or (not program.public and principal is None and not internal):
        raise ProgramNotFound(f"No event {program_id}.", detail_ja="指定されたイベントは存在しません。")
    return program


async def seat_counts(
    session: AsyncSession, program_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(confirmed, waitlisted) per event."""
    if not program_ids:
        return {}
    rows = (
        await session.execute(
            select(ProgramRegistration.program_id, ProgramRegistration.status, func.count())
            .where(
                ProgramRegistration.program_id.in_(program_ids),
                # Pending (unconfirmed) guest registrations hold nothing and are not counted.
                ProgramRegistration.status.in_(("confirmed", "waitlisted")),
            )
            .group_by(ProgramRegistration.program_id, ProgramRegistration.status)
        )
    ).all()
    counts: dict[uuid.UUID, list[int]] = {pid: [0, 0] for pid in program_ids}
    for pid, status, n in rows:
        counts[pid][0 if status == "confirmed" else 1] = int(n)
    return {pid: (c[0], c[1]) for pid, c in counts.items()}


async def list_programs(
    session: AsyncSession,
    *,
    include_private: bool,
    category: str | None,
    status: str | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Program], str | None]:
    query = select(Program)
    if not include_private:
        query = query.where(Program.public.is_(True))
    if category is not None:
        query = query.where(Program.category == category)
    if status is not None:
        query = query.where(Program.status == status)
    if date_from is not None:
        query = query.where(Program.start_at >= start_of_day_jst(date_from))
    if date_to is not None:
        query = query.where(Program.start_at < start_of_day_jst(date_to + timedelta(days=1)))
    return await paginate(
        session, query, (Program.start_at, Program.id), limit=limit, cursor=cursor, scalars=True
    )


# ---- registrations ---------------------------------------------------------------------------
async def waitlist_position(session: AsyncSession, registration: ProgramRegistration) -> int | None:
    if registration.status != "waitlisted":
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            ProgramRegistration.program_id == registration.program_id,
            ProgramRegistration.status == "waitlisted",
            ProgramRegistration.seq <= registration.seq,
        )
    )
    return int(ahead or 0)


async def _confirmed_count(session: AsyncSession, program_id: uuid.UUID) -> int:
    value = await session.scalar(
        select(func.count()).where(
            ProgramRegistration.program_id == program_id, ProgramRegistration.status == "confirmed"
        )
    )
    return int(value or 0)


async def register(
    session: AsyncSession,
    program_id: uuid.UUID,
    *,
    member_id: uuid.UUID | None,
    guest: Guest | None,
    principal: Principal | None,
    now: datetime,
    confirmation_ttl_minutes: int = 60,
) -> tuple[ProgramRegistration, str | None]:
    """Register a member or a guest; returns the registration and a guest's cancel secret."""
    if member_id is not None:
        if principal is None:
            raise NotYourMember(
                "Registering a member needs that member's token (or staff).",
                detail_ja="会員として申し込むには会員トークンが必要です。",
            )
        ensure_can_act_for(principal, member_id)
    program = await get_program(session, program_id, principal=principal, for_update=True)
    _check_open(program, now)
    secret: str | None = None
    if member_id is not None:
        await active_member(session, member_id)
        registration = ProgramRegistration(program_id=program.id, member_id=member_id)
    else:
        assert guest is not None
        if not program.public:
            raise GuestsNotAllowed(
                "This event is for members only.", detail_ja="このイベントは会員限定です。"
            )
        # Lapsed pending registrations of this event stop blocking their email now, not at the
        # next sweep (we hold the event's lock, as the sweep does).
        await expire_pending(session, now=now, program_id=program.id)
        secret = CANCEL_TOKEN_PREFIX + secrets.token_urlsafe(24)
        registration = ProgramRegistration(
            program_id=program.id,
            guest_name=guest.name,
            guest_email=str(guest.email).lower(),
            guest_email_normalized=normalize_email(str(guest.email)),
            guest_language=guest.language,
            cancel_token_hash=hash_secret(secret),
        )
    existing = await session.scalar(
        select(ProgramRegistration.id).where(
            ProgramRegistration.program_id == program.id,
            ProgramRegistration.status.in_(LIVE_STATUSES),
            (ProgramRegistration.member_id == member_id)
            if member_id is not None
            else (ProgramRegistration.guest_email_normalized == registration.guest_email_normalized),
        )
    )
    if existing is not None:
        raise _already_registered()
    if member_id is not None:
        confirmed = await _confirmed_count(session, program.id)
        registration.status = "confirmed" if confirmed < program.capacity else "waitlisted"
    else:
        # Double opt-in: a guest's registration holds no seat and no waitlist place until the guest
        # confirms it from the emailed link (confirm_registration), and lapses unconfirmed.
        registration.status = "pending_confirmation"
        registration.confirm_token_hash = hash_secret(CONFIRM_TOKEN_PREFIX + secrets.token_urlsafe(24))
        registration.confirm_expires_at = now + timedelta(minutes=confirmation_ttl_minutes)
    registration.created_by = principal.name if principal else "guest"
    registration.created_at = now
    try:
        await flush_in_savepoint(session, lambda: session.add(registration))
    except IntegrityError as exc:
        if constraint_name(exc) in LIVE_REGISTRATION_INDEXES:
            raise _already_registered() from exc
        raise
    if registration.status == "pending_confirmation":
        event: EventRegistrationConfirmationRequested | EventRegistrationConfirmed | EventWaitlisted = (
            EventRegistrationConfirmationRequested(registration_id=registration.id, event_id=program.id)
        )
    elif registration.status == "confirmed":
        event = EventRegistrationConfirmed(registration_id=registration.id, event_id=program.id)
    else:
        event = EventWaitlisted(registration_id=registration.id, event_id=program.id)
    await emit(session, outbox, event)
    return registration, secret


async def confirm_registration(
    session: AsyncSession, registration_id: uuid.UUID, *, token: str, now: datetime
) -> ProgramRegistration:
    """A guest confirms from the emailed link: the registration takes a seat, or a waitlist place.

    Under the event's row lock, like every seat decision; the seat goes to the next in confirmation
    order (``seq`` is drawn again now, so the waitlist follows the order of confirmations). The
    token works once (its hash is cleared) and only until ``confirm_expires_at``.
    """
    registration = await session.get(ProgramRegistration, registration_id)
    if registration is None or registration.member_id is not None:
        raise _unknown_registration(registration_id)
    program = await get_program(session, registration.program_id, for_update=True, internal=True)
    registration = await session.get(
        ProgramRegistration, registration_id, with_for_update=True, populate_existing=True
    )
    assert registration is not None  # registrations are never deleted
    if registration.status in ("confirmed", "waitlisted") and registration.confirmed_at is not None:
        raise AlreadyConfirmed(
            "This registration was confirmed already.",
            detail_ja="このお申し込みは確定済みです。",
            status_now=registration.status,
        )
    if registration.status == "expired":  # its secret is gone with it; the id alone says so
        raise _confirmation_expired()
    if registration.confirm_token_hash is None or not secrets.compare_digest(
        registration.confirm_token_hash, hash_secret(token)
    ):
        raise _unknown_registration(registration_id)
    if (
        registration.status == "pending_confirmation"
        and registration.confirm_expires_at is not None
        and now >= registration.confirm_expires_at
    ):
        raise _confirmation_expired()
    if registration.status != "pending_confirmation":  # cancelled before confirming
        raise _unknown_registration(registration_id)
    _check_open(program, now)
    confirmed = await _confirmed_count(session, program.id)
    status = "confirmed" if confirmed < program.capacity else "waitlisted"
    # seq = DEFAULT draws the next value of the identity under the event's lock: arrival order
    # is the order of confirmations.
    await session.execute(
        update(ProgramRegistration)
        .where(ProgramRegistration.id == registration.id)
        .values(
            status=status,
            seq=literal_column("DEFAULT"),
            confirmed_at=now,
            confirm_token_hash=None,
            confirm_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(registration)
    event_cls = EventRegistrationConfirmed if status == "confirmed" else EventWaitlisted
    await emit(session, outbox, event_cls(registration_id=registration.id, event_id=program.id))
    return registration


async def expire_pending(session: AsyncSession, *, now: datetime, program_id: uuid.UUID | None = None) -> int:
    """Unconfirmed guest registrations past their time become ``expired`` (they never held anything)."""
    query = (
        update(ProgramRegistration)
        .where(
            ProgramRegistration.status == "pending_confirmation",
            ProgramRegistration.confirm_expires_at <= now,
        )
        .values(status="expired", confirm_token_hash=None)
        .execution_options(synchronize_session=False)
    )
    if program_id is not None:
        query = query.where(ProgramRegistration.program_id == program_id)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


async def confirmation_contact(
    session: AsyncSession, registration_id: uuid.UUID, *, now: datetime
) -> ConfirmationContact:
    """For the notifier's confirmation email: where to send it, and a fresh one-time link secret.

    Only the secret's hash is stored, so each call makes a new secret and the previous link stops
    working (the email that goes out carries the newest). The name is shortened and stripped of
    anything URL-like: the address has not been confirmed, so the email repeats nothing a stranger
    could use to send a message through NETSUGEN. A registration no longer pending is 410.
    """
    registration = await session.get(ProgramRegistration, registration_id, with_for_update=True)
    if registration is None or registration.member_id is not None:
        raise _unknown_registration(registration_id)
    if (
        registration.status != "pending_confirmation"
        or registration.confirm_expires_at is None
        or now >= registration.confirm_expires_at
    ):
        raise ConfirmationNotPending(
            f"Registration {registration_id} is {registration.status}, not waiting for confirmation.",
            detail_ja="このお申し込みは確認待ちではありません。",
        )
    token = CONFIRM_TOKEN_PREFIX + secrets.token_urlsafe(24)
    registration.confirm_token_hash = hash_secret(token)
    await session.flush()
    assert registration.guest_email and registration.guest_language and registration.guest_name is not None
    return ConfirmationContact(
        registration_id=registration.id,
        name=display_name(registration.guest_name),
        email=registration.guest_email,
        language=registration.guest_language,  # type: ignore[arg-type]
        status="pending_confirmation",
        confirmation_token=token,
        expires_at=registration.confirm_expires_at.astimezone(JST),
    )


def _confirmation_expired() -> ConfirmationExpired:
    return ConfirmationExpired(
        "The confirmation link has expired; please register again.",
        detail_ja="確認リンクの有効期限が切れました。もう一度お申し込みください。",
    )


def _unknown_registration(registration_id: uuid.UUID) -> RegistrationNotFound:
    return RegistrationNotFound(
        f"No registration {registration_id}.", detail_ja="指定された申込は存在しません。"
    )


def _check_open(program: Program, now: datetime) -> None:
    if (
        program.status != "scheduled"
        or not program.registration_opens_at <= now < program.registration_closes_at
    ):
        when = (
            f"opens {program.registration_opens_at.isoformat()}"
            if now < program.registration_opens_at
            else f"closed {program.registration_closes_at.isoformat()}"
        )
        raise RegistrationClosed(
            f"Registration for this event is not open (it {when}).",
            detail_ja="このイベントは現在申込を受け付けていません。",
            registration_opens_at=program.registration_opens_at.isoformat(),
            registration_closes_at=program.registration_closes_at.isoformat(),
        )


def _already_registered() -> AlreadyRegistered:
    return AlreadyRegistered(
        "This person is already registered (or waitlisted) for this event.",
        detail_ja="このイベントには既に申込済み(またはキャンセル待ち)です。",
    )


async def get_registration(
    session: AsyncSession,
    registration_id: uuid.UUID,
    *,
    principal: Principal | None,
    cancel_token: str | None = None,
    for_update: bool = False,
) -> ProgramRegistration:
    registration = await session.get(
        ProgramRegistration, registration_id, with_for_update=for_update or None, populate_existing=for_update
    )
    allowed = registration is not None and (
        (principal is not None and principal.is_staff)
        or (
            principal is not None
            and registration.member_id is not None
            and principal.can_act_for_member(registration.member_id)
        )
        or (
            cancel_token is not None
            and registration.cancel_token_hash is not None
            and secrets.compare_digest(registration.cancel_token_hash, hash_secret(cancel_token))
        )
    )
    if registration is None or not allowed:
        raise RegistrationNotFound(
            f"No registration {registration_id}.", detail_ja="指定された申込は存在しません。"
        )
    return registration


async def promote_waitlist(
    session: AsyncSession, program: Program, *, now: datetime
) -> list[ProgramRegistration]:
    """Fill free seats from the waitlist in arrival order. The caller holds the event's row lock."""
    free = program.capacity - await _confirmed_count(session, program.id)
    if free <= 0:
        return []
    promoted = list(
        (
            await session.scalars(
                select(ProgramRegistration)
                .where(
                    ProgramRegistration.program_id == program.id, ProgramRegistration.status == "waitlisted"
                )
                .order_by(ProgramRegistration.seq)
                .limit(free)
                .with_for_update()
            )
        ).all()
    )
    for registration in promoted:
        registration.status = "confirmed"
        registration.promoted_at = now
    await session.flush()
    for registration in promoted:
        await emit(
            session, outbox, EventWaitlistPromoted(registration_id=registration.id, event_id=program.id)
        )
    return promoted


async def cancel_registration(
    session: AsyncSession,
    registration_id: uuid.UUID,
    *,
    principal: Principal | None,
    cancel_token: str | None,
    now: datetime,
) -> ProgramRegistration:
    registration = await get_registration(
        session, registration_id, principal=principal, cancel_token=cancel_token
    )
    # Lock order: the event first, then the registration (as registration and promotion do).
    program = await get_program(session, registration.program_id, principal=principal, for_update=True)
    registration = await get_registration(
        session, registration_id, principal=principal, cancel_token=cancel_token, for_update=True
    )
    if registration.status == "cancelled":
        return registration
    if program.status != "scheduled":
        raise ProgramClosed("The event is closed.", detail_ja="このイベントは終了しています。")
    if now >= program.start_at:
        raise ProgramStarted(
            "The event has started; registrations can no longer be cancelled.",
            detail_ja="イベント開始後は申込を取り消せません。",
        )
    was_confirmed = registration.status == "confirmed"
    registration.status = "cancelled"
    registration.cancelled_at = now
    registration.cancelled_by = principal.name if principal else "guest"
    await session.flush()
    if was_confirmed:
        await promote_waitlist(session, program, now=now)
    return registration


async def list_registrations(session: AsyncSession, program_id: uuid.UUID) -> Sequence[ProgramRegistration]:
    return (
        await session.scalars(
            select(ProgramRegistration)
            .where(ProgramRegistration.program_id == program_id)
            .order_by(ProgramRegistration.seq)
        )
    ).all()


async def check_in(
    session: AsyncSession, registration_id: uuid.UUID, *, principal: Principal, now: datetime
) -> ProgramRegistration:
    registration = await get_registration(session, registration_id, principal=principal)
    program = await get_program(session, registration.program_id, principal=principal, for_update=True)
    registration = await get_registration(session, registration_id, principal=principal, for_update=True)
    if registration.checked_in_at is not None:
        return registration
    if program.status != "scheduled":
        raise ProgramClosed(
            "The event is closed; its attendance is final.", detail_ja="このイベントは締め切られています。"
        )
    if now < program.start_at - CHECK_IN_OPENS_BEFORE:
        raise ProgramNotStarted(
            "Check-in opens one hour before the start.", detail_ja="受付は開始1時間前からです。"
        )
    if registration.status != "confirmed":
        raise NotConfirmed(
            f"The registration is {registration.status}; only confirmed registrations check in.",
            detail_ja="確定していない申込は受付できません。",
        )
    registration.checked_in_at = now
    registration.checked_in_by = principal.name
    await session.flush()
    return registration


async def contact(session: AsyncSession, registration_id: uuid.UUID) -> RegistrationContact:
    registration = await session.get(ProgramRegistration, registration_id)
    if registration is None:
        raise RegistrationNotFound(
            f"No registration {registration_id}.", detail_ja="指定された申込は存在しません。"
        )
    if registration.member_id is not None:
        member = await session.get(Member, registration.member_id)
        assert member is not None  # FK
        name, email, language = member.name, member.email, member.language
    else:
        assert registration.guest_name and registration.guest_email and registration.guest_language
        name, email, language = registration.guest_name, registration.guest_email, registration.guest_language
    return RegistrationContact(
        registration_id=registration.id,
        name=name,
        email=email,
        language=language,  # type: ignore[arg-type]
        status=registration.status,  # type: ignore[arg-type]
    )


# ---- closing and KPI reporting -----------------------------------------------------------------
async def close_program(
    session: AsyncSession,
    program: Program,
    *,
    now: datetime,
    closed_by: str,
    mapping: dict[str, KpiMapping],
) -> KpiReport | None:
    """Close an event (its row locked by the caller): freeze attendance, owe the KPI registry a report.

    The report row is written in this same transaction, so the close and the obligation to report
    it commit together or not at all.
    """
    if program.status == "closed":
        return None
    if now < program.start_at:
        raise ProgramNotStarted(
            "An event closes once it has started.", detail_ja="イベント開始前は締め切れません。"
        )
    attendance = await session.scalar(
        select(func.count()).where(
            ProgramRegistration.program_id == program.id, ProgramRegistration.checked_in_at.is_not(None)
        )
    )
    program.status = "closed"
    program.closed_at = now
    program.closed_by = closed_by
    program.attendance_count = int(attendance or 0)
    await session.flush()
    target = mapping.get(program.category)
    if target is None:
        return None
    report = KpiReport(
        program_id=program.id,
        category=program.category,
        indicator_id=target.indicator_id,
        fiscal_year=fiscal_year_of(jst_date(program.start_at)),
        attendance=program.attendance_count,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(report)
    await session.flush()
    return report


async def programs_due_to_close(
    session: AsyncSession, *, now: datetime, after_hours: int
) -> Sequence[uuid.UUID]:
    return (
        await session.scalars(
            select(Program.id)
            .where(Program.status == "scheduled", Program.end_at <= now - timedelta(hours=after_hours))
            .order_by(Program.end_at)
        )
    ).all()
