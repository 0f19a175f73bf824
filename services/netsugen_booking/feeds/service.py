"""iCalendar feeds: public events, and one member's own bookings, registrations and consultations."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.consultations.models import Consultation, ConsultationSlot, Coordinator
from services.netsugen_booking.feeds.ics import VEvent, render_calendar
from services.netsugen_booking.feeds.models import MemberFeedToken
from services.netsugen_booking.members.models import Member
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from services.netsugen_booking.resources.models import Resource

UID_DOMAIN = "netsugen.gunma-sdgs.jp"
FEED_TOKEN_PREFIX = "gcf_"
#: How far back and ahead the feeds reach.
PAST = timedelta(days=90)
AHEAD = timedelta(days=400)
CATEGORY_LABELS = {
    "ja": {
        "seminar": "セミナー",
        "workshop": "ワークショップ",
        "pitch": "ピッチ",
        "networking": "交流会",
        "startup_program": "スタートアップ支援",
        "creator_lab": "クリエイターラボ",
    },
    "en": {
        "seminar": "Seminar",
        "workshop": "Workshop",
        "pitch": "Pitch",
        "networking": "Networking",
        "startup_program": "Startup programme",
        "creator_lab": "Creator lab",
    },
}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _place(resource: Resource | None, lang: str) -> str:
    room = (resource.name_ja if lang == "ja" else resource.name_en) if resource else None
    return f"NETSUGEN {room}" if room else "NETSUGEN"


def _latest(*moments: datetime | None) -> datetime:
    return max(m for m in moments if m is not None)


def _program_event(
    program: Program,
    resource: Resource | None,
    lang: str,
    base_url: str,
    *,
    status: str = "CONFIRMED",
    sequence: int = 0,
    last_modified: datetime | None = None,
) -> VEvent:
    return VEvent(
        uid=f"program-{program.id}@{UID_DOMAIN}",
        start=program.start_at,
        end=program.end_at,
        summary=program.title_ja if lang == "ja" else program.title_en,
        description=(program.description_ja if lang == "ja" else program.description_en) or None,
        location=_place(resource, lang),
        categories=(CATEGORY_LABELS[lang][program.category],),
        url=f"{base_url.rstrip('/')}/portal/events/{program.id}",
        status=status,  # type: ignore[arg-type]
        sequence=sequence,
        last_modified=last_modified or _latest(program.created_at, program.closed_at),
    )


async def public_events(session: AsyncSession, *, now: datetime, lang: str, base_url: str) -> str:
    rows = (
        await session.execute(
            select(Program, Resource)
            .outerjoin(Resource, Resource.id == Program.resource_id)
            .where(Program.public.is_(True), Program.start_at >= now - PAST, Program.start_at < now + AHEAD)
            .order_by(Program.start_at, Program.id)
        )
    ).all()
    events = [_program_event(p, r, lang, base_url) for p, r in rows]
    name = "NETSUGEN イベント" if lang == "ja" else "NETSUGEN events"
    return render_calendar(events, name=name, dtstamp=now)


async def member_calendar(session: AsyncSession, member: Member, *, now: datetime, base_url: str) -> str:
    lang = member.language if member.language in ("ja", "en") else "ja"
    window = (now - PAST, now + AHEAD)
    events: list[VEvent] = []
    bookings = (
        await session.execute(
            select(Booking, Resource)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(
                Booking.member_id == member.id,
                Booking.status.in_(("confirmed", "cancelled")),
                Booking.start_at >= window[0],
                Booking.start_at < window[1],
            )
        )
    ).all()
    base = base_url.rstrip("/")
    # A cancelled booking, registration or consultation stays in the feed as STATUS:CANCELLED with a
    # higher SEQUENCE, so calendar clients remove it (a vanished event is kept by most clients).
    for booking, resource in bookings:
        cancelled = booking.status == "cancelled"
        events.append(
            VEvent(
                uid=f"booking-{booking.id}@{UID_DOMAIN}",
                start=booking.start_at,
                end=booking.end_at,
                summary=(f"予約: {resource.name_ja}" if lang == "ja" else f"Booking: {resource.name_en}"),
                location=_place(resource, lang),
                url=f"{base}/portal/bookings/{booking.id}",
                status="CANCELLED" if cancelled else "CONFIRMED",
                sequence=1 if cancelled else 0,
                last_modified=_latest(booking.created_at, booking.cancelled_at),
            )
        )
    registrations = (
        await session.execute(
            select(ProgramRegistration, Program, Resource)
            .join(Program, Program.id == ProgramRegistration.program_id)
            .outerjoin(Resource, Resource.id == Program.resource_id)
            .where(
                ProgramRegistration.member_id == member.id,
                ProgramRegistration.status.in_(("confirmed", "waitlisted", "cancelled")),
                Program.start_at >= window[0],
                Program.start_at < window[1],
            )
        )
    ).all()
    live = {r.program_id for r, _, _ in registrations if r.status != "cancelled"}
    for registration, program, resource in registrations:
        if registration.status == "cancelled" and program.id in live:
            continue  # registered again after a cancellation: the live registration is the event
        # A waitlisted seat is tentative; the UID is the event's own, so a promoted seat updates it
        # (SEQUENCE 1) and a cancellation removes it (one more).
        status = {"confirmed": "CONFIRMED", "waitlisted": "TENTATIVE"}.get(registration.status, "CANCELLED")
        sequence = (1 if registration.promoted_at else 0) + (1 if registration.status == "cancelled" else 0)
        changed = _latest(registration.created_at, registration.promoted_at, registration.cancelled_at)
        events.append(
            _program_event(
                program,
                resource,
                lang,
                base_url,
                status=status,
                sequence=sequence,
                last_modified=_latest(changed, program.created_at, program.closed_at),
            )
        )
    consultations = (
        await session.execute(
            select(Consultation, ConsultationSlot, Coordinator)
            .join(ConsultationSlot, ConsultationSlot.id == Consultation.slot_id)
            .join(Coordinator, Coordinator.id == ConsultationSlot.coordinator_id)
            .where(
                Consultation.member_id == member.id,
                Consultation.status.in_(("confirmed", "completed", "cancelled")),
                ConsultationSlot.start_at >= window[0],
                ConsultationSlot.start_at < window[1],
            )
        )
    ).all()
    for consultation, slot, coordinator in consultations:
        who = coordinator.name if lang == "ja" or not coordinator.name_en else coordinator.name_en
        events.append(
            VEvent(
                uid=f"consultation-{consultation.id}@{UID_DOMAIN}",
                start=slot.start_at,
                end=slot.end_at,
                summary=(f"相談: {who}" if lang == "ja" else f"Consultation: {who}"),
                description=consultation.topic,
                location="NETSUGEN",
                url=f"{base}/portal/consultations/{consultation.id}",
                status="CANCELLED" if consultation.status == "cancelled" else "CONFIRMED",
                sequence=1 if consultation.status == "cancelled" else 0,
                last_modified=_latest(
                    consultation.created_at, consultation.cancelled_at, consultation.recorded_at
                ),
            )
        )
    events.sort(key=lambda e: (e.start, e.uid))
    # The calendar's name is shown wherever the feed is subscribed: no personal name in it.
    name = "NETSUGEN マイカレンダー" if lang == "ja" else "NETSUGEN: my calendar"
    return render_calendar(events, name=name, dtstamp=now)


async def new_feed_token(session: AsyncSession, member_id: uuid.UUID, *, now: datetime) -> str:
    """A fresh feed secret for the member; the previous one stops working."""
    secret = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    await session.execute(
        insert(MemberFeedToken)
        .values(member_id=member_id, token_hash=_hash(secret), created_at=now)
        .on_conflict_do_update(
            index_elements=[MemberFeedToken.member_id], set_={"token_hash": _hash(secret), "created_at": now}
        )
    )
    return secret


async def feed_token_matches(session: AsyncSession, member_id: uuid.UUID, secret: str) -> bool:
    stored = await session.scalar(
        select(MemberFeedToken.token_hash).where(MemberFeedToken.member_id == member_id)
    )
    return stored is not None and secrets.compare_digest(stored, _hash(secret))
