"""The platform's event types, defined once.

Every event is an :class:`Event` envelope whose ``data`` carries **ids only**: no names, email
addresses or card tokens ever travel through Redis. The notifier resolves recipients over HTTP.

``category`` drives preferences and quiet hours in the notifier:
- ``transactional`` (invoices, booking confirmations and cancellations) cannot be opted out of;
- ``reminders`` can; it is non-urgent and deferred during quiet hours.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.jst import utcnow

Source = Literal["kpi_api", "netsugen_booking", "notifier"]
Category = Literal["transactional", "activity", "reminders", "kpi"]
RecipientKind = Literal[
    "member", "event_registration", "event_registration_confirmation", "auth_message", "none"
]


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[str]
    source: ClassVar[Source]
    category: ClassVar[Category]
    #: Urgent events are never deferred by quiet hours.
    urgent: ClassVar[bool] = True
    #: How the notifier finds the person to email: which id of ``data`` and which owner to ask.
    recipient_kind: ClassVar[RecipientKind] = "member"

    def recipient_id(self) -> str | None:
        value = getattr(self, "member_id", None)
        return str(value) if value is not None else None


class Event(BaseModel):
    """The envelope that goes through the outbox, the queue and the notifier's inbox."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    source: Source
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = 1
    data: dict[str, Any]


# ---- NETSUGEN: members and visits ---------------------------------------------------------------
class MemberRegistered(EventData):
    type, source, category = "member.registered", "netsugen_booking", "transactional"
    member_id: uuid.UUID


class VisitCheckedIn(EventData):
    type, source, category, urgent = "visit.checked_in", "netsugen_booking", "activity", False
    member_id: uuid.UUID
    visit_id: uuid.UUID


class VisitCheckedOut(EventData):
    type, source, category, urgent = "visit.checked_out", "netsugen_booking", "activity", False
    member_id: uuid.UUID
    visit_id: uuid.UUID


class VisitAutoCheckedOut(EventData):
    type, source, category, urgent = "visit.auto_checked_out", "netsugen_booking", "activity", False
    member_id: uuid.UUID
    visit_id: uuid.UUID


class VisitDailyCapReached(EventData):
    type, source, category, urgent = "visit.daily_cap_reached", "netsugen_booking", "activity", False
    member_id: uuid.UUID
    day: date


# ---- NETSUGEN: billing ------------------------------------------------------------------------
class InvoiceIssued(EventData):
    type, source, category = "invoice.issued", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    invoice_id: uuid.UUID


class PaymentRecorded(EventData):
    """A payment was recorded: the notifier emails the member the receipt (領収書) link."""

    type, source, category = "payment.recorded", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    invoice_id: uuid.UUID
    payment_id: uuid.UUID


class InvoiceOverdueReminder(EventData):
    """An overdue reminder (督促) of an invoice, ``stage_days`` after its due date."""

    type, source, category = "invoice.overdue_reminder", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    invoice_id: uuid.UUID
    stage_days: int
    #: The amount outstanding when the reminder was sent (yen, tax included).
    balance_yen: int


# ---- NETSUGEN: bookings, events, consultations ---------------------------------------------------
class BookingConfirmed(EventData):
    type, source, category = "booking.confirmed", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    booking_id: uuid.UUID


class BookingCancelled(EventData):
    type, source, category = "booking.cancelled", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    booking_id: uuid.UUID


class BookingReminder(EventData):
    """Day-before reminder for a booking, an event registration or a consultation."""

    type, source, category, urgent = "booking.reminder", "netsugen_booking", "reminders", False
    member_id: uuid.UUID | None = None
    registration_id: uuid.UUID | None = None
    subject_kind: Literal["booking", "event_registration", "consultation"]
    subject_id: uuid.UUID

    @model_validator(mode="after")
    def _has_recipient(self) -> BookingReminder:
        # Without either id the notifier would have nobody to remind.
        if self.member_id is None and self.registration_id is None:
            raise ValueError("a reminder needs member_id or registration_id")
        return self

    def recipient_id(self) -> str | None:
        return (
            str(self.member_id)
            if self.member_id
            else (str(self.registration_id) if self.registration_id else None)
        )


class _RegistrationEvent(EventData):
    """Registrations can be a guest's: the recipient is resolved through the registration."""

    recipient_kind: ClassVar[RecipientKind] = "event_registration"
    registration_id: uuid.UUID
    event_id: uuid.UUID

    def recipient_id(self) -> str | None:
        return str(self.registration_id)


class EventRegistrationConfirmed(_RegistrationEvent):
    type, source, category = "event.registration_confirmed", "netsugen_booking", "transactional"


class EventWaitlisted(_RegistrationEvent):
    type, source, category = "event.waitlisted", "netsugen_booking", "transactional"


class EventWaitlistPromoted(_RegistrationEvent):
    type, source, category = "event.waitlist_promoted", "netsugen_booking", "transactional"


class EventRegistrationConfirmationRequested(_RegistrationEvent):
    """A guest registered: the email with the one-time confirmation link (double opt-in).

    The recipient is looked up at ``/v1/event-registrations/{id}/confirmation-contact``, which also
    hands out the link's secret; nothing secret or personal travels through the outbox.
    """

    type, source, category = "event.registration_confirmation_requested", "netsugen_booking", "transactional"
    recipient_kind: ClassVar[RecipientKind] = "event_registration_confirmation"


class ConsultationConfirmed(EventData):
    type, source, category = "consultation.confirmed", "netsugen_booking", "transactional"
    member_id: uuid.UUID
    consultation_id: uuid.UUID


# ---- Sign-in (netsugen_booking/accounts): one-time links and codes ----------------------------------
class _AuthMessageEvent(EventData):
    """The notifier reads the address and the one-time secret once from
    ``GET /v1/auth/messages/{message_id}/contact`` (the secret is erased after that read)."""

    category: ClassVar[Category] = "transactional"
    recipient_kind: ClassVar[RecipientKind] = "auth_message"
    message_id: uuid.UUID

    def recipient_id(self) -> str | None:
        return str(self.message_id)


class AuthSignInLink(_AuthMessageEvent):
    type, source = "auth.sign_in_link", "netsugen_booking"


class AuthPasswordReset(_AuthMessageEvent):
    type, source = "auth.password_reset", "netsugen_booking"


class AuthEmailChange(_AuthMessageEvent):
    type, source = "auth.email_change", "netsugen_booking"


# ---- KPI registry -----------------------------------------------------------------------------
class KpiObservationRecorded(EventData):
    type, source, category, urgent = "kpi.observation_recorded", "kpi_api", "kpi", False
    recipient_kind: ClassVar[RecipientKind] = "none"
    indicator_id: str
    observation_id: uuid.UUID
    fiscal_year: int
    breakdown: str | None = None


class KpiStatusChanged(EventData):
    type, source, category, urgent = "kpi.status_changed", "kpi_api", "kpi", False
    recipient_kind: ClassVar[RecipientKind] = "none"
    indicator_id: str
    previous_status: str
    status: str


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.type: cls
    for cls in (
        MemberRegistered,
        VisitCheckedIn,
        VisitCheckedOut,
        VisitAutoCheckedOut,
        VisitDailyCapReached,
        InvoiceIssued,
        PaymentRecorded,
        InvoiceOverdueReminder,
        BookingConfirmed,
        BookingCancelled,
        BookingReminder,
        EventRegistrationConfirmed,
        EventWaitlisted,
        EventWaitlistPromoted,
        EventRegistrationConfirmationRequested,
        ConsultationConfirmed,
        KpiObservationRecorded,
        KpiStatusChanged,
        AuthSignInLink,
        AuthPasswordReset,
        AuthEmailChange,
    )
}


def make_event(data: EventData) -> Event:
    return Event(type=data.type, source=data.source, data=data.model_dump(mode="json"))


def parse_data(event: Event) -> EventData:
    """Validate an envelope's ``data`` against its type; raises ``KeyError`` for unknown types."""
    return EVENT_TYPES[event.type].model_validate(event.data)
