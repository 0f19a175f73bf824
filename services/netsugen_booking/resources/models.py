"""Bookable resources of NETSUGEN: meeting rooms, booths and the event space (seeded reference data)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from services.netsugen_booking.db import Base

RESOURCE_KINDS = ("meeting_room", "booth", "event_space")
#: Booking grids a resource may use: each divides an hour, so every hour starts on the grid.
GRID_MINUTES = (5, 10, 15, 20, 30, 60)


class Resource(Base):
    __tablename__ = "resource"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_ja: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    grid_minutes: Mapped[int] = mapped_column(Integer, server_default=text("15"))
    # Tax-inclusive yen per hour (総額表示); 0 means free for members.
    price_per_hour_yen: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('meeting_room', 'booth', 'event_space')", name="kind"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("grid_minutes IN (5, 10, 15, 20, 30, 60)", name="grid_minutes"),
        CheckConstraint("price_per_hour_yen >= 0", name="price_not_negative"),
        {"comment": "Bookable rooms, booths and the event space", "info": {"reference": True}},
    )
