"""Plans and the price table: which tariff is in effect on a day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from services.netsugen_booking.plans.exceptions import PlanNotFound, PriceExists, PriceIncomplete, PriceInPast
from services.netsugen_booking.plans.models import Plan, PlanPrice


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    return (await session.scalars(select(Plan).order_by(Plan.code))).all()


async def get_plan(session: AsyncSession, code: str, *, for_update: bool = False) -> Plan:
    stmt = select(Plan).where(Plan.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    plan = (await session.scalars(stmt)).first()
    if plan is None:
        raise PlanNotFound(f"No plan {code!r}.", detail_ja=f"プラン「{code}」はありません。")
    return plan


async def prices_of(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[PlanPrice]]:
    rows = (
        await session.scalars(
            select(PlanPrice).where(PlanPrice.plan_code.in_(codes)).order_by(PlanPrice.effective_from)
        )
    ).all()
    out: dict[str, list[PlanPrice]] = {c: [] for c in codes}
    for row in rows:
        out[row.plan_code].append(row)
    return out


async def price_on(session: AsyncSession, plan_code: str, day: date) -> PlanPrice | None:
    """The price row of ``plan_code`` in effect on ``day`` (the latest that starts on or before it)."""
    return (
        await session.scalars(
            select(PlanPrice)
            .where(PlanPrice.plan_code == plan_code, PlanPrice.effective_from <= day)
            .order_by(PlanPrice.effective_from.desc())
            .limit(1)
        )
    ).first()


def current_price(prices: Sequence[PlanPrice], today: date) -> PlanPrice | None:
    current = None
    for p in prices:  # sorted by effective_from
        if p.effective_from <= today:
            current = p
    return current


async def add_price(
    session: AsyncSession,
    *,
    plan: Plan,
    today: date,
    effective_from: date,
    monthly_fee_yen: int | None,
    block_minutes: int,
    block_price_yen: int,
    daily_cap_yen: int,
    grace_minutes: int,
) -> PlanPrice:
    """A price change is a new row from a future date: the past (and today) are never rewritten."""
    if effective_from <= today:
        raise PriceInPast(
            f"A new price must start after today ({today}); past prices are never rewritten.",
            detail_ja=f"新しい料金の適用開始日は本日({today})より後にしてください。過去の料金は変更できません。",
        )
    if (plan.kind == "monthly") != (monthly_fee_yen is not None):
        raise PriceIncomplete(
            "Monthly plans need monthly_fee_yen; the drop-in plan has none.",
            detail_ja="月額プランには monthly_fee_yen が必要です。ドロップインには指定できません。",
        )
    row = PlanPrice(
        plan_code=plan.code,
        effective_from=effective_from,
        monthly_fee_yen=monthly_fee_yen,
        block_minutes=block_minutes,
        block_price_yen=block_price_yen,
        daily_cap_yen=daily_cap_yen,
        grace_minutes=grace_minutes,
    )
    try:
        await flush_in_savepoint(session, lambda: session.add(row))
    except IntegrityError as exc:
        if constraint_name(exc) == "uq_plan_price_plan_code_effective_from":
            raise PriceExists(
                f"Plan {plan.code} already has a price from {effective_from}.",
                detail_ja=f"{effective_from} から適用される料金は既にあります。",
            ) from exc
        raise
    return row
