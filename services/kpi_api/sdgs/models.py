"""SDG goals and targets (UN A/RES/71/313): seeded reference data, never edited through the API."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.core.vocab import SDG_CODE_PATTERN
from services.kpi_api.db import Base


class SdgGoal(Base):
    __tablename__ = "sdg_goal"

    number: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("number BETWEEN 1 AND 17", name="number"),
        {"comment": "The 17 Sustainable Development Goals", "info": {"reference": True}},
    )


class SdgTarget(Base):
    __tablename__ = "sdg_target"

    #: "8.1", "4.a", "17.17".
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    goal_number: Mapped[int] = mapped_column(SmallInteger, ForeignKey(SdgGoal.number), index=True)
    #: Order within the goal as the UN lists it: numbered targets, then lettered ones.
    position: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint(f"code ~ '{SDG_CODE_PATTERN}'", name="code_format"),
        CheckConstraint("code LIKE goal_number::text || '.%'", name="code_in_goal"),
        {"comment": "The 169 SDG targets", "info": {"reference": True}},
    )
