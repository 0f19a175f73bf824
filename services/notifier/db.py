"""The `notifier` schema's declarative base."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata("notifier")
