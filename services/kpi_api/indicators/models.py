"""Indicators and what the plan says about them: breakdowns, baselines, dated targets, SDG links.

All of it is reference data: seeded from ``seed/kpis.yaml`` and edited by administrators, so the
tables carry ``info={"reference": True}``. Observations and progress are not reference data.

A breakdown (男性/女性, 小6/中3 …) is optional: ``breakdown_key`` is NULL for an indicator without
breakdowns. Unique keys over it use ``NULLS NOT DISTINCT`` so "no breakdown" is one value, and a
composite foreign key to ``breakdown`` (skipped by PostgreSQL when the key is NULL) guarantees
that a non-NULL key exists for that very indicator.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.kpi_api.core.vocab import (
    ASPECTS,
    BREAKDOWN_KEY_PATTERN,
    COMPARATORS,
    DETERMINATIONS,
    DIRECTIONS,
    OBSERVATION_BASES,
    SECTIONS,
    SLUG_PATTERN,
    sql_in,
)
from services.kpi_api.db import Base
from services.kpi_api.sdgs.models import SdgTarget

REFERENCE = {"reference": True}
FISCAL_YEAR_CHECK = "fiscal_year BETWEEN 1990 AND 2100"
FINITE_VALUE_CHECK = "value NOT IN ('NaN', 'Infinity', '-Infinity')"
SECTIONS_CHECK = f"cardinality(sections) >= 1 AND sections <@ ARRAY[{sql_in(SECTIONS)}]::varchar[]"


class Indicator(Base):
    __tablename__ = "indicator"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: Listing order (the plan's order for seeded indicators).
    position: Mapped[int] = mapped_column(Integer)
    name_ja: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    #: As the plan writes it, scale included: 千kWh/年, 千t-CO2, 円.
    unit: Mapped[str] = mapped_column(String(50))
    aspect: Mapped[str] = mapped_column(String(16))
    #: Required, never defaulted: "decrease is better" for 温室効果ガス排出量 only.
    direction: Mapped[str] = mapped_column(String(16))
    #: 累計: a running total since the plan started.
    cumulative: Mapped[bool] = mapped_column(Boolean)
    #: 所管: the responsible department, where the plan states it (editable by admins).
    owner: Mapped[str | None] = mapped_column(String(200))
    #: running_total: each value is the 累計 itself; fiscal_year_count: each value is that fiscal
    #: year's own count (NETSUGEN's attendance reports), added up for a cumulative indicator.
    observation_basis: Mapped[str] = mapped_column(String(24), server_default="running_total")
    #: The plan states a total beside the breakdowns: values without a breakdown are the headline.
    headline_total: Mapped[bool] = mapped_column(Boolean, server_default=false())
    source: Mapped[str | None] = mapped_column(String(500))
    #: The plan sections citing the indicator: 1.1(3), 1.2(1), 2(2)①②③, 2(3)-1, 2(3)-2.
    sections: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"id ~ '{SLUG_PATTERN}'", name="id_slug"),
        CheckConstraint(f"aspect IN ({sql_in(ASPECTS)})", name="aspect"),
        CheckConstraint(f"direction IN ({sql_in(DIRECTIONS)})", name="direction"),
        CheckConstraint(f"observation_basis IN ({sql_in(OBSERVATION_BASES)})", name="observation_basis"),
        CheckConstraint(SECTIONS_CHECK, name="sections"),
        Index("ix_indicator_position_id", "position", "id"),
        {"comment": "KPIs of the SDGs Future City Plan", "info": REFERENCE},
    )


class Breakdown(Base):
    __tablename__ = "breakdown"

    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint(f"key ~ '{BREAKDOWN_KEY_PATTERN}'", name="key_format"),
        {"comment": "Breakdowns of an indicator (男性/女性, 小6/中3 …)", "info": REFERENCE},
    )


def _breakdown_fk() -> ForeignKeyConstraint:
    # MATCH SIMPLE: a NULL breakdown_key (no breakdown) is not checked.
    return ForeignKeyConstraint(
        ["indicator_id", "breakdown_key"], [Breakdown.indicator_id, Breakdown.key], ondelete="RESTRICT"
    )


class IndicatorSdgTarget(Base):
    __tablename__ = "indicator_sdg_target"

    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="CASCADE"), primary_key=True)
    sdg_target_code: Mapped[str] = mapped_column(ForeignKey(SdgTarget.code), primary_key=True, index=True)
    #: as_written: goal and target are both in the plan's cell; inferred: reconstructed (see note).
    determination: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint(f"determination IN ({sql_in(DETERMINATIONS)})", name="determination"),
        {"comment": "Links from indicators to SDG targets, with how each was determined", "info": REFERENCE},
    )


class Baseline(Base):
    """基準値: one per indicator and breakdown. No row means the plan writes "現在: —"."""

    __tablename__ = "baseline"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="CASCADE"))
    breakdown_key: Mapped[str | None] = mapped_column(String(50))
    fiscal_year: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[Decimal] = mapped_column(Numeric)

    __table_args__ = (
        _breakdown_fk(),
        UniqueConstraint("indicator_id", "breakdown_key", postgresql_nulls_not_distinct=True),
        CheckConstraint(FISCAL_YEAR_CHECK, name="fiscal_year"),
        CheckConstraint(FINITE_VALUE_CHECK, name="finite_value"),
        {"comment": "Baselines (基準値) per indicator and breakdown", "info": REFERENCE},
    )


class Target(Base):
    """目標値: any number per indicator and breakdown, one per fiscal year."""

    __tablename__ = "target"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    indicator_id: Mapped[str] = mapped_column(ForeignKey(Indicator.id, ondelete="CASCADE"))
    breakdown_key: Mapped[str | None] = mapped_column(String(50))
    fiscal_year: Mapped[int] = mapped_column(SmallInteger)
    #: eq (the plan's plain value), gte (以上), lte (以下), increase_from_baseline (…年度より増加).
    comparator: Mapped[str] = mapped_column(String(32))
    #: NULL exactly for increase_from_baseline, which has no value.
    value: Mapped[Decimal | None] = mapped_column(Numeric)
    #: The year an increase_from_baseline target compares with (2021 for "2021年度より増加").
    reference_fiscal_year: Mapped[int | None] = mapped_column(SmallInteger)
    #: The plan sections that state this target.
    sections: Mapped[list[str]] = mapped_column(ARRAY(String(16)))

    __table_args__ = (
        _breakdown_fk(),
        UniqueConstraint("indicator_id", "breakdown_key", "fiscal_year", postgresql_nulls_not_distinct=True),
        CheckConstraint(FISCAL_YEAR_CHECK, name="fiscal_year"),
        CheckConstraint(f"comparator IN ({sql_in(COMPARATORS)})", name="comparator"),
        CheckConstraint(
            "(comparator = 'increase_from_baseline') = (value IS NULL)", name="value_iff_comparator"
        ),
        CheckConstraint(
            "reference_fiscal_year IS NULL OR (comparator = 'increase_from_baseline' "
            "AND reference_fiscal_year BETWEEN 1990 AND 2100)",
            name="reference_fiscal_year",
        ),
        CheckConstraint(FINITE_VALUE_CHECK, name="finite_value"),
        CheckConstraint(SECTIONS_CHECK, name="sections"),
        {"comment": "Dated targets (目標値) per indicator and breakdown", "info": REFERENCE},
    )


class SeedRecord(Base):
    """Which entry of the reviewed seed files was applied, and the digest of its text then.

    The seed applies an entry when it is new or its text changed, and skips it otherwise, so
    running the seed twice changes nothing and never reverts an administrator's later edit.
    """

    __tablename__ = "seed_record"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = ({"comment": "Seed entries applied (digest of each YAML entry)", "info": REFERENCE},)
