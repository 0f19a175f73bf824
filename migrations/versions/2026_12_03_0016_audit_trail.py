"""The audit trail: ``auth.audit_entry``, append-only, with a retention purge function.

Revision ID: 0016_audit_trail
Revises: 0017_kpi_basis_headline
Create Date: 2026-12-03

Every write by a person or token appends one row (shared/audit.py). A trigger refuses ``UPDATE``
and ``DELETE`` on the table; ``auth.purge_audit(cutoff)`` is the one way to delete (entries older
than the retention period, ``AUDIT_RETENTION_YEARS``). Downgrading drops the trail.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_audit_trail"
down_revision: str | Sequence[str] | None = "0017_kpi_basis_headline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = [
    """
CREATE FUNCTION auth.audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gunma.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'auth.audit_entry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
""",
    """
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON auth.audit_entry
    FOR EACH ROW EXECUTE FUNCTION auth.audit_entry_append_only()
""",
    # The one way to delete: entries older than the cutoff (the retention job).
    """
CREATE FUNCTION auth.purge_audit(cutoff timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    purged bigint;
BEGIN
    PERFORM set_config('gunma.audit_purge', 'on', true);
    DELETE FROM auth.audit_entry WHERE at < cutoff;
    GET DIAGNOSTICS purged = ROW_COUNT;
    PERFORM set_config('gunma.audit_purge', 'off', true);
    RETURN purged;
END $$
""",
]


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        schema="auth",
        comment="Append-only audit trail (UPDATE/DELETE refused by trigger; purge via auth.purge_audit)",
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"], schema="auth")
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id"], schema="auth")
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor_id"], schema="auth")
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS auth.purge_audit(timestamptz)")
    op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON auth.audit_entry")
    op.execute("DROP FUNCTION IF EXISTS auth.audit_entry_append_only()")
    op.drop_table("audit_entry", schema="auth")
