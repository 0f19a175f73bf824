"""Visits (front-desk check-in / check-out) and their audit log.

Two database guarantees, so no race between requests can break them:

- **One open visit per person.** A partial unique index over ``(member_id, member_user_id)``
  ``WHERE check_out_at IS NULL`` with ``NULLS NOT DISTINCT``: an individual member (no user) has at
  most one open visit; a corporate member has at most one open visit *per named user*, because
  several employees of one company may be in the space at the same time.
- **A person's visits never overlap.** An exclusion constraint over the same person key and
  ``tstzrange(check_in_at, coalesce(check_out_at, 'infinity'))``. An open visit reaches to
  infinity, so nothing can be entered after its check-in until it is closed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (the `member` tables the FKs refer to)
from services.netsugen_booking.db import Base

VISIT_SOURCES = ("desk", "card", "manual")
AUDIT_ACTIONS = ("check_in", "check_out", "auto_check_out", "manual_entry", "correction")

#: The "no user" value of the person key: individuals have no member_user_id.
NO_USER_UUID = "00000000-0000-0000-0000-000000000000"


class Visit(Base):
    __tablename__ = "visit"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"))
    member_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member_user.id", ondelete="RESTRICT"), index=True
    )
    check_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    check_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # desk: checked in at the front desk by member id/number; card: by card token; manual: entered
    # afterwards by staff (kiosk down …).
    source: Mapped[str] = mapped_column(String(16))
    auto_checked_out: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The member's plan on the day of the visit (``dropin`` when no plan was assigned). Billing
    # re-derives the day's plan from the assignments; this is what the desk saw.
    plan_code: Mapped[str] = mapped_column(ForeignKey("plan.code", ondelete="RESTRICT"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("source IN ('desk', 'card', 'manual')", name="source"),
        CheckConstraint("check_out_at IS NULL OR check_out_at >= check_in_at", name="times_in_order"),
        CheckConstraint("NOT auto_checked_out OR check_out_at IS NOT NULL", name="auto_has_check_out"),
        Index(
            "uq_visit_one_open_per_person",
            "member_id",
            "member_user_id",
            unique=True,
            postgresql_where=text("check_out_at IS NULL"),
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_visit_member_id_check_in_at", "member_id", "check_in_at"),
        Index("ix_visit_check_in_at_id", "check_in_at", "id"),
        Index("ix_visit_open", "check_in_at", postgresql_where=text("check_out_at IS NULL")),
        ExcludeConstraint(
            ("member_id", "="),
            (text(f"coalesce(member_user_id, '{NO_USER_UUID}'::uuid)"), "="),
            (text("tstzrange(check_in_at, coalesce(check_out_at, 'infinity'::timestamptz), '[)')"), "&&"),
            using="gist",
            name="visit_no_overlap",
        ),
        {"comment": "Front-desk visits (check-in / check-out)"},
    )


class VisitAudit(Base):
    """Who changed a visit, when, why, and the values before and after."""

    __tablename__ = "visit_audit"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "action IN ('check_in', 'check_out', 'auto_check_out', 'manual_entry', 'correction')",
            name="action",
        ),
        # Manual entries and corrections always say why.
        CheckConstraint(
            "action NOT IN ('manual_entry', 'correction') OR (reason IS NOT NULL AND length(reason) > 0)",
            name="reason_required",
        ),
        {"comment": "Audit log of visit changes (before/after)"},
    )
