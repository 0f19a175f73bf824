"""NETSUGEN core: plans and prices, members, plan assignments, visits, audit, calendar, idempotency.

Revision ID: 0003_netsugen_core
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_netsugen_core"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "netsugen"
NO_USER_UUID = "00000000-0000-0000-0000-000000000000"


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    # Exclusion constraints over (uuid =, range &&) need btree_gist (0001 creates it; be explicit).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    # ---- plans (reference data) -------------------------------------------------------------
    op.create_table(
        "plan",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_ja", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("max_users", sa.Integer()),
        sa.PrimaryKeyConstraint("code", name="pk_plan"),
        sa.CheckConstraint("kind IN ('monthly', 'dropin')", name="ck_plan_kind"),
        sa.CheckConstraint("max_users IS NULL OR max_users >= 1", name="ck_plan_max_users_positive"),
        schema=S,
        comment="NETSUGEN membership plans (seeded reference data)",
    )
    op.create_table(
        "plan_price",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("monthly_fee_yen", sa.Integer()),
        sa.Column("block_minutes", sa.Integer(), nullable=False),
        sa.Column("block_price_yen", sa.Integer(), nullable=False),
        sa.Column("daily_cap_yen", sa.Integer(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_price"),
        sa.ForeignKeyConstraint(
            ["plan_code"], [f"{S}.plan.code"], name="fk_plan_price_plan_code_plan", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("plan_code", "effective_from", name="uq_plan_price_plan_code_effective_from"),
        sa.CheckConstraint(
            "monthly_fee_yen IS NULL OR monthly_fee_yen >= 0", name="ck_plan_price_monthly_fee_non_negative"
        ),
        sa.CheckConstraint(
            "block_minutes > 0 AND block_minutes <= 1440", name="ck_plan_price_block_minutes_range"
        ),
        sa.CheckConstraint("block_price_yen >= 0", name="ck_plan_price_block_price_non_negative"),
        sa.CheckConstraint("daily_cap_yen >= 0", name="ck_plan_price_daily_cap_non_negative"),
        sa.CheckConstraint("grace_minutes >= 0", name="ck_plan_price_grace_non_negative"),
        schema=S,
        comment="Plan prices with effective dates (never rewritten)",
    )

    # ---- members ------------------------------------------------------------------------------
    op.execute(f"CREATE SEQUENCE {S}.member_number_seq START WITH 1")
    op.create_table(
        "member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_number", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(2), server_default="ja", nullable=False),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("card_token_hash", sa.String(64), nullable=False),
        sa.Column("status_reason", sa.String(500)),
        sa.Column("left_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member"),
        sa.UniqueConstraint("member_number", name="uq_member_member_number"),
        sa.UniqueConstraint("card_token_hash", name="uq_member_card_token_hash"),
        sa.CheckConstraint("kind IN ('individual', 'corporate')", name="ck_member_kind"),
        sa.CheckConstraint("language IN ('ja', 'en')", name="ck_member_language"),
        sa.CheckConstraint("status IN ('active', 'suspended', 'left')", name="ck_member_status"),
        sa.CheckConstraint("status <> 'left' OR left_at IS NOT NULL", name="ck_member_left_has_date"),
        schema=S,
        comment="NETSUGEN members (individuals and corporations)",
    )
    op.create_index("ix_member_created_at_id", "member", ["created_at", "id"], schema=S)

    op.create_table(
        "member_user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("card_token_hash", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_user"),
        sa.ForeignKeyConstraint(
            ["member_id"], [f"{S}.member.id"], name="fk_member_user_member_id_member", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("card_token_hash", name="uq_member_user_card_token_hash"),
        schema=S,
        comment="Named users of corporate members",
    )
    op.create_index("ix_member_user_member_id", "member_user", ["member_id"], schema=S)

    op.create_table(
        "plan_assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date()),
        sa.Column("created_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_assignment"),
        sa.ForeignKeyConstraint(
            ["member_id"], [f"{S}.member.id"], name="fk_plan_assignment_member_id_member", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"], [f"{S}.plan.code"], name="fk_plan_assignment_plan_code_plan", ondelete="RESTRICT"
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date", name="ck_plan_assignment_dates_in_order"
        ),
        schema=S,
        comment="History of members' plans (never rewritten)",
    )
    op.create_index("ix_plan_assignment_member_id", "plan_assignment", ["member_id"], schema=S)
    # A member's assignments never overlap: at most one plan per day.
    op.execute(
        f"ALTER TABLE {S}.plan_assignment ADD CONSTRAINT plan_assignment_no_overlap "
        "EXCLUDE USING gist (member_id WITH =, daterange(start_date, end_date, '[]') WITH &&)"
    )

    # ---- visits -------------------------------------------------------------------------------
    op.create_table(
        "visit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("member_user_id", sa.Uuid()),
        sa.Column("check_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("check_out_at", sa.DateTime(timezone=True)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("auto_checked_out", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("plan_code", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visit"),
        sa.ForeignKeyConstraint(
            ["member_id"], [f"{S}.member.id"], name="fk_visit_member_id_member", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["member_user_id"],
            [f"{S}.member_user.id"],
            name="fk_visit_member_user_id_member_user",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"], [f"{S}.plan.code"], name="fk_visit_plan_code_plan", ondelete="RESTRICT"
        ),
        sa.CheckConstraint("source IN ('desk', 'card', 'manual')", name="ck_visit_source"),
        sa.CheckConstraint(
            "check_out_at IS NULL OR check_out_at >= check_in_at", name="ck_visit_times_in_order"
        ),
        sa.CheckConstraint(
            "NOT auto_checked_out OR check_out_at IS NOT NULL", name="ck_visit_auto_has_check_out"
        ),
        schema=S,
        comment="Front-desk visits (check-in / check-out)",
    )
    op.create_index("ix_visit_member_user_id", "visit", ["member_user_id"], schema=S)
    op.create_index("ix_visit_member_id_check_in_at", "visit", ["member_id", "check_in_at"], schema=S)
    op.create_index("ix_visit_check_in_at_id", "visit", ["check_in_at", "id"], schema=S)
    op.create_index(
        "ix_visit_open", "visit", ["check_in_at"], schema=S, postgresql_where=sa.text("check_out_at IS NULL")
    )
    # One open visit per person: an individual (member_user_id NULL) or a corporate member's user.
    op.create_index(
        "uq_visit_one_open_per_person",
        "visit",
        ["member_id", "member_user_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("check_out_at IS NULL"),
        postgresql_nulls_not_distinct=True,
    )
    # A person's visits never overlap in time (an open visit reaches to infinity).
    op.execute(
        f"ALTER TABLE {S}.visit ADD CONSTRAINT visit_no_overlap EXCLUDE USING gist ("
        "member_id WITH =, "
        f"coalesce(member_user_id, '{NO_USER_UUID}'::uuid) WITH =, "
        "tstzrange(check_in_at, coalesce(check_out_at, 'infinity'::timestamptz), '[)') WITH &&)"
    )

    op.create_table(
        "visit_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visit_audit"),
        sa.ForeignKeyConstraint(
            ["visit_id"], [f"{S}.visit.id"], name="fk_visit_audit_visit_id_visit", ondelete="RESTRICT"
        ),
        sa.CheckConstraint(
            "action IN ('check_in', 'check_out', 'auto_check_out', 'manual_entry', 'correction')",
            name="ck_visit_audit_action",
        ),
        sa.CheckConstraint(
            "action NOT IN ('manual_entry', 'correction') OR (reason IS NOT NULL AND length(reason) > 0)",
            name="ck_visit_audit_reason_required",
        ),
        schema=S,
        comment="Audit log of visit changes (before/after)",
    )
    op.create_index("ix_visit_audit_visit_id", "visit_audit", ["visit_id"], schema=S)

    # ---- opening calendar ---------------------------------------------------------------------
    op.create_table(
        "calendar_closure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("reason_ja", sa.String(200), nullable=False),
        sa.Column("reason_en", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_closure"),
        sa.CheckConstraint("end_date >= start_date", name="ck_calendar_closure_dates_in_order"),
        schema=S,
        comment="Closed days (year-end break, maintenance …)",
    )
    op.create_index("ix_calendar_closure_start_date", "calendar_closure", ["start_date"], schema=S)
    op.create_table(
        "calendar_special_hours",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.Column("reason_ja", sa.String(200), nullable=False),
        sa.Column("reason_en", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_special_hours"),
        sa.CheckConstraint("end_date >= start_date", name="ck_calendar_special_hours_dates_in_order"),
        sa.CheckConstraint("opens_at < closes_at", name="ck_calendar_special_hours_hours_in_order"),
        schema=S,
        comment="Special opening hours for date ranges",
    )
    op.create_index(
        "ix_calendar_special_hours_start_date", "calendar_special_hours", ["start_date"], schema=S
    )
    op.execute(
        f"ALTER TABLE {S}.calendar_special_hours ADD CONSTRAINT calendar_special_hours_no_overlap "
        "EXCLUDE USING gist (daterange(start_date, end_date, '[]') WITH &&)"
    )

    # ---- idempotency keys ---------------------------------------------------------------------
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer()),
        sa.Column("response_body", postgresql.JSONB()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_key"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_key_scope_key"),
        schema=S,
        comment="Idempotency keys and the first answer given for them",
    )
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"], schema=S)


def downgrade() -> None:
    for table in (
        "idempotency_key",
        "calendar_special_hours",
        "calendar_closure",
        "visit_audit",
        "visit",
        "plan_assignment",
        "member_user",
        "member",
        "plan_price",
        "plan",
    ):
        op.drop_table(table, schema=S)
    op.execute(f"DROP SEQUENCE IF EXISTS {S}.member_number_seq")
