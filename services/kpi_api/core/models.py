"""The registry version: one row, bumped by every write, read by every public GET for its ETag."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, SmallInteger, func
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.db import Base


class RegistryVersion(Base):
    """A counter bumped in the same transaction as every change to the registry.

    Public GETs derive their ETag from it (plus the path, query and language), so answering
    ``If-None-Match`` costs one primary-key read. ``epoch`` is random per row: if the row is ever
    recreated (a restored backup, a truncated test database) old ETags can never match again.
    """

    __tablename__ = "registry_version"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[uuid.UUID] = mapped_column(server_default=func.gen_random_uuid())
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        {"comment": "Registry-wide change counter for ETags"},
    )
