"""Closures and special hours set by administrators (the regular hours are rules, not rows)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, DateTime, String, Time, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.netsugen_booking.db import Base


class CalendarClosure(Base):
    """The space is closed on every day from ``start_date`` to ``end_date`` (both inclusive)."""

    __tablename__ = "calendar_closure"
    # Changes invalidate every process's cached opening hours (shared/pgnotify.py, migration 0008).
    __notify_channel__ = "netsugen_calendar"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    reason_ja: Mapped[str] = mapped_column(String(200))
    reason_en: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_in_order"),
        {"comment": "Closed days (year-end break, maintenance …)"},
    )


class CalendarSpecialHours(Base):
    """Non-regular opening hours (JST wall clock) on every day from ``start_date`` to ``end_date``.

    Two special-hours entries may not cover the same day: the exclusion constraint refuses it,
    so a day's hours are never ambiguous.
    """

    __tablename__ = "calendar_special_hours"
    __notify_channel__ = "netsugen_calendar"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)
    reason_ja: Mapped[str] = mapped_column(String(200))
    reason_en: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_in_order"),
        CheckConstraint("opens_at < closes_at", name="hours_in_order"),
        ExcludeConstraint(
            (text("daterange(start_date, end_date, '[]')"), "&&"),
            using="gist",
            name="calendar_special_hours_no_overlap",
        ),
        {"comment": "Special opening hours for date ranges"},
    )
