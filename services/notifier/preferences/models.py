"""Opt-outs per member and category."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.db import Base

#: Categories a member may opt out of. `transactional` (invoices, booking confirmations and
#: cancellations …) never; `kpi` events go to webhooks only. (`news` had no event type behind it and was
#: removed from the API; the database constraint still tolerates old rows holding it, which are ignored.)
OPTIONAL_CATEGORIES = ("activity", "reminders")


class Preference(Base):
    __tablename__ = "preference"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    opted_out: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default=text("'{}'"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # The guarantee behind "transactional mail cannot be opted out of".
        CheckConstraint(
            "opted_out <@ ARRAY['activity', 'reminders', 'news']::varchar[]", name="optional_categories_only"
        ),
        {"comment": "Members' notification opt-outs per category"},
    )
