"""NETSUGEN bookings: resources, bookings, events with waitlists, consultations, feeds, KPI reports.

Revision ID: 0006_netsugen_bookings
Revises: 0003_netsugen_core
Create Date: 2026-11-29

Database guarantees (see services/netsugen_booking/bookings/README.md):
- ``booking_no_overlap``: no two confirmed bookings of one resource overlap (btree_gist exclusion);
- ``consultation_slot_no_overlap``: a coordinator's live slots never overlap;
- ``uq_consultation_slot_live``: a slot carries at most one live consultation;
- ``uq_program_registration_member`` / ``_guest``: one live registration per person and event.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_netsugen_bookings"
down_revision: str | Sequence[str] | None = "0003_netsugen_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Exclusion constraints over (uuid =, tstzrange &&) need btree_gist (0001 creates it; be explicit).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "coordinator",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column(
            "expertise",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator")),
        schema="netsugen",
        comment="Coordinators (certified accountants, SME consultants …)",
    )
    op.create_table(
        "reminder_sent",
        sa.Column("subject_kind", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "subject_kind IN ('booking', 'event_registration', 'consultation')",
            name=op.f("ck_reminder_sent_subject_kind"),
        ),
        sa.PrimaryKeyConstraint("subject_kind", "subject_id", name=op.f("pk_reminder_sent")),
        schema="netsugen",
        comment="Day-before reminders already sent (booking.reminder)",
    )
    op.create_table(
        "resource",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_ja", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("grid_minutes", sa.Integer(), server_default=sa.text("15"), nullable=False),
        sa.Column("price_per_hour_yen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('meeting_room', 'booth', 'event_space')", name=op.f("ck_resource_kind")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_resource_capacity_positive")),
        sa.CheckConstraint("grid_minutes IN (5, 10, 15, 20, 30, 60)", name=op.f("ck_resource_grid_minutes")),
        sa.CheckConstraint("price_per_hour_yen >= 0", name=op.f("ck_resource_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource")),
        sa.UniqueConstraint("slug", name=op.f("uq_resource_slug")),
        schema="netsugen",
        comment="Bookable rooms, booths and the event space",
        info={"reference": True},
    )
    op.create_table(
        "coordinator_availability",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coordinator_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("slot_minutes IN (30, 60)", name=op.f("ck_coordinator_availability_slot_minutes")),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_coordinator_availability_times_in_order")),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from",
            name=op.f("ck_coordinator_availability_validity_in_order"),
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_coordinator_availability_weekday")),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["netsugen.coordinator.id"],
            name=op.f("fk_coordinator_availability_coordinator_id_coordinator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator_availability")),
        schema="netsugen",
        comment="Coordinators' weekly availability windows",
    )
    op.create_index(
        op.f("ix_coordinator_availability_coordinator_id"),
        "coordinator_availability",
        ["coordinator_id"],
        unique=False,
        schema="netsugen",
    )
    op.create_table(
        "member_feed_token",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["netsugen.member.id"],
            name=op.f("fk_member_feed_token_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_feed_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_feed_token_token_hash")),
        schema="netsugen",
        comment="Per-member iCalendar feed secrets (hashed)",
    )
    op.create_table(
        "program",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title_ja", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("description_ja", sa.Text(), server_default="", nullable=False),
        sa.Column("description_en", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("registration_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registration_closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("attendance_count", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name=op.f("ck_program_closed_has_time")
        ),
        sa.CheckConstraint(
            "category IN ('seminar', 'workshop', 'pitch', 'networking', 'startup_program', 'creator_lab')",
            name=op.f("ck_program_category"),
        ),
        sa.CheckConstraint("status IN ('scheduled', 'closed')", name=op.f("ck_program_status")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_program_capacity_positive")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_program_times_in_order")),
        sa.CheckConstraint(
            "registration_closes_at <= end_at", name=op.f("ck_program_registration_before_end")
        ),
        sa.CheckConstraint(
            "registration_closes_at > registration_opens_at", name=op.f("ck_program_registration_window")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["netsugen.resource.id"],
            name=op.f("fk_program_resource_id_resource"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program")),
        schema="netsugen",
        comment="Events and programmes (交流事業)",
    )
    op.create_index(op.f("ix_program_start_at"), "program", ["start_at"], unique=False, schema="netsugen")
    op.create_table(
        "booking",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="confirmed", nullable=False),
        sa.Column("price_yen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("deadline_overridden", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.column("resource_id"), "="),
            (sa.text("tstzrange(start_at, end_at)"), "&&"),
            where=sa.text("status = 'confirmed'"),
            using="gist",
            name="booking_no_overlap",
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f("ck_booking_cancelled_has_time")
        ),
        sa.CheckConstraint("status IN ('confirmed', 'cancelled')", name=op.f("ck_booking_status")),
        sa.CheckConstraint(
            "(member_id IS NULL) <> (program_id IS NULL)", name=op.f("ck_booking_member_or_program")
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_booking_times_in_order")),
        sa.CheckConstraint("price_yen >= 0", name=op.f("ck_booking_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["netsugen.member.id"],
            name=op.f("fk_booking_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["netsugen.program.id"],
            name=op.f("fk_booking_program_id_program"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["netsugen.resource.id"],
            name=op.f("fk_booking_resource_id_resource"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking")),
        sa.UniqueConstraint("program_id", name=op.f("uq_booking_program_id")),
        schema="netsugen",
        comment="Bookings of rooms, booths and the event space",
    )
    op.create_index(op.f("ix_booking_member_id"), "booking", ["member_id"], unique=False, schema="netsugen")
    op.create_index(
        "ix_booking_resource_id_start_at",
        "booking",
        ["resource_id", "start_at"],
        unique=False,
        schema="netsugen",
    )
    op.create_index("ix_booking_start_at", "booking", ["start_at"], unique=False, schema="netsugen")
    op.create_table(
        "consultation_slot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coordinator_id", sa.Uuid(), nullable=False),
        sa.Column("availability_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.column("coordinator_id"), "="),
            (sa.text("tstzrange(start_at, end_at)"), "&&"),
            where=sa.text("withdrawn_at IS NULL"),
            using="gist",
            name="consultation_slot_no_overlap",
        ),
        sa.CheckConstraint(
            "end_at - start_at IN (interval '30 minutes', interval '60 minutes')",
            name=op.f("ck_consultation_slot_length"),
        ),
        sa.ForeignKeyConstraint(
            ["availability_id"],
            ["netsugen.coordinator_availability.id"],
            name=op.f("fk_consultation_slot_availability_id_coordinator_availability"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["netsugen.coordinator.id"],
            name=op.f("fk_consultation_slot_coordinator_id_coordinator"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_slot")),
        schema="netsugen",
        comment="Bookable consultation slots (30 or 60 minutes)",
    )
    op.create_index(
        op.f("ix_consultation_slot_start_at"),
        "consultation_slot",
        ["start_at"],
        unique=False,
        schema="netsugen",
    )
    op.create_table(
        "kpi_report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("attendance", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_value", sa.Integer(), nullable=True),
        sa.Column("sent_as_correction", sa.Boolean(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'sent') = (sent_at IS NOT NULL)", name=op.f("ck_kpi_report_sent_has_time")
        ),
        sa.CheckConstraint("status IN ('pending', 'sent')", name=op.f("ck_kpi_report_status")),
        sa.CheckConstraint("attendance >= 0", name=op.f("ck_kpi_report_attendance_not_negative")),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["netsugen.program.id"],
            name=op.f("fk_kpi_report_program_id_program"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_report")),
        sa.UniqueConstraint("program_id", name=op.f("uq_kpi_report_program_id")),
        schema="netsugen",
        comment="Attendance reports owed to the KPI registry (retried until accepted)",
    )
    op.create_index(
        "ix_kpi_report_pending",
        "kpi_report",
        ["next_attempt_at"],
        unique=False,
        schema="netsugen",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "program_registration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("guest_name", sa.String(length=200), nullable=True),
        sa.Column("guest_email", sa.String(length=320), nullable=True),
        sa.Column("guest_language", sa.String(length=2), nullable=True),
        sa.Column("cancel_token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name=op.f("ck_program_registration_cancelled_has_time"),
        ),
        sa.CheckConstraint(
            "checked_in_at IS NULL OR status = 'confirmed'",
            name=op.f("ck_program_registration_checked_in_confirmed"),
        ),
        sa.CheckConstraint(
            "member_id IS NOT NULL OR (guest_name IS NOT NULL AND guest_language IN ('ja', 'en'))",
            name=op.f("ck_program_registration_guest_complete"),
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled')", name=op.f("ck_program_registration_status")
        ),
        sa.CheckConstraint(
            "(member_id IS NULL) = (guest_email IS NOT NULL)",
            name=op.f("ck_program_registration_member_or_guest"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["netsugen.member.id"],
            name=op.f("fk_program_registration_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["netsugen.program.id"],
            name=op.f("fk_program_registration_program_id_program"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_registration")),
        sa.UniqueConstraint("cancel_token_hash", name=op.f("uq_program_registration_cancel_token_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_program_registration_seq")),
        schema="netsugen",
        comment="Registrations for events, with their waitlist",
    )
    op.create_index(
        op.f("ix_program_registration_member_id"),
        "program_registration",
        ["member_id"],
        unique=False,
        schema="netsugen",
    )
    op.create_index(
        "ix_program_registration_program_id_status_seq",
        "program_registration",
        ["program_id", "status", "seq"],
        unique=False,
        schema="netsugen",
    )
    op.create_index(
        "uq_program_registration_guest",
        "program_registration",
        ["program_id", "guest_email"],
        unique=True,
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled' AND guest_email IS NOT NULL"),
    )
    op.create_index(
        "uq_program_registration_member",
        "program_registration",
        ["program_id", "member_id"],
        unique=True,
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled' AND member_id IS NOT NULL"),
    )
    op.create_table(
        "consultation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="confirmed", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=48), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name=op.f("ck_consultation_cancelled_has_time"),
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('resolved', 'follow_up', 'referred_to_business_matching', 'referred_to_specialist', 'no_show')",
            name=op.f("ck_consultation_outcome"),
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'cancelled', 'completed', 'no_show')",
            name=op.f("ck_consultation_status"),
        ),
        sa.CheckConstraint(
            "(outcome IS NULL) = (recorded_at IS NULL)", name=op.f("ck_consultation_outcome_recorded")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["netsugen.member.id"],
            name=op.f("fk_consultation_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["netsugen.consultation_slot.id"],
            name=op.f("fk_consultation_slot_id_consultation_slot"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation")),
        schema="netsugen",
        comment="Consultations booked by members on coordinators' slots",
    )
    op.create_index(
        op.f("ix_consultation_member_id"), "consultation", ["member_id"], unique=False, schema="netsugen"
    )
    op.create_index(
        "uq_consultation_slot_live",
        "consultation",
        ["slot_id"],
        unique=True,
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_consultation_slot_live",
        table_name="consultation",
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.drop_index(op.f("ix_consultation_member_id"), table_name="consultation", schema="netsugen")
    op.drop_table("consultation", schema="netsugen")
    op.drop_index(
        "uq_program_registration_member",
        table_name="program_registration",
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled' AND member_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_program_registration_guest",
        table_name="program_registration",
        schema="netsugen",
        postgresql_where=sa.text("status <> 'cancelled' AND guest_email IS NOT NULL"),
    )
    op.drop_index(
        "ix_program_registration_program_id_status_seq", table_name="program_registration", schema="netsugen"
    )
    op.drop_index(
        op.f("ix_program_registration_member_id"), table_name="program_registration", schema="netsugen"
    )
    op.drop_table("program_registration", schema="netsugen")
    op.drop_index(
        "ix_kpi_report_pending",
        table_name="kpi_report",
        schema="netsugen",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("kpi_report", schema="netsugen")
    op.drop_index(op.f("ix_consultation_slot_start_at"), table_name="consultation_slot", schema="netsugen")
    op.drop_table("consultation_slot", schema="netsugen")
    op.drop_index("ix_booking_start_at", table_name="booking", schema="netsugen")
    op.drop_index("ix_booking_resource_id_start_at", table_name="booking", schema="netsugen")
    op.drop_index(op.f("ix_booking_member_id"), table_name="booking", schema="netsugen")
    op.drop_table("booking", schema="netsugen")
    op.drop_index(op.f("ix_program_start_at"), table_name="program", schema="netsugen")
    op.drop_table("program", schema="netsugen")
    op.drop_table("member_feed_token", schema="netsugen")
    op.drop_index(
        op.f("ix_coordinator_availability_coordinator_id"),
        table_name="coordinator_availability",
        schema="netsugen",
    )
    op.drop_table("coordinator_availability", schema="netsugen")
    op.drop_table("resource", schema="netsugen")
    op.drop_table("reminder_sent", schema="netsugen")
    op.drop_table("coordinator", schema="netsugen")
