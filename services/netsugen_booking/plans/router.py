"""Plans and prices: public to read, administrators change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from services.netsugen_booking.plans import service
from services.netsugen_booking.plans.schemas import (
    PlanCode,
    PlanList,
    PlanOut,
    PlanUpdate,
    PriceCreate,
    PriceOut,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.jst import jst_date
from shared.permissions import P, require

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get(
    "",
    summary="List the plans and their prices",
    description="Public. Every plan with the price in effect today and its full price history.",
)
async def list_plans(request: Request, session: DbSession, now: Now) -> PlanList:
    plans = await service.list_plans(session)
    prices = await service.prices_of(session, [p.code for p in plans])
    lang = request_language(request)
    return PlanList(items=[PlanOut.of(p, prices[p.code], jst_date(now), lang) for p in plans])


@router.get("/{code}", summary="Read a plan", description="Public.", responses=problem_responses(404))
async def get_plan(code: PlanCode, request: Request, session: DbSession, now: Now) -> PlanOut:
    plan = await service.get_plan(session, code)
    prices = await service.prices_of(session, [code])
    return PlanOut.of(plan, prices[code], jst_date(now), request_language(request))


@router.patch(
    "/{code}",
    summary="Change a plan's names or user limit",
    description="Admin. `max_users` is how many named users a corporate plan covers; `null` means unlimited.",
    responses=problem_responses(401, 403, 404),
)
async def update_plan(
    code: PlanCode,
    body: PlanUpdate,
    request: Request,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.PLANS_WRITE)],
) -> PlanOut:
    plan = await service.get_plan(session, code, for_update=True)
    fields = body.model_fields_set
    if "name_ja" in fields and body.name_ja is not None:
        plan.name_ja = body.name_ja
    if "name_en" in fields and body.name_en is not None:
        plan.name_en = body.name_en
    if "max_users" in fields:
        plan.max_users = body.max_users
    await session.flush()
    prices = await service.prices_of(session, [code])
    return PlanOut.of(plan, prices[code], jst_date(now), request_language(request))


@router.post(
    "/{code}/prices",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a price change",
    description=(
        "Admin. Adds a price row in effect from `effective_from`, which must be after today: the "
        "prices of the past are never rewritten, so old bills stay explainable."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def add_price(
    code: PlanCode,
    body: PriceCreate,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.PLANS_WRITE)],
) -> PriceOut:
    plan = await service.get_plan(session, code)
    row = await service.add_price(
        session,
        plan=plan,
        today=jst_date(now),
        effective_from=body.effective_from,
        monthly_fee_yen=body.monthly_fee_yen,
        block_minutes=body.block_minutes,
        block_price_yen=body.block_price_yen,
        daily_cap_yen=body.daily_cap_yen,
        grace_minutes=body.grace_minutes,
    )
    return PriceOut.of(row)
