"""Guest registrations for events are confirmed from an emailed link (double opt-in).

Revision ID: 0013_guest_double_opt_in
Revises: 0012_webhook_secrets_encrypted
Create Date: 2026-12-03

``netsugen.program_registration`` gains the statuses ``pending_confirmation`` (holds nothing until
the guest confirms) and ``expired`` (never confirmed), the hash and expiry of the one-time
confirmation secret, ``confirmed_at``, and ``guest_email_normalized``: the duplicate key of a guest
(plus tags and gmail dots removed), which the live-registration unique index now uses. Existing
guest rows get their lower-cased email as the normalized one.

Downgrade refuses while a registration is ``pending_confirmation`` or ``expired`` (the old status
constraint would not validate): let them expire and delete them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_guest_double_opt_in"
down_revision: str | Sequence[str] | None = "0012_webhook_secrets_encrypted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "netsugen"
T = "program_registration"
LIVE = "status IN ('pending_confirmation', 'confirmed', 'waitlisted')"


def upgrade() -> None:
    op.add_column(T, sa.Column("guest_email_normalized", sa.String(320), nullable=True), schema=S)
    op.add_column(T, sa.Column("confirm_token_hash", sa.String(64), nullable=True), schema=S)
    op.add_column(T, sa.Column("confirm_expires_at", sa.DateTime(timezone=True), nullable=True), schema=S)
    op.add_column(T, sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True), schema=S)
    op.alter_column(T, "status", type_=sa.String(24), existing_type=sa.String(16), schema=S)
    op.execute(
        f"UPDATE {S}.{T} SET guest_email_normalized = lower(guest_email) WHERE guest_email IS NOT NULL"
    )
    op.create_unique_constraint(
        op.f("uq_program_registration_confirm_token_hash"), T, ["confirm_token_hash"], schema=S
    )
    op.drop_constraint("ck_program_registration_status", T, schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_program_registration_status"),
        T,
        "status IN ('pending_confirmation', 'confirmed', 'waitlisted', 'cancelled', 'expired')",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_program_registration_guest_normalized"),
        T,
        "(member_id IS NULL) = (guest_email_normalized IS NOT NULL)",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_program_registration_pending_expires"),
        T,
        "status <> 'pending_confirmation' OR (confirm_expires_at IS NOT NULL AND confirm_token_hash IS NOT NULL)",
        schema=S,
    )
    op.drop_index("uq_program_registration_member", table_name=T, schema=S)
    op.drop_index("uq_program_registration_guest", table_name=T, schema=S)
    op.create_index(
        "uq_program_registration_member",
        T,
        ["program_id", "member_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text(f"{LIVE} AND member_id IS NOT NULL"),
    )
    op.create_index(
        "uq_program_registration_guest",
        T,
        ["program_id", "guest_email_normalized"],
        unique=True,
        schema=S,
        postgresql_where=sa.text(f"{LIVE} AND guest_email_normalized IS NOT NULL"),
    )
    op.create_index(
        "ix_program_registration_pending_expiry",
        T,
        ["confirm_expires_at"],
        unique=False,
        schema=S,
        postgresql_where=sa.text("status = 'pending_confirmation'"),
    )


def downgrade() -> None:
    op.drop_index("ix_program_registration_pending_expiry", table_name=T, schema=S)
    op.drop_index("uq_program_registration_guest", table_name=T, schema=S)
    op.drop_index("uq_program_registration_member", table_name=T, schema=S)
    op.create_index(
        "uq_program_registration_member",
        T,
        ["program_id", "member_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status <> 'cancelled' AND member_id IS NOT NULL"),
    )
    op.create_index(
        "uq_program_registration_guest",
        T,
        ["program_id", "guest_email"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status <> 'cancelled' AND guest_email IS NOT NULL"),
    )
    op.drop_constraint("ck_program_registration_pending_expires", T, schema=S, type_="check")
    op.drop_constraint("ck_program_registration_guest_normalized", T, schema=S, type_="check")
    op.drop_constraint("ck_program_registration_status", T, schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_program_registration_status"),
        T,
        "status IN ('confirmed', 'waitlisted', 'cancelled')",
        schema=S,
    )
    op.drop_constraint("uq_program_registration_confirm_token_hash", T, schema=S, type_="unique")
    op.alter_column(T, "status", type_=sa.String(16), existing_type=sa.String(24), schema=S)
    op.drop_column(T, "confirmed_at", schema=S)
    op.drop_column(T, "confirm_expires_at", schema=S)
    op.drop_column(T, "confirm_token_hash", schema=S)
    op.drop_column(T, "guest_email_normalized", schema=S)
