from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.netsugen_booking.plans.models import Plan, PlanPrice

PlanCode = Literal["dropin", "individual_monthly", "corporate_monthly"]


class PriceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "effective_from": "2020-12-21",
                    "monthly_fee_yen": None,
                    "block_minutes": 60,
                    "block_price_yen": 250,
                    "daily_cap_yen": 1000,
                    "grace_minutes": 0,
                }
            ]
        }
    )

    effective_from: date
    monthly_fee_yen: int | None = Field(description="Monthly fee, tax-inclusive yen; null for drop-in.")
    block_minutes: int = Field(description="Drop-in: a started block of this many minutes is charged.")
    block_price_yen: int
    daily_cap_yen: int
    grace_minutes: int

    @classmethod
    def of(cls, p: PlanPrice) -> PriceOut:
        return cls(
            effective_from=p.effective_from,
            monthly_fee_yen=p.monthly_fee_yen,
            block_minutes=p.block_minutes,
            block_price_yen=p.block_price_yen,
            daily_cap_yen=p.daily_cap_yen,
            grace_minutes=p.grace_minutes,
        )


class PlanOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "individual_monthly",
                    "name": "個人月額会員",
                    "name_ja": "個人月額会員",
                    "name_en": "Individual monthly",
                    "kind": "monthly",
                    "max_users": None,
                    "current_price": {
                        "effective_from": "2020-12-21",
                        "monthly_fee_yen": 10000,
                        "block_minutes": 60,
                        "block_price_yen": 250,
                        "daily_cap_yen": 1000,
                        "grace_minutes": 0,
                    },
                    "prices": [],
                }
            ]
        }
    )

    code: str
    name: str = Field(description="Name in the request's language (Accept-Language).")
    name_ja: str
    name_en: str
    kind: Literal["monthly", "dropin"]
    max_users: int | None = Field(description="Corporate plans: named users covered; null = unlimited.")
    current_price: PriceOut | None
    prices: list[PriceOut] = Field(description="Every price row, oldest first.")

    @classmethod
    def of(cls, plan: Plan, prices: list[PlanPrice], today: date, language: str) -> PlanOut:
        from services.netsugen_booking.plans.service import current_price

        cur = current_price(prices, today)
        return cls(
            code=plan.code,
            name=plan.name_ja if language == "ja" else plan.name_en,
            name_ja=plan.name_ja,
            name_en=plan.name_en,
            kind=plan.kind,  # type: ignore[arg-type]
            max_users=plan.max_users,
            current_price=PriceOut.of(cur) if cur else None,
            prices=[PriceOut.of(p) for p in prices],
        )


class PlanList(BaseModel):
    items: list[PlanOut]


class PlanUpdate(BaseModel):
    """Change a plan's names or the number of users a corporate plan covers (null = unlimited)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"max_users": 10}, {"max_users": None}]}
    )

    name_ja: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=100)
    max_users: int | None = Field(default=None, ge=1, le=10_000)


class PriceCreate(BaseModel):
    """A new price from a future date. Monthly plans need ``monthly_fee_yen``; drop-in has none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "effective_from": "2027-04-01",
                    "block_minutes": 30,
                    "block_price_yen": 125,
                    "daily_cap_yen": 1000,
                    "grace_minutes": 0,
                }
            ]
        },
    )

    effective_from: date
    monthly_fee_yen: int | None = Field(default=None, ge=0, le=10_000_000)
    block_minutes: int = Field(ge=1, le=1440)
    block_price_yen: int = Field(ge=0, le=1_000_000)
    daily_cap_yen: int = Field(ge=0, le=1_000_000)
    grace_minutes: int = Field(default=0, ge=0, le=1440)
