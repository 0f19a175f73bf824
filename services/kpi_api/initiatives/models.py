"""The plan's initiatives (取組) and the KPIs that measure them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.core.vocab import SECTIONS, SLUG_PATTERN, sql_in
from services.kpi_api.db import Base
from services.kpi_api.indicators.models import REFERENCE, Indicator


class Initiative(Base):
    __tablename__ = "initiative"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name_ja: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    section: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"id ~ '{SLUG_PATTERN}'", name="id_slug"),
        CheckConstraint(f"section IN ({sql_in(SECTIONS)})", name="section"),
        Index("ix_initiative_position_id", "position", "id"),
        {"comment": "Initiatives (取組) of the plan", "info": REFERENCE},
    )


class InitiativeIndicator(Base):
    __tablename__ = "initiative_indicator"

    initiative_id: Mapped[str] = mapped_column(
        ForeignKey(Initiative.id, ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[str] = mapped_column(
        ForeignKey(Indicator.id, ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = ({"comment": "KPIs measuring each initiative", "info": REFERENCE},)
