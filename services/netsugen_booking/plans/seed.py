"""Seed NETSUGEN's three plans and their prices (DOMAIN.md section 2). Idempotent.

Prices are tax-inclusive yen (総額表示) and in effect from NETSUGEN's opening day, 2020-12-21. The
seed only inserts missing rows: a price changed later (a new row) is never overwritten.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.plans.models import (
    PLAN_CORPORATE_MONTHLY,
    PLAN_DROPIN,
    PLAN_INDIVIDUAL_MONTHLY,
    Plan,
    PlanPrice,
)
from shared.seeding import Progress

OPENED_ON = date(2020, 12, 21)  # NETSUGEN opened on 2020-12-21

#: The drop-in tariff: 250円 per started hour, at most 1,000円 a day, no grace.
DROPIN_TARIFF = {"block_minutes": 60, "block_price_yen": 250, "daily_cap_yen": 1000, "grace_minutes": 0}

PLANS: list[dict[str, object]] = [
    {
        "code": PLAN_DROPIN,
        "name_ja": "ドロップイン(個人・非月額)",
        "name_en": "Drop-in (pay per hour)",
        "kind": "dropin",
        "max_users": None,
    },
    {
        "code": PLAN_INDIVIDUAL_MONTHLY,
        "name_ja": "個人月額会員",
        "name_en": "Individual monthly",
        "kind": "monthly",
        "max_users": None,
    },
    {
        "code": PLAN_CORPORATE_MONTHLY,
        "name_ja": "法人月額会員",
        "name_en": "Corporate monthly",
        "kind": "monthly",
        "max_users": None,
    },
]

PRICES: list[dict[str, object]] = [
    {"plan_code": PLAN_DROPIN, "effective_from": OPENED_ON, "monthly_fee_yen": None, **DROPIN_TARIFF},
    {
        "plan_code": PLAN_INDIVIDUAL_MONTHLY,
        "effective_from": OPENED_ON,
        "monthly_fee_yen": 10_000,
        **DROPIN_TARIFF,
    },
    {
        "plan_code": PLAN_CORPORATE_MONTHLY,
        "effective_from": OPENED_ON,
        "monthly_fee_yen": 25_000,
        **DROPIN_TARIFF,
    },
]


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    plans = await session.execute(
        insert(Plan).values(PLANS).on_conflict_do_nothing(index_elements=["code"]).returning(Plan.code)
    )
    new_plans = len(plans.all())
    progress("netsugen plans", len(PLANS), len(PLANS))
    prices = await session.execute(
        insert(PlanPrice)
        .values(PRICES)
        .on_conflict_do_nothing(index_elements=["plan_code", "effective_from"])
        .returning(PlanPrice.id)
    )
    new_prices = len(prices.all())
    progress("netsugen plan prices", len(PRICES), len(PRICES))
    return {"plans": new_plans, "plan_prices": new_prices}
