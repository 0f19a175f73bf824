"""Invoices (適格請求書), credit notes (返還インボイス), their lines, payments and numbering.

What the database guarantees (billing/README.md explains why each matters):

- one invoice per member per month: a partial unique index on ``(member_id, period_start)`` for
  ``kind = 'invoice'``; a re-run of the monthly job inserts with ``ON CONFLICT DO NOTHING``;
- unique invoice numbers, assigned only at issue (a draft has none, anything else has one);
- an issued invoice is immutable: triggers (migration 0005) refuse any UPDATE other than the
  status/paid/credited columns, any DELETE of a non-draft invoice and any INSERT/UPDATE/DELETE of
  the lines of a non-draft invoice;
- gapless numbers per series and fiscal year: one counter row per (series, fiscal year), updated
  in the issuing transaction (the row lock serialises issuers; a rollback gives the numbers back).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
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
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (member tables the FKs refer to)
import services.netsugen_booking.plans.models  # noqa: F401  (plan table)
from services.netsugen_booking.db import Base

INVOICE_KINDS = ("invoice", "credit_note")
INVOICE_STATUSES = ("draft", "issued", "paid", "partially_paid", "void")
LINE_KINDS = ("subscription", "dropin_day", "booking", "credit")
BILLED_ITEM_KINDS = ("visit", "fee", "booking")
PAYMENT_METHODS = ("cash", "card", "bank_transfer")
RUN_TRIGGERS = ("schedule", "api", "cli")

#: Number series: invoices NS-2026-000123, credit notes NSC-2026-000001.
SERIES_INVOICE = "NS"
SERIES_CREDIT_NOTE = "NSC"
#: Receipts (領収書) of payments: NR-2026-000001, gapless per fiscal year like invoices.
SERIES_RECEIPT = "NR"


class InvoiceRun(Base):
    """One execution of the monthly invoice run (written in the run's own transaction)."""

    __tablename__ = "invoice_run"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    issue: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    members_billed: Mapped[int] = mapped_column(Integer, server_default="0")
    invoices_created: Mapped[int] = mapped_column(Integer, server_default="0")
    lines_created: Mapped[int] = mapped_column(Integer, server_default="0")
    total_yen: Mapped[int] = mapped_column(BigInteger, server_default="0")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("trigger IN ('schedule', 'api', 'cli')", name="trigger"),
        CheckConstraint("period_end >= period_start", name="period_in_order"),
        Index("ix_invoice_run_period_start", "period_start"),
        {"comment": "Monthly invoice runs (audit of who ran what)"},
    )


class InvoiceCounter(Base):
    """Last number used per series and fiscal year; locked by ``UPDATE … RETURNING`` when issuing."""

    __tablename__ = "invoice_counter"

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        CheckConstraint("last_number >= 0", name="last_number_non_negative"),
        {"comment": "Gapless invoice-number counters per series and fiscal year"},
    )


class Invoice(Base):
    """An invoice or a credit note. Amounts are tax-inclusive yen (総額表示).

    ``recipient_*`` and ``issuer_*`` are copies made at issue: the invoice keeps the legally
    required data even if the member is later renamed or anonymised or the settings change.
    """

    __tablename__ = "invoice"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    issue_date: Mapped[date | None] = mapped_column(Date, index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_member_number: Mapped[str] = mapped_column(String(16))
    issuer_name: Mapped[str | None] = mapped_column(String(200))
    issuer_registration_number: Mapped[str | None] = mapped_column(String(14))
    issuer_address: Mapped[str | None] = mapped_column(String(300))
    total_yen: Mapped[int] = mapped_column(Integer)
    tax_rate_percent: Mapped[int] = mapped_column(Integer, server_default="10")
    tax_yen: Mapped[int] = mapped_column(Integer)
    tax_rounding: Mapped[str] = mapped_column(String(16))
    paid_yen: Mapped[int] = mapped_column(Integer, server_default="0")
    credited_yen: Mapped[int] = mapped_column(Integer, server_default="0")
    refunded_yen: Mapped[int] = mapped_column(Integer, server_default="0")
    credited_invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="RESTRICT"), index=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoice_run.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        CheckConstraint("status IN ('draft', 'issued', 'paid', 'partially_paid', 'void')", name="status"),
        CheckConstraint("recipient_kind IN ('individual', 'corporate')", name="recipient_kind"),
        CheckConstraint("tax_rounding IN ('floor', 'round_half_up', 'ceil')", name="tax_rounding"),
        CheckConstraint("period_end >= period_start", name="period_in_order"),
        # Numbers are assigned at issue: a draft has none, every other status has one (and the
        # qualified-invoice fields with it).
        CheckConstraint("status <> 'draft' OR number IS NULL", name="draft_has_no_number"),
        CheckConstraint(
            "status = 'draft' OR (number IS NOT NULL AND fiscal_year IS NOT NULL AND issue_date IS NOT NULL"
            " AND issuer_name IS NOT NULL AND issuer_registration_number IS NOT NULL AND issued_at IS NOT NULL)",
            name="issued_is_complete",
        ),
        CheckConstraint(
            "(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)", name="credit_note_has_original"
        ),
        CheckConstraint(
            "(kind = 'invoice' AND total_yen >= 0) OR (kind = 'credit_note' AND total_yen <= 0)",
            name="total_sign",
        ),
        CheckConstraint("paid_yen >= 0 AND credited_yen >= 0", name="amounts_non_negative"),
        CheckConstraint("refunded_yen >= 0", name="refunded_non_negative"),
        CheckConstraint(
            "kind = 'invoice' OR (paid_yen = 0 AND credited_yen = 0 AND status IN ('draft', 'issued'))",
            name="credit_note_not_payable",
        ),
        # Never more paid, or credited, than the invoice's total.
        CheckConstraint("paid_yen <= total_yen OR kind = 'credit_note'", name="not_overpaid"),
        CheckConstraint("credited_yen <= total_yen OR kind = 'credit_note'", name="not_overcredited"),
        # A month may have supplementary invoices: what keeps an item from being billed twice is
        # ``billed_item`` (one row per item on a live invoice).
        Index("ix_invoice_member_id_period_start", "member_id", "period_start"),
        Index("ix_invoice_status_due_date", "status", "due_date"),
        {"comment": "Qualified invoices (適格請求書) and credit notes (返還インボイス)"},
    )


class InvoiceLine(Base):
    """One line: a subscription fee, one drop-in day (date, minutes, blocks, cap) or a credit."""

    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300))
    plan_code: Mapped[str | None] = mapped_column(ForeignKey("plan.code", ondelete="RESTRICT"))
    service_date: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    member_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member_user.id", ondelete="RESTRICT")
    )
    minutes: Mapped[int | None] = mapped_column(Integer)
    blocks: Mapped[int | None] = mapped_column(Integer)
    uncapped_yen: Mapped[int | None] = mapped_column(Integer)
    cap_applied: Mapped[bool | None] = mapped_column(Boolean)
    amount_yen: Mapped[int] = mapped_column(Integer)
    tax_rate_percent: Mapped[int] = mapped_column(Integer, server_default="10")
    # What a supplementary or credit line corrects (printed on the document), e.g. "請求書 NS-2026-000012 の訂正".
    corrects: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        UniqueConstraint("invoice_id", "position"),
        CheckConstraint("kind IN ('subscription', 'dropin_day', 'booking', 'credit')", name="kind"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("kind <> 'dropin_day' OR service_date IS NOT NULL", name="dropin_day_has_date"),
        CheckConstraint("(kind = 'credit') = (amount_yen < 0) OR amount_yen = 0", name="amount_sign"),
        {"comment": "Invoice and credit-note lines (immutable once the invoice is issued)"},
    )


class InvoicePayment(Base):
    __tablename__ = "invoice_payment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    amount_yen: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # 領収書 number, NR-<fiscal year of paid_on>-<6 digits>, gapless (the counter of its series).
    receipt_number: Mapped[str | None] = mapped_column(String(32), unique=True)

    __table_args__ = (
        CheckConstraint("method IN ('cash', 'card', 'bank_transfer')", name="method"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        {"comment": "Payments received against invoices (partial payments allowed)"},
    )


class InvoiceRefund(Base):
    """Money paid back against an invoice (optionally naming the credit note that caused it)."""

    __tablename__ = "invoice_refund"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    amount_yen: Mapped[int] = mapped_column(Integer)
    refunded_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("method IN ('cash', 'card', 'bank_transfer')", name="method"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        {"comment": "Money paid back to a member against an invoice (or one of its credit notes)"},
    )


class BilledItem(Base):
    """An item (visit, monthly fee, booking) billed on a live invoice: the key is the primary key,
    so the database refuses to bill it twice. Voiding or fully crediting the invoice deletes the
    rows (the items are billed again by the next run)."""

    __tablename__ = "billed_item"

    item_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"))
    period_start: Mapped[date] = mapped_column(Date)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    plan_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('visit', 'fee', 'booking')", name="kind"),
        Index("ix_billed_item_member_kind_period", "member_id", "kind", "period_start"),
        {"comment": "Items billed on a live invoice (one row per item: never billed twice)"},
    )


class InvoiceReminder(Base):
    """An overdue reminder (督促) sent: the primary key (invoice, stage) sends each stage once."""

    __tablename__ = "invoice_reminder"

    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoice.id", ondelete="RESTRICT"), primary_key=True
    )
    stage_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"))
    due_date: Mapped[date] = mapped_column(Date)
    balance_yen: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    __table_args__ = (
        CheckConstraint("stage_days > 0", name="stage_positive"),
        CheckConstraint("balance_yen > 0", name="balance_positive"),
        {"comment": "Overdue reminders (督促) sent: one per invoice and interval"},
    )


class DailyCapReached(Base):
    """A member's drop-in day that reached the daily cap; the primary key makes the
    ``visit.daily_cap_reached`` event fire once per member per day."""

    __tablename__ = "daily_cap_reached"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = ({"comment": "Drop-in days that reached the daily cap (event sent once)"},)
