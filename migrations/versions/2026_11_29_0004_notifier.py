"""Notifier: inbox, delivery ledger, attempts, webhook endpoints, preferences, pauses, outbox.

Revision ID: 0004_notifier
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_notifier"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "notifier"
NOW = sa.text("now()")


def upgrade() -> None:
    # Outbox for events submitted over HTTP (same shape as every service's outbox).
    op.create_table(
        "outbox",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema=S,
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["created_at"], schema=S, postgresql_where=sa.text("sent_at IS NULL")
    )

    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column(
            "event_types", postgresql.ARRAY(sa.String(64)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
        schema=S,
        comment="Webhook endpoints (Standard Webhooks signing)",
    )

    op.create_table(
        "preference",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "opted_out", postgresql.ARRAY(sa.String(16)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_by", sa.String(200)),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_preference")),
        sa.CheckConstraint(
            "opted_out <@ ARRAY['activity', 'reminders', 'news']::varchar[]",
            name=op.f("ck_preference_optional_categories_only"),
        ),
        schema=S,
        comment="Members' notification opt-outs per category",
    )

    op.create_table(
        "event_type_pause",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("paused_by", sa.String(200)),
        sa.Column("reason", sa.String(500)),
        sa.PrimaryKeyConstraint("event_type", name=op.f("pk_event_type_pause")),
        schema=S,
        comment="Paused event types: their deliveries wait (queued) until resumed",
    )

    op.create_table(
        "inbox",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_inbox_source_event_id")),
        schema=S,
        comment="Events received by the notifier, once per (source, event_id)",
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"], schema=S)

    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("inbox_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(80), nullable=False),
        sa.Column("endpoint_id", sa.Uuid()),
        sa.Column("template", sa.String(64)),
        sa.Column("template_version", sa.Integer()),
        sa.Column("language", sa.String(2)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_from", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.ForeignKeyConstraint(
            ["inbox_id"], [f"{S}.inbox.id"], name=op.f("fk_delivery_inbox_id_inbox"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            [f"{S}.webhook_endpoint.id"],
            name=op.f("fk_delivery_endpoint_id_webhook_endpoint"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "inbox_id", "channel", "recipient", name=op.f("uq_delivery_inbox_id_channel_recipient")
        ),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_delivery_channel")),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'delivered', 'failed_temporary', 'failed_permanent', 'dead', "
            "'suppressed')",
            name=op.f("ck_delivery_status"),
        ),
        sa.CheckConstraint(
            "attempts >= 0 AND retry_from >= 0 AND retry_from <= attempts", name=op.f("ck_delivery_attempts")
        ),
        sa.CheckConstraint(
            "status <> 'sending' OR claimed_at IS NOT NULL", name=op.f("ck_delivery_sending_is_claimed")
        ),
        sa.CheckConstraint(
            "status <> 'delivered' OR delivered_at IS NOT NULL", name=op.f("ck_delivery_delivered_has_time")
        ),
        schema=S,
        comment="Deliveries: one per (event, channel, recipient or endpoint)",
    )
    op.create_index("ix_delivery_created_at_id", "delivery", ["created_at", "id"], schema=S)
    op.create_index("ix_delivery_recipient", "delivery", ["recipient"], schema=S)
    op.create_index("ix_delivery_event_type", "delivery", ["event_type"], schema=S)
    op.create_index(
        "ix_delivery_unfinished",
        "delivery",
        ["status", "next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status IN ('queued', 'sending', 'failed_temporary')"),
    )

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("duration_ms", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{S}.delivery.id"],
            name=op.f("fk_delivery_attempt_delivery_id_delivery"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("delivery_id", "number", name=op.f("uq_delivery_attempt_delivery_id_number")),
        sa.CheckConstraint(
            "result IN ('delivered', 'failed_temporary', 'failed_permanent', 'interrupted')",
            name=op.f("ck_delivery_attempt_result"),
        ),
        sa.CheckConstraint("number >= 1", name=op.f("ck_delivery_attempt_number_positive")),
        schema=S,
        comment="Every delivery attempt with its time and result",
    )

    op.create_table(
        "reconcile_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("interrupted", sa.Integer(), nullable=False),
        sa.Column("requeued", sa.Integer(), nullable=False),
        sa.Column("already_queued", sa.Integer(), nullable=False),
        sa.Column("dead", sa.Integer(), nullable=False),
        sa.Column("unfinished_deliveries", sa.Integer(), nullable=False),
        sa.Column("unfinished_events", sa.Integer(), nullable=False),
        sa.Column("oldest_unfinished_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_run")),
        schema=S,
        comment="Reconciliation cron runs (kept 7 days)",
    )
    op.create_index("ix_reconcile_run_started_at", "reconcile_run", ["started_at"], schema=S)


def downgrade() -> None:
    for table in (
        "reconcile_run",
        "delivery_attempt",
        "delivery",
        "inbox",
        "event_type_pause",
        "preference",
        "webhook_endpoint",
        "outbox",
    ):
        op.drop_table(table, schema=S)
