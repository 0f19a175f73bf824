"""The `notifier` schema's declarative base and outbox.

The notifier's own outbox carries events submitted over HTTP (``POST /v1/notifications``): they
take the same road as every other event (outbox → relay → queue → inbox).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata
from shared.outbox import outbox_table


class Base(DeclarativeBase):
    metadata = make_metadata("notifier")


outbox = outbox_table(Base.metadata)
