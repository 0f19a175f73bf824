"""Each indicator's computed progress, stored so that reads never recompute.

Recomputed (``progress.service.refresh_progress``) in the same transaction as every change to an
indicator's observations, targets, baselines, direction or cumulative flag. Not reference data: it
derives from observations, and a missing row reads as ``no_data`` (which it is without observations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.core.vocab import STATUSES, sql_in
from services.kpi_api.db import Base
from services.kpi_api.indicators.models import Indicator


class IndicatorProgress(Base):
    __tablename__ = "indicator_progress"

    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="CASCADE"), primary_key=True)
    #: The indicator's status: the worst graded status over its targets (see README).
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: Per-target and per-breakdown results; decimals as strings, exact.
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(STATUSES)})", name="status"),
        {"comment": "Computed progress and status per indicator (recomputed on every change)"},
    )
