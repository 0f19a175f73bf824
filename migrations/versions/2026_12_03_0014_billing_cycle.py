"""NETSUGEN billing cycle: billed items (supplementary runs), refunds, receipts, reminders.

Revision ID: 0014_billing_cycle
Revises: 0015_signin
Create Date: 2026-12-03

- ``billed_item``: what a live invoice bills (a visit, a monthly fee, a booking), one row per item
  with the item's key as primary key, so an item is on at most one live invoice (the database
  refuses a second). Voiding or fully crediting an invoice deletes its rows: the next run bills
  the items again. The one-invoice-per-member-month index goes: a month may now have
  supplementary invoices.
- ``invoice.refunded_yen`` (the invoice guard lets it change after issue, like ``paid_yen``);
  ``invoice_refund``; ``invoice_payment.receipt_number`` (gapless, ``NR-<fiscal year>-<6 digits>``);
  ``invoice_reminder`` (primary key (invoice, stage): each 督促 once); ``invoice_line.kind``
  gains ``booking`` and lines carry ``corrects`` (what a supplementary line corrects);
  ``plan_assignment.reason`` (why staff back-dated a plan change).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_billing_cycle"
down_revision: str | Sequence[str] | None = "0015_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "netsugen"

_GUARD = """
CREATE OR REPLACE FUNCTION {s}.invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % (%) is %: an issued invoice cannot be deleted',
                OLD.number, OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' THEN
        IF NEW.status = 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: it cannot go back to draft', OLD.number, OLD.status
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status = 'void' AND NEW.status <> 'void' THEN
            RAISE EXCEPTION 'invoice % is void: void is final', OLD.number
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF (to_jsonb(NEW) - ARRAY[{mutable}])
           IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{mutable}]) THEN
            RAISE EXCEPTION 'invoice % is %: an issued invoice cannot be edited; issue a credit note',
                OLD.number, OLD.status USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""
_OLD_MUTABLE = "'status', 'paid_yen', 'credited_yen', 'updated_at'"
_NEW_MUTABLE = "'status', 'paid_yen', 'credited_yen', 'refunded_yen', 'updated_at'"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.drop_index("uq_invoice_one_per_member_month", table_name="invoice", schema=S)
    op.create_index("ix_invoice_member_id_period_start", "invoice", ["member_id", "period_start"], schema=S)
    op.add_column(
        "invoice", sa.Column("refunded_yen", sa.Integer(), server_default="0", nullable=False), schema=S
    )
    op.create_check_constraint(
        op.f("ck_invoice_refunded_non_negative"), "invoice", "refunded_yen >= 0", schema=S
    )
    op.execute(_GUARD.format(s=S, mutable=_NEW_MUTABLE))

    op.drop_constraint(op.f("ck_invoice_line_kind"), "invoice_line", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoice_line_kind"),
        "invoice_line",
        "kind IN ('subscription', 'dropin_day', 'booking', 'credit')",
        schema=S,
    )
    op.add_column("invoice_line", sa.Column("corrects", sa.String(300)), schema=S)

    op.add_column("invoice_payment", sa.Column("receipt_number", sa.String(32)), schema=S)
    op.create_unique_constraint(
        op.f("uq_invoice_payment_receipt_number"), "invoice_payment", ["receipt_number"], schema=S
    )

    op.create_table(
        "billed_item",
        sa.Column("item_key", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("plan_code", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("item_key", name=op.f("pk_billed_item")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            [f"{S}.member.id"],
            name=op.f("fk_billed_item_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_billed_item_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("kind IN ('visit', 'fee', 'booking')", name=op.f("ck_billed_item_kind")),
        schema=S,
        comment="Items billed on a live invoice (one row per item: never billed twice)",
    )
    op.create_index(op.f("ix_billed_item_invoice_id"), "billed_item", ["invoice_id"], schema=S)
    op.create_index(
        "ix_billed_item_member_kind_period", "billed_item", ["member_id", "kind", "period_start"], schema=S
    )

    op.create_table(
        "invoice_refund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid()),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("refunded_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_refund")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_refund_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_refund_credit_note_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "method IN ('cash', 'card', 'bank_transfer')", name=op.f("ck_invoice_refund_method")
        ),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_invoice_refund_amount_positive")),
        schema=S,
        comment="Money paid back to a member against an invoice (or one of its credit notes)",
    )
    op.create_index(op.f("ix_invoice_refund_invoice_id"), "invoice_refund", ["invoice_id"], schema=S)

    op.create_table(
        "invoice_reminder",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("stage_days", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("balance_yen", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "stage_days", name=op.f("pk_invoice_reminder")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_reminder_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            [f"{S}.member.id"],
            name=op.f("fk_invoice_reminder_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("stage_days > 0", name=op.f("ck_invoice_reminder_stage_positive")),
        sa.CheckConstraint("balance_yen > 0", name=op.f("ck_invoice_reminder_balance_positive")),
        schema=S,
        comment="Overdue reminders (督促) sent: one per invoice and interval",
    )
    op.create_index(op.f("ix_invoice_reminder_sent_at"), "invoice_reminder", ["sent_at"], schema=S)
    op.add_column("plan_assignment", sa.Column("reason", sa.String(500)), schema=S)


def downgrade() -> None:
    op.drop_column("plan_assignment", "reason", schema=S)
    op.drop_table("invoice_reminder", schema=S)
    op.drop_table("invoice_refund", schema=S)
    op.drop_table("billed_item", schema=S)
    op.drop_constraint(op.f("uq_invoice_payment_receipt_number"), "invoice_payment", schema=S, type_="unique")
    op.drop_column("invoice_payment", "receipt_number", schema=S)
    op.drop_column("invoice_line", "corrects", schema=S)
    op.drop_constraint(op.f("ck_invoice_line_kind"), "invoice_line", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoice_line_kind"),
        "invoice_line",
        "kind IN ('subscription', 'dropin_day', 'credit')",
        schema=S,
    )
    op.execute(_GUARD.format(s=S, mutable=_OLD_MUTABLE))
    op.drop_constraint(op.f("ck_invoice_refunded_non_negative"), "invoice", schema=S, type_="check")
    op.drop_column("invoice", "refunded_yen", schema=S)
    op.drop_index("ix_invoice_member_id_period_start", table_name="invoice", schema=S)
    # Months with supplementary invoices cannot go back to one invoice per member and month: the
    # index creation fails then (by design; there is no lossless downgrade of such data).
    op.create_index(
        "uq_invoice_one_per_member_month",
        "invoice",
        ["member_id", "period_start"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("kind = 'invoice'"),
    )
