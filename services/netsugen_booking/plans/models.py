"""Plans and their price table (reference data, seeded).

A price row is a complete tariff in effect from ``effective_from`` until the next row of the same
plan starts. A price change is a new row with a later ``effective_from``: the past is never
rewritten, so a bill for an old month is always computed with the prices of that month.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.netsugen_booking.db import Base

PLAN_DROPIN = "dropin"
PLAN_INDIVIDUAL_MONTHLY = "individual_monthly"
PLAN_CORPORATE_MONTHLY = "corporate_monthly"
PLAN_CODES = (PLAN_DROPIN, PLAN_INDIVIDUAL_MONTHLY, PLAN_CORPORATE_MONTHLY)


class Plan(Base):
    __tablename__ = "plan"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # monthly: a fee per calendar month, visits free; dropin: charged per started block.
    kind: Mapped[str] = mapped_column(String(16))
    # For corporate plans: how many named users the plan covers. NULL = unlimited.
    max_users: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("kind IN ('monthly', 'dropin')", name="kind"),
        CheckConstraint("max_users IS NULL OR max_users >= 1", name="max_users_positive"),
        {"info": {"reference": True}, "comment": "NETSUGEN membership plans (seeded reference data)"},
    )


class PlanPrice(Base):
    __tablename__ = "plan_price"
    # Changes invalidate every process's cached price table (shared/pgnotify.py, migration 0008).
    __notify_channel__ = "netsugen_prices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("plan.code", ondelete="RESTRICT"))
    effective_from: Mapped[date] = mapped_column(Date)
    # Monthly plans: the fee per calendar month (tax-inclusive yen). NULL for drop-in.
    monthly_fee_yen: Mapped[int | None] = mapped_column(Integer)
    # The drop-in tariff: a started block of `block_minutes` costs `block_price_yen`, a day costs
    # at most `daily_cap_yen`, and the first `grace_minutes` of a day are free. Every row carries a
    # complete tariff (monthly rows repeat the drop-in tariff they fall back to) so billing never
    # has to guess a missing value.
    block_minutes: Mapped[int] = mapped_column(Integer)
    block_price_yen: Mapped[int] = mapped_column(Integer)
    daily_cap_yen: Mapped[int] = mapped_column(Integer)
    grace_minutes: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        UniqueConstraint("plan_code", "effective_from"),
        CheckConstraint("monthly_fee_yen IS NULL OR monthly_fee_yen >= 0", name="monthly_fee_non_negative"),
        CheckConstraint("block_minutes > 0 AND block_minutes <= 1440", name="block_minutes_range"),
        CheckConstraint("block_price_yen >= 0", name="block_price_non_negative"),
        CheckConstraint("daily_cap_yen >= 0", name="daily_cap_non_negative"),
        CheckConstraint("grace_minutes >= 0", name="grace_non_negative"),
        {"info": {"reference": True}, "comment": "Plan prices with effective dates (never rewritten)"},
    )
