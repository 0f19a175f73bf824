"""Outbox-like record of the attendance reports owed to the KPI registry.

A row is written in the same transaction that closes an event, so a report can never be lost:
an arq job sends it right after the close and a cron sweep retries whatever is still ``pending``
(with exponential backoff in ``next_attempt_at``) until the KPI registry accepts it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.programs.models  # noqa: F401
from services.netsugen_booking.db import Base


class KpiReport(Base):
    __tablename__ = "kpi_report"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="RESTRICT"), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    indicator_id: Mapped[str] = mapped_column(String(100))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    # The event's own attendance (the value sent is the fiscal year's running total).
    attendance: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the KPI registry accepted: the fiscal-year total, and whether it went as a correction.
    sent_value: Mapped[int | None] = mapped_column(Integer)
    sent_as_correction: Mapped[bool | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent')", name="status"),
        CheckConstraint("attendance >= 0", name="attendance_not_negative"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_has_time"),
        Index(
            "ix_kpi_report_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        {"comment": "Attendance reports owed to the KPI registry (retried until accepted)"},
    )
