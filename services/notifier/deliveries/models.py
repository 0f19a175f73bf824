"""The delivery ledger.

What the database guarantees:
- an event is recorded once: unique ``(source, event_id)`` on the inbox; a repeated event inserts
  nothing (``ON CONFLICT DO NOTHING``);
- one delivery per (event, channel, recipient or endpoint): unique ``(inbox_id, channel, recipient)``,
  so a job re-run after its worker died never adds a second ledger row;
- one row per attempt number: unique ``(delivery_id, number)``;
- statuses and channels are closed sets (CHECKs).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

import services.notifier.webhooks.models  # noqa: F401  (webhook_endpoint, the FK's target)
from services.notifier.db import Base

CHANNELS = ("email", "webhook")
STATUSES = ("queued", "sending", "delivered", "failed_temporary", "failed_permanent", "dead", "suppressed")
FINAL_STATUSES = ("delivered", "failed_permanent", "dead", "suppressed")
ATTEMPT_RESULTS = ("delivered", "failed_temporary", "failed_permanent", "interrupted")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Inbox(Base):
    """Every event received (queue or HTTP), once."""

    __tablename__ = "inbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The event's ``data`` (ids only, never personal data).
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_inbox_received_at", "received_at"),
        {"comment": "Events received by the notifier, once per (source, event_id)"},
    )


class Delivery(Base):
    """One message to one recipient (email) or endpoint (webhook) for one event."""

    __tablename__ = "delivery"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    inbox_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifier.inbox.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    #: ``member:<uuid>``, ``event_registration:<uuid>`` or ``endpoint:<uuid>``: a reference, never an address.
    recipient: Mapped[str] = mapped_column(String(80))
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notifier.webhook_endpoint.id", ondelete="SET NULL")
    )
    template: Mapped[str | None] = mapped_column(String(64))
    template_version: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20))
    #: Attempts so far (all cycles); the attempt rows are numbered 1..attempts.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    #: ``attempts`` when the current retry cycle began (0; a manual retry of a dead letter resets it).
    retry_from: Mapped[int] = mapped_column(Integer, server_default="0")
    #: When the next attempt may run (quiet hours, backoff); the ledger's "scheduled time".
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: When the running attempt claimed the delivery (status `sending`): its lease starts here.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Why a delivery is final without being delivered (failed_permanent, dead, suppressed).
    reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("inbox_id", "channel", "recipient"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("attempts >= 0 AND retry_from >= 0 AND retry_from <= attempts", name="attempts"),
        CheckConstraint("status <> 'sending' OR claimed_at IS NOT NULL", name="sending_is_claimed"),
        CheckConstraint("status <> 'delivered' OR delivered_at IS NOT NULL", name="delivered_has_time"),
        Index("ix_delivery_created_at_id", "created_at", "id"),
        Index("ix_delivery_recipient", "recipient"),
        Index("ix_delivery_event_type", "event_type"),
        # The reconciler's and the resume's scans touch unfinished deliveries only.
        Index(
            "ix_delivery_unfinished",
            "status",
            "next_attempt_at",
            postgresql_where=text("status IN ('queued', 'sending', 'failed_temporary')"),
        ),
        {"comment": "Deliveries: one per (event, channel, recipient or endpoint)"},
    )


class DeliveryAttempt(Base):
    """One attempt of one delivery: time and result."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifier.delivery.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    result: Mapped[str] = mapped_column(String(20))
    #: SMTP reply code or HTTP status, when there was one.
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("delivery_id", "number"),
        CheckConstraint(_in("result", ATTEMPT_RESULTS), name="result"),
        CheckConstraint("number >= 1", name="number_positive"),
        {"comment": "Every delivery attempt with its time and result"},
    )


class ReconcileRun(Base):
    """One pass of the reconciliation cron and what it found (shown in /metrics)."""

    __tablename__ = "reconcile_run"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: Deliveries found `sending` past their lease (worker died): attempt recorded as interrupted.
    interrupted: Mapped[int] = mapped_column(Integer)
    #: Deliveries overdue (or just interrupted) handed to the queue again.
    requeued: Mapped[int] = mapped_column(Integer)
    #: Of those, how many already had a job waiting (nothing added).
    already_queued: Mapped[int] = mapped_column(Integer)
    #: Interrupted deliveries that had no attempts left.
    dead: Mapped[int] = mapped_column(Integer)
    unfinished_deliveries: Mapped[int] = mapped_column(Integer)
    unfinished_events: Mapped[int] = mapped_column(Integer)
    oldest_unfinished_s: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_reconcile_run_started_at", "started_at"),
        {"comment": "Reconciliation cron runs (kept 7 days)"},
    )
