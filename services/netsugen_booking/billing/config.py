"""Billing settings, mixed into ``NetsugenSettings`` (environment variables ``BILLING_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from services.netsugen_booking.billing.tax import validate_registration_number

#: PLACEHOLDER registration number: it passes the check-digit test and nothing more. Replace it with
#: the issuer's real 登録番号 (env BILLING_INVOICE_REGISTRATION_NUMBER) before issuing real invoices.
PLACEHOLDER_REGISTRATION_NUMBER = "T8000012010038"


class BillingSettings(BaseSettings):
    # The issuer printed on every qualified invoice (適格請求書発行事業者の氏名又は名称).
    billing_issuer_name: str = Field(default="群馬県 官民共創スペース NETSUGEN", min_length=1, max_length=200)
    billing_issuer_address: str = Field(
        default="〒371-8570 群馬県前橋市大手町1-1-1 群馬県庁32階", max_length=300
    )
    # 登録番号: "T" + 13 digits whose first digit is the check digit of the corporate number.
    billing_invoice_registration_number: str = PLACEHOLDER_REGISTRATION_NUMBER
    # Consumption tax (10%) is computed once per invoice with this rounding, kept on the invoice.
    billing_tax_rounding: Literal["floor", "round_half_up", "ceil"] = "floor"
    # A monthly plan's first month: charged in full, or prorated by days (floor(fee × days / month)).
    billing_first_month_proration: Literal["full", "daily"] = "full"
    # Drop-in overrides of the price table: 30-minute blocks (the block price scales with them,
    # 250円 → 125円) and grace minutes per day. Unset = the price table's values.
    billing_dropin_block_minutes: Literal[30, 60] | None = None
    billing_dropin_grace_minutes: int | None = Field(default=None, ge=0, le=1440)
    # Payment is due this many days after the issue date (お支払期限).
    billing_payment_due_days: int = Field(default=30, ge=0, le=365)
    billing_payment_instructions: str = Field(
        default="お支払いは窓口（現金・カード）または銀行振込でお願いいたします。", max_length=500
    )
    # A run issues what it creates unless asked not to (the API's `issue` flag overrides it).
    billing_run_issue: bool = True
    # The scheduled run bills, every hour, each of the last N months that still has unbilled items.
    billing_catch_up_months: int = Field(default=3, ge=1, le=24)
    # Bookings cancelled after their cancellation deadline are billed this share of their price.
    billing_late_cancellation_percent: int = Field(default=100, ge=0, le=100)
    # Bank account for transfers, printed on every invoice (empty name = not printed).
    billing_bank_name: str = Field(default="群馬銀行", max_length=100)
    billing_bank_branch: str = Field(default="県庁支店", max_length=100)
    billing_bank_account_type: Literal["普通", "当座"] = "普通"
    billing_bank_account_number: str = Field(default="0000000", pattern=r"^[0-9]{7}$")
    billing_bank_account_holder_kana: str = Field(default="グンマケン ネツゲン", max_length=100)
    # 領収書: the 但し書き and how far ahead of today a payment date may be.
    billing_receipt_purpose: str = Field(default="NETSUGEN利用料として", min_length=1, max_length=100)
    billing_paid_on_max_future_days: int = Field(default=3, ge=0, le=31)
    # Overdue reminders (督促): days after the due date, each sent once per invoice.
    billing_reminder_days: list[int] = Field(default=[7, 21, 45], min_length=1, max_length=10)
    # The invoice run reads and writes members in chunks of this size (memory stays bounded).
    billing_run_chunk_size: int = Field(default=2000, ge=1, le=50_000)

    @field_validator("billing_reminder_days")
    @classmethod
    def _reminder_days(cls, value: list[int]) -> list[int]:
        if any(d <= 0 or d > 365 for d in value) or len(set(value)) != len(value):
            raise ValueError("reminder days must be distinct whole days between 1 and 365")
        return sorted(value)

    @field_validator("billing_invoice_registration_number")
    @classmethod
    def _valid_registration_number(cls, value: str) -> str:
        return validate_registration_number(value)
