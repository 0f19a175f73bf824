"""The per-event-type pause switch: a row means the type is paused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.db import Base


class EventTypePause(Base):
    __tablename__ = "event_type_pause"

    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paused_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = ({"comment": "Paused event types: their deliveries wait (queued) until resumed"},)
