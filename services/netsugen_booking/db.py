"""The `netsugen` schema's declarative base and outbox."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata
from shared.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = make_metadata("netsugen")


outbox = outbox_table(Base.metadata)
