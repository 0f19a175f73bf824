"""NETSUGEN billing: invoice runs, gapless counters, invoices, lines, payments, daily-cap records.

The triggers make an issued invoice immutable in the database itself, not only in the code:
- ``invoice_guard`` (BEFORE UPDATE OR DELETE, per row): once an invoice has left ``draft`` only
  ``status``, ``paid_yen``, ``credited_yen`` and ``updated_at`` may change, it can never go back
  to ``draft``, ``void`` is final, and it can never be deleted;
- ``invoice_line_guard_*`` (AFTER INSERT/UPDATE/DELETE, per statement, with transition tables so
  a bulk insert of 200,000 lines costs one check): lines of a non-draft invoice are refused.
TRUNCATE is not affected (the test suite cleans up with it).

Revision ID: 0005_netsugen_billing
Revises: 0003_netsugen_core
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_netsugen_billing"
down_revision: str | Sequence[str] | None = "0003_netsugen_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "netsugen"

INVOICE_GUARD = f"""
CREATE FUNCTION {S}.invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF (to_jsonb(NEW) - ARRAY['status', 'paid_yen', 'credited_yen', 'updated_at'])
           IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'paid_yen', 'credited_yen', 'updated_at']) THEN
            RAISE EXCEPTION 'invoice % is %: an issued invoice cannot be edited; issue a credit note',
                OLD.number, OLD.status USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""

LINE_GUARD_NEW = f"""
CREATE FUNCTION {S}.invoice_line_guard_new() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT coalesce(i.number, i.id::text) INTO bad
    FROM new_lines l JOIN {S}.invoice i ON i.id = l.invoice_id
    WHERE i.status <> 'draft' LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invoice % is issued: its lines cannot be added or changed', bad
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$
"""

LINE_GUARD_OLD = f"""
CREATE FUNCTION {S}.invoice_line_guard_old() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT coalesce(i.number, i.id::text) INTO bad
    FROM old_lines l JOIN {S}.invoice i ON i.id = l.invoice_id
    WHERE i.status <> 'draft' LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invoice % is issued: its lines cannot be changed or deleted', bad
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = [
    f"""CREATE TRIGGER invoice_guard BEFORE UPDATE OR DELETE ON {S}.invoice
        FOR EACH ROW EXECUTE FUNCTION {S}.invoice_guard()""",
    f"""CREATE TRIGGER invoice_line_guard_insert AFTER INSERT ON {S}.invoice_line
        REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION {S}.invoice_line_guard_new()""",
    f"""CREATE TRIGGER invoice_line_guard_update_new AFTER UPDATE ON {S}.invoice_line
        REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION {S}.invoice_line_guard_new()""",
    f"""CREATE TRIGGER invoice_line_guard_update_old AFTER UPDATE ON {S}.invoice_line
        REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION {S}.invoice_line_guard_old()""",
    f"""CREATE TRIGGER invoice_line_guard_delete AFTER DELETE ON {S}.invoice_line
        REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION {S}.invoice_line_guard_old()""",
]


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "invoice_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(200)),
        sa.Column("issue", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("members_billed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invoices_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_yen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_run")),
        sa.CheckConstraint("trigger IN ('schedule', 'api', 'cli')", name=op.f("ck_invoice_run_trigger")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_invoice_run_period_in_order")),
        schema=S,
        comment="Monthly invoice runs (audit of who ran what)",
    )
    op.create_index("ix_invoice_run_period_start", "invoice_run", ["period_start"], schema=S)

    op.create_table(
        "invoice_counter",
        sa.Column("series", sa.String(8), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("series", "fiscal_year", name=op.f("pk_invoice_counter")),
        sa.CheckConstraint("last_number >= 0", name=op.f("ck_invoice_counter_last_number_non_negative")),
        schema=S,
        comment="Gapless invoice-number counters per series and fiscal year",
    )

    op.create_table(
        "invoice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), server_default="draft", nullable=False),
        sa.Column("number", sa.String(32)),
        sa.Column("fiscal_year", sa.Integer()),
        sa.Column("issue_date", sa.Date()),
        sa.Column("due_date", sa.Date()),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("recipient_member_number", sa.String(16), nullable=False),
        sa.Column("issuer_name", sa.String(200)),
        sa.Column("issuer_registration_number", sa.String(14)),
        sa.Column("issuer_address", sa.String(300)),
        sa.Column("total_yen", sa.Integer(), nullable=False),
        sa.Column("tax_rate_percent", sa.Integer(), server_default="10", nullable=False),
        sa.Column("tax_yen", sa.Integer(), nullable=False),
        sa.Column("tax_rounding", sa.String(16), nullable=False),
        sa.Column("paid_yen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credited_yen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credited_invoice_id", sa.Uuid()),
        sa.Column("reason", sa.Text()),
        sa.Column("run_id", sa.Uuid()),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("number", name=op.f("uq_invoice_number")),
        sa.ForeignKeyConstraint(
            ["member_id"], [f"{S}.member.id"], name=op.f("fk_invoice_member_id_member"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["credited_invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_credited_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            [f"{S}.invoice_run.id"],
            name=op.f("fk_invoice_run_id_invoice_run"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f("ck_invoice_kind")),
        sa.CheckConstraint(
            "status IN ('draft', 'issued', 'paid', 'partially_paid', 'void')", name=op.f("ck_invoice_status")
        ),
        sa.CheckConstraint(
            "recipient_kind IN ('individual', 'corporate')", name=op.f("ck_invoice_recipient_kind")
        ),
        sa.CheckConstraint(
            "tax_rounding IN ('floor', 'round_half_up', 'ceil')", name=op.f("ck_invoice_tax_rounding")
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_invoice_period_in_order")),
        sa.CheckConstraint(
            "status <> 'draft' OR number IS NULL", name=op.f("ck_invoice_draft_has_no_number")
        ),
        sa.CheckConstraint(
            "status = 'draft' OR (number IS NOT NULL AND fiscal_year IS NOT NULL AND issue_date IS NOT NULL"
            " AND issuer_name IS NOT NULL AND issuer_registration_number IS NOT NULL AND issued_at IS NOT NULL)",
            name=op.f("ck_invoice_issued_is_complete"),
        ),
        sa.CheckConstraint(
            "(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)",
            name=op.f("ck_invoice_credit_note_has_original"),
        ),
        sa.CheckConstraint(
            "(kind = 'invoice' AND total_yen >= 0) OR (kind = 'credit_note' AND total_yen <= 0)",
            name=op.f("ck_invoice_total_sign"),
        ),
        sa.CheckConstraint(
            "paid_yen >= 0 AND credited_yen >= 0", name=op.f("ck_invoice_amounts_non_negative")
        ),
        sa.CheckConstraint(
            "kind = 'invoice' OR (paid_yen = 0 AND credited_yen = 0 AND status IN ('draft', 'issued'))",
            name=op.f("ck_invoice_credit_note_not_payable"),
        ),
        sa.CheckConstraint(
            "paid_yen <= total_yen OR kind = 'credit_note'", name=op.f("ck_invoice_not_overpaid")
        ),
        sa.CheckConstraint(
            "credited_yen <= total_yen OR kind = 'credit_note'", name=op.f("ck_invoice_not_overcredited")
        ),
        schema=S,
        comment="Qualified invoices (適格請求書) and credit notes (返還インボイス)",
    )
    op.create_index(op.f("ix_invoice_issue_date"), "invoice", ["issue_date"], schema=S)
    op.create_index(op.f("ix_invoice_credited_invoice_id"), "invoice", ["credited_invoice_id"], schema=S)
    op.create_index(op.f("ix_invoice_run_id"), "invoice", ["run_id"], schema=S)
    op.create_index("ix_invoice_status_due_date", "invoice", ["status", "due_date"], schema=S)
    op.create_index(
        "uq_invoice_one_per_member_month",
        "invoice",
        ["member_id", "period_start"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("kind = 'invoice'"),
    )

    op.create_table(
        "invoice_line",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("plan_code", sa.String(32)),
        sa.Column("service_date", sa.Date()),
        sa.Column("period_start", sa.Date()),
        sa.Column("period_end", sa.Date()),
        sa.Column("member_user_id", sa.Uuid()),
        sa.Column("minutes", sa.Integer()),
        sa.Column("blocks", sa.Integer()),
        sa.Column("uncapped_yen", sa.Integer()),
        sa.Column("cap_applied", sa.Boolean()),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("tax_rate_percent", sa.Integer(), server_default="10", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line")),
        sa.UniqueConstraint("invoice_id", "position", name=op.f("uq_invoice_line_invoice_id_position")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_line_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            [f"{S}.plan.code"],
            name=op.f("fk_invoice_line_plan_code_plan"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_user_id"],
            [f"{S}.member_user.id"],
            name=op.f("fk_invoice_line_member_user_id_member_user"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "kind IN ('subscription', 'dropin_day', 'credit')", name=op.f("ck_invoice_line_kind")
        ),
        sa.CheckConstraint("position >= 1", name=op.f("ck_invoice_line_position_positive")),
        sa.CheckConstraint(
            "kind <> 'dropin_day' OR service_date IS NOT NULL",
            name=op.f("ck_invoice_line_dropin_day_has_date"),
        ),
        sa.CheckConstraint(
            "(kind = 'credit') = (amount_yen < 0) OR amount_yen = 0", name=op.f("ck_invoice_line_amount_sign")
        ),
        schema=S,
        comment="Invoice and credit-note lines (immutable once the invoice is issued)",
    )

    op.create_table(
        "invoice_payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_payment")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{S}.invoice.id"],
            name=op.f("fk_invoice_payment_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "method IN ('cash', 'card', 'bank_transfer')", name=op.f("ck_invoice_payment_method")
        ),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_invoice_payment_amount_positive")),
        schema=S,
        comment="Payments received against invoices (partial payments allowed)",
    )
    op.create_index(op.f("ix_invoice_payment_invoice_id"), "invoice_payment", ["invoice_id"], schema=S)

    op.create_table(
        "daily_cap_reached",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "day", name=op.f("pk_daily_cap_reached")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            [f"{S}.member.id"],
            name=op.f("fk_daily_cap_reached_member_id_member"),
            ondelete="RESTRICT",
        ),
        schema=S,
        comment="Drop-in days that reached the daily cap (event sent once)",
    )

    op.execute(INVOICE_GUARD)
    op.execute(LINE_GUARD_NEW)
    op.execute(LINE_GUARD_OLD)
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("daily_cap_reached", schema=S)
    op.drop_table("invoice_payment", schema=S)
    op.drop_table("invoice_line", schema=S)
    op.drop_table("invoice", schema=S)
    op.drop_table("invoice_counter", schema=S)
    op.drop_table("invoice_run", schema=S)
    op.execute(f"DROP FUNCTION IF EXISTS {S}.invoice_line_guard_old()")
    op.execute(f"DROP FUNCTION IF EXISTS {S}.invoice_line_guard_new()")
    op.execute(f"DROP FUNCTION IF EXISTS {S}.invoice_guard()")
