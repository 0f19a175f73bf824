"""Observations (実績値): one per indicator, breakdown and fiscal year, with every revision kept.

``observation`` holds the current value (so progress and exports read one row per year);
``observation_revision`` is the append-only history: a correction adds a revision and moves the
current value, it never overwrites. A trigger (migration 0002_kpi) refuses UPDATE and DELETE on
revisions, so the history cannot be rewritten even by a bug.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.db import Base
from services.kpi_api.indicators.models import FINITE_VALUE_CHECK, FISCAL_YEAR_CHECK, Indicator, _breakdown_fk


class Observation(Base):
    __tablename__ = "observation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="RESTRICT"))
    breakdown_key: Mapped[str | None] = mapped_column(String(50))
    fiscal_year: Mapped[int] = mapped_column(SmallInteger)
    #: The value of the latest revision.
    value: Mapped[Decimal] = mapped_column(Numeric)
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        _breakdown_fk(),
        UniqueConstraint("indicator_id", "breakdown_key", "fiscal_year", postgresql_nulls_not_distinct=True),
        CheckConstraint(FISCAL_YEAR_CHECK, name="fiscal_year"),
        CheckConstraint(FINITE_VALUE_CHECK, name="finite_value"),
        CheckConstraint("revision >= 1", name="revision"),
        {"comment": "Observed values per indicator, breakdown and fiscal year (current revision)"},
    )


class ObservationRevision(Base):
    __tablename__ = "observation_revision"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    observation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Observation.id, ondelete="RESTRICT"))
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Numeric)
    source: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(2000))
    #: True when the revision was sent as a correction of an earlier value.
    correction: Mapped[bool] = mapped_column(Boolean)
    #: Who recorded it: the token's name and role (and id; NULL for the bootstrap admin token).
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_role: Mapped[str] = mapped_column(String(16))
    recorded_by_token_id: Mapped[uuid.UUID | None] = mapped_column()
    request_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("observation_id", "revision"),
        CheckConstraint(FINITE_VALUE_CHECK, name="finite_value"),
        CheckConstraint("revision >= 1", name="revision"),
        {"comment": "Every revision of every observation (append-only)"},
    )
