"""Request and response bodies of quotes, invoice runs, invoices, payments and credit notes."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.jst import JstDatetime

MAX_QUOTE_VISITS = 1000
PERIOD_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"  # a real calendar month: year 1900–2199

InvoiceKind = Literal["invoice", "credit_note"]
InvoiceStatus = Literal["draft", "issued", "paid", "partially_paid", "void"]
PaymentMethod = Literal["cash", "card", "bank_transfer"]
LineKind = Literal["subscription", "dropin_day", "booking", "credit"]
#: The earliest payment or refund date the API accepts (the space opened later).
EARLIEST_MONEY_DATE = date(2020, 1, 1)
RunTrigger = Literal["schedule", "api", "cli"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- quotes -------------------------------------------------------------------------------------
class QuoteVisit(_Request):
    check_in: AwareDatetime = Field(description="Check-in time, ISO 8601 with an offset.")
    check_out: AwareDatetime = Field(description="Check-out time, ISO 8601 with an offset.")

    @model_validator(mode="after")
    def _in_order(self) -> QuoteVisit:
        if self.check_out < self.check_in:
            raise ValueError("check_out is before check_in")
        if self.check_out - self.check_in > timedelta(hours=24):
            raise ValueError("a visit cannot be longer than a day (24 hours)")
        return self


class QuoteRequest(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan": "dropin",
                    "visits": [
                        {"check_in": "2026-12-01T10:00:00+09:00", "check_out": "2026-12-01T11:01:00+09:00"},
                        {"check_in": "2026-12-02T13:00:00+09:00", "check_out": "2026-12-02T17:30:00+09:00"},
                    ],
                }
            ]
        },
    )

    plan: str = Field(min_length=1, max_length=32, description="Plan code: dropin, individual_monthly, …")
    visits: list[QuoteVisit] = Field(max_length=MAX_QUOTE_VISITS, description="At most 1,000 visits.")


class QuoteDay(BaseModel):
    date: date
    billable_minutes: int = Field(description="Minutes within opening hours, after the grace minutes.")
    blocks: int = Field(description="Started blocks (60 minutes unless configured to 30).")
    uncapped: int = Field(description="The charge before the daily cap, yen.")
    cap_applied: bool
    charge: int = Field(description="The day's charge, yen (tax included).")
    covered_by_plan: bool = Field(description="A monthly plan covers the day: visits cost nothing.")


class QuoteResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan": "dropin",
                    "total": 1500,
                    "consumption_tax": 136,
                    "currency": "JPY",
                    "tax_included": True,
                    "monthly_fee_yen": None,
                    "days": [
                        {
                            "date": "2026-12-01",
                            "billable_minutes": 61,
                            "blocks": 2,
                            "uncapped": 500,
                            "cap_applied": False,
                            "charge": 500,
                            "covered_by_plan": False,
                        },
                        {
                            "date": "2026-12-02",
                            "billable_minutes": 270,
                            "blocks": 5,
                            "uncapped": 1250,
                            "cap_applied": True,
                            "charge": 1000,
                            "covered_by_plan": False,
                        },
                    ],
                }
            ]
        }
    )

    plan: str
    total: int = Field(description="Total in yen, tax included (総額表示).")
    consumption_tax: int = Field(description="The 10% consumption tax contained in the total.")
    currency: Literal["JPY"] = "JPY"
    tax_included: bool = True
    monthly_fee_yen: int | None = Field(
        default=None, description="For monthly plans: the fee per month (visits are then free)."
    )
    days: list[QuoteDay]


# ---- invoice runs -------------------------------------------------------------------------------
class InvoiceRunCreate(_Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"period": "2026-11"}]})

    period: str = Field(
        pattern=PERIOD_PATTERN, max_length=7, description="The month to bill, YYYY-MM (past)."
    )
    issue: bool | None = Field(
        default=None,
        description=(
            "Issue the invoices at once (numbers assigned); false leaves drafts. Default: the setting "
            "`BILLING_RUN_ISSUE` (true)."
        ),
    )


class InvoiceRunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7f2c2e-5a38-4d8b-9d55-3a3b8f6f1c11",
                    "period": "2026-11",
                    "period_start": "2026-11-01",
                    "period_end": "2026-11-30",
                    "trigger": "api",
                    "requested_by": "admin",
                    "issue": True,
                    "members_billed": 256,
                    "invoices_created": 256,
                    "lines_created": 1204,
                    "total_yen": 3120500,
                    "started_at": "2026-12-01T00:30:00+09:00",
                    "finished_at": "2026-12-01T00:30:02+09:00",
                }
            ]
        }
    )

    id: uuid.UUID
    period: str
    period_start: date
    period_end: date
    trigger: RunTrigger
    requested_by: str | None
    issue: bool
    members_billed: int
    invoices_created: int = Field(description="New invoices; 0 when the month was already billed.")
    lines_created: int
    total_yen: int
    started_at: JstDatetime
    finished_at: JstDatetime | None


class InvoiceRunList(BaseModel):
    items: list[InvoiceRunOut]
    next_cursor: str | None


# ---- invoices -----------------------------------------------------------------------------------
class InvoiceLineOut(BaseModel):
    position: int
    kind: LineKind
    description: str
    plan_code: str | None
    service_date: date | None = Field(description="The drop-in day.")
    period_start: date | None
    period_end: date | None
    member_user_id: uuid.UUID | None = Field(description="The corporate member's named user, if any.")
    minutes: int | None
    blocks: int | None
    uncapped_yen: int | None
    cap_applied: bool | None
    amount_yen: int = Field(description="Tax-inclusive yen; negative on credit notes.")
    tax_rate_percent: int
    corrects: str | None = Field(
        default=None,
        description="What this line corrects (a supplementary line's difference to what was billed).",
    )


class PaymentOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    method: PaymentMethod
    amount_yen: int
    paid_on: date
    reference: str | None
    recorded_by: str
    created_at: JstDatetime
    receipt_number: str | None = Field(description="領収書 number, NR-<fiscal year>-<6 digits>.")


class RefundOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    credit_note_id: uuid.UUID | None
    method: PaymentMethod
    amount_yen: int
    refunded_on: date
    reference: str | None
    reason: str
    recorded_by: str
    created_at: JstDatetime


class InvoiceSummary(BaseModel):
    id: uuid.UUID
    kind: InvoiceKind
    number: str | None = Field(
        description="NS-<fiscal year>-<6 digits>; NSC-… for credit notes; null for drafts."
    )
    status: InvoiceStatus
    member_id: uuid.UUID
    period: str = Field(description="YYYY-MM")
    period_start: date
    period_end: date
    issue_date: date | None
    due_date: date | None
    recipient_name: str
    total_yen: int = Field(description="Tax-inclusive total (10% rate); negative on credit notes.")
    tax_rate_percent: int
    tax_yen: int = Field(description="Consumption tax, computed once for the invoice.")
    paid_yen: int
    credited_yen: int
    refunded_yen: int = 0
    balance_yen: int = Field(
        description="total - credited - paid + refunded; 0 for credit notes. Negative: owed to the member (refund it)."
    )
    credited_invoice_id: uuid.UUID | None


class InvoiceOut(InvoiceSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1f8a8e-1d1c-4b4e-9e1a-2f3b4c5d6e7f",
                    "kind": "invoice",
                    "number": "NS-2026-000123",
                    "status": "issued",
                    "member_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "period": "2026-11",
                    "period_start": "2026-11-01",
                    "period_end": "2026-11-30",
                    "issue_date": "2026-12-01",
                    "due_date": "2026-12-31",
                    "recipient_name": "上州 太郎",
                    "total_yen": 1750,
                    "tax_rate_percent": 10,
                    "tax_yen": 159,
                    "paid_yen": 0,
                    "credited_yen": 0,
                    "balance_yen": 1750,
                    "credited_invoice_id": None,
                    "recipient_kind": "individual",
                    "recipient_member_number": "M000123",
                    "issuer_name": "群馬県 官民共創スペース NETSUGEN",
                    "issuer_registration_number": "T8000012010038",
                    "issuer_address": "群馬県前橋市大手町1-1-1",
                    "tax_rounding": "floor",
                    "reason": None,
                    "lines": [
                        {
                            "position": 1,
                            "kind": "dropin_day",
                            "description": "ドロップイン利用 11/2 61分・2ブロック",
                            "plan_code": "dropin",
                            "service_date": "2026-11-02",
                            "period_start": None,
                            "period_end": None,
                            "member_user_id": None,
                            "minutes": 61,
                            "blocks": 2,
                            "uncapped_yen": 500,
                            "cap_applied": False,
                            "amount_yen": 500,
                            "tax_rate_percent": 10,
                        },
                    ],
                    "payments": [],
                    "credit_notes": [],
                }
            ]
        }
    )

    recipient_kind: str
    recipient_member_number: str
    issuer_name: str | None
    issuer_registration_number: str | None
    issuer_address: str | None
    tax_rounding: str
    reason: str | None
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]
    refunds: list[RefundOut] = Field(default_factory=list)
    credit_notes: list[InvoiceSummary]


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None


class OverdueInvoice(InvoiceSummary):
    days_overdue: int


class OverdueList(BaseModel):
    items: list[OverdueInvoice]
    as_of: date


# ---- payments and credit notes ------------------------------------------------------------------
class PaymentCreate(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"method": "cash", "amount_yen": 1000, "paid_on": "2026-12-05"}]},
    )

    method: PaymentMethod
    amount_yen: int = Field(gt=0, le=100_000_000)
    paid_on: date = Field(
        ge=EARLIEST_MONEY_DATE,
        description="The day the money was received: from 2020-01-01 and the invoice's month, at most a few days ahead.",
    )
    reference: str | None = Field(default=None, max_length=200, description="Receipt or transfer reference.")


class PaymentResult(BaseModel):
    id: uuid.UUID = Field(description="The payment's id (its receipt: GET /v1/payments/{id}/receipt).")
    receipt_number: str | None = Field(description="領収書 number.")
    payment: PaymentOut
    invoice: InvoiceSummary


class RefundCreate(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "method": "cash",
                    "amount_yen": 250,
                    "refunded_on": "2026-12-10",
                    "reason": "返還インボイス NSC-2026-000001 の返金",
                }
            ]
        },
    )

    method: PaymentMethod
    amount_yen: int = Field(gt=0, le=100_000_000)
    refunded_on: date = Field(ge=EARLIEST_MONEY_DATE)
    reference: str | None = Field(
        default=None, max_length=200, description="Transfer or card-terminal reference."
    )
    reason: str = Field(min_length=1, max_length=500)


class RefundResult(BaseModel):
    refund: RefundOut
    invoice: InvoiceSummary


class BulkIssue(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"period": "2026-11"}, {"invoice_ids": ["6f1f8a8e-1d1c-4b4e-9e1a-2f3b4c5d6e7f"]}]
        },
    )

    period: str | None = Field(
        default=None, pattern=PERIOD_PATTERN, max_length=7, description="Every draft of the month."
    )
    invoice_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _one_of(self) -> BulkIssue:
        if (self.period is None) == (self.invoice_ids is None):
            raise ValueError("give either period or invoice_ids")
        return self


class BulkIssueResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"issued": 12, "numbers": ["NS-2026-000013"]}]})

    issued: int
    numbers: list[str]


class ReminderOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invoice_id": "6f1f8a8e-1d1c-4b4e-9e1a-2f3b4c5d6e7f",
                    "invoice_number": "NS-2026-000123",
                    "member_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "recipient_name": "上州 太郎",
                    "stage_days": 7,
                    "due_date": "2026-12-31",
                    "balance_yen": 1750,
                    "sent_at": "2027-01-07T09:00:00+09:00",
                }
            ]
        }
    )

    invoice_id: uuid.UUID
    invoice_number: str | None
    member_id: uuid.UUID
    recipient_name: str
    stage_days: int = Field(description="Days after the due date.")
    due_date: date
    balance_yen: int = Field(description="The amount outstanding when the reminder was sent.")
    sent_at: JstDatetime


class ReminderList(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


class CreditNoteLineIn(_Request):
    description: str = Field(min_length=1, max_length=300)
    amount_yen: int = Field(gt=0, le=100_000_000, description="The amount credited (positive), tax included.")


class CreditNoteCreate(_Request):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "11/2 の利用時間の誤り",
                    "lines": [{"description": "11/2 ドロップイン 訂正", "amount_yen": 250}],
                },
                {"reason": "請求の取消", "full": True},
            ]
        },
    )

    reason: str = Field(min_length=1, max_length=500)
    full: bool = Field(default=False, description="Credit everything not yet credited (voids the invoice).")
    lines: list[CreditNoteLineIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _one_of(self) -> CreditNoteCreate:
        if self.full == bool(self.lines):
            raise ValueError("give either full=true or at least one line, not both")
        return self
