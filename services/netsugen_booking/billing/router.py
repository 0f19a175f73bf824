"""Billing API: quotes (public), invoice runs (admin), invoices, payments, credit notes, exports."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from services.netsugen_booking.billing import reminders, service
from services.netsugen_booking.billing.invoice_run import Period, run_invoices
from services.netsugen_booking.billing.models import InvoiceRun
from services.netsugen_booking.billing.schemas import (
    PERIOD_PATTERN,
    BulkIssue,
    BulkIssueResult,
    CreditNoteCreate,
    InvoiceKind,
    InvoiceList,
    InvoiceOut,
    InvoiceRunCreate,
    InvoiceRunList,
    InvoiceRunOut,
    InvoiceStatus,
    OverdueList,
    PaymentCreate,
    PaymentResult,
    QuoteRequest,
    QuoteResponse,
    RefundCreate,
    RefundResult,
    ReminderList,
)
from services.netsugen_booking.frontdesk_common import idempotency
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.idempotency import IdempotencyKeyHeader
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.jst import jst_date
from shared.pagination import Cursor, Limit, paginate
from shared.permissions import P, require

router = APIRouter(prefix="/v1", tags=["billing"])

#: Members read their own invoices; staff and admin all; the notifier (service) reads to email them.


def _settings(request: Request) -> NetsugenSettings:
    settings = request.app.state.settings
    assert isinstance(settings, NetsugenSettings)
    return settings


Settings = Annotated[NetsugenSettings, Depends(_settings)]


async def _once(
    session: DbSession,
    *,
    key: str | None,
    principal: Principal,
    operation: str,
    body: BaseModel,
    status: int,
    work: Callable[[], Awaitable[BaseModel]],
) -> BaseModel | JSONResponse:
    """Run a money-moving operation under ``Idempotency-Key`` (the front desk's implementation):
    a retry with the same key and body answers the first answer (``Idempotent-Replayed: true``)
    without doing the work again; the same key with another body is 422."""
    started = await idempotency.begin(session, key=key, principal=principal, operation=operation, body=body)
    if isinstance(started, JSONResponse):
        return started
    out = await work()
    if started is not None:
        await started.save(session, status, out)
    return out


class _NoBody(BaseModel):
    """The (empty) body of a POST without one, for the idempotency hash."""


_NO_BODY = _NoBody()
_IDEMPOTENT = (
    " Accepts `Idempotency-Key`: a retry with the same key records nothing twice and answers the same."
)


@router.post(
    "/billing/quote",
    summary="Quote the charge of visits (public)",
    description=(
        "Prices visits as the monthly invoice would: per JST day, visits are clipped to the opening "
        "hours, the grace minutes are subtracted, started blocks are charged and the day is capped. "
        "With a monthly plan every day is covered (0円) and the monthly fee is returned. "
        "At most 1,000 visits; each visit must end after it starts and last at most 24 hours."
    ),
    response_model=QuoteResponse,
    responses=problem_responses(422),
)
async def quote(body: QuoteRequest, session: DbSession, settings: Settings) -> QuoteResponse:
    return await service.quote(session, body, settings)


# ---- invoice runs -------------------------------------------------------------------------------
def _run_out(run: InvoiceRun) -> InvoiceRunOut:
    return InvoiceRunOut(
        id=run.id,
        period=str(Period.of(run.period_start)),
        period_start=run.period_start,
        period_end=run.period_end,
        trigger=run.trigger,  # type: ignore[arg-type]
        requested_by=run.requested_by,
        issue=run.issue,
        members_billed=run.members_billed,
        invoices_created=run.invoices_created,
        lines_created=run.lines_created,
        total_yen=run.total_yen,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


@router.post(
    "/invoice-runs",
    status_code=201,
    summary="Run the monthly invoicing for a past month",
    description=(
        "Bills what the month has not billed yet (subscription fees, drop-in days, bookings) as one new "
        "invoice per member and, unless `issue` is false (default: the setting `BILLING_RUN_ISSUE`), "
        "issues them with gapless numbers. It may run any number of times: a late visit is billed by "
        "the next run as a supplementary invoice (a drop-in day already partly billed is charged only "
        "the difference up to the daily cap), items of a voided or fully credited invoice are billed "
        "again, and nothing is ever on two live invoices (database-enforced; concurrent runs of a month "
        "take turns). A month that is not over is refused with 422. The scheduler runs it every hour "
        "for the recent months that still have unbilled items." + _IDEMPOTENT
    ),
    response_model=InvoiceRunOut,
    responses=problem_responses(401, 403, 422),
)
async def create_invoice_run(
    body: InvoiceRunCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.INVOICE_RUN)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InvoiceRunOut | JSONResponse:
    async def work() -> InvoiceRunOut:
        run = await run_invoices(
            session,
            settings,
            period=Period.parse(body.period),
            trigger="api",
            requested_by=principal.name,
            issue=body.issue,
            today=jst_date(now),
        )
        await session.refresh(run)
        return _run_out(run)

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation="POST /v1/invoice-runs",
        body=body,
        status=201,
        work=work,
    )


@router.get(
    "/invoice-runs",
    summary="List invoice runs (newest first)",
    response_model=InvoiceRunList,
    responses=problem_responses(401, 403),
)
async def list_invoice_runs(
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_REPORTS)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InvoiceRunList:
    rows, next_cursor = await paginate(
        session,
        select(InvoiceRun),
        (InvoiceRun.started_at, InvoiceRun.id),
        limit=limit,
        cursor=cursor,
        descending=True,
        scalars=True,
    )
    return InvoiceRunList(items=[_run_out(r) for r in rows], next_cursor=next_cursor)


# ---- invoices -----------------------------------------------------------------------------------
@router.get(
    "/invoices",
    summary="List invoices and credit notes",
    description="Newest first. A `member` token sees only its own issued invoices; staff see all.",
    response_model=InvoiceList,
    responses=problem_responses(401, 403),
)
async def list_invoices(
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_READ)],
    member_id: uuid.UUID | None = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=7)] = None,
    status: InvoiceStatus | None = None,
    kind: InvoiceKind | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InvoiceList:
    return await service.list_invoices(
        session,
        principal,
        member_id=member_id,
        period=period,
        status=status,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/invoices/overdue",
    summary="Invoices outstanding past their due date",
    description="Issued or partly paid invoices whose due date has passed and that still have a balance.",
    response_model=OverdueList,
    responses=problem_responses(401, 403),
)
async def overdue(
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_REPORTS)],
    now: Now,
    as_of: Annotated[date | None, Query(description="Default: today (JST).")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> OverdueList:
    return await service.overdue_invoices(session, as_of=as_of or jst_date(now), limit=limit)


@router.get(
    "/invoices/export.csv",
    summary="CSV export of invoices and lines for accounting",
    description=(
        "Every issued invoice and credit note with an issue date in `from`..`to` (inclusive, at most "
        "366 days), one row per line, UTF-8 with BOM."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV"}, **problem_responses(401, 403, 422)},
)
async def export_csv(
    request: Request,
    principal: Annotated[Principal, require(P.BILLING_EXPORT)],
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
) -> StreamingResponse:
    service.check_export_range(date_from, date_to)
    filename = f"netsugen-invoices-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    return StreamingResponse(
        service.export_csv(request.app.state.sessionmaker, date_from, date_to),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/invoices/{invoice_id}",
    summary="An invoice or credit note with its lines, payments and credit notes",
    response_model=InvoiceOut,
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(
    invoice_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.BILLING_READ)]
) -> InvoiceOut:
    return await service.invoice_detail(session, invoice_id, principal)


@router.get(
    "/invoices/{invoice_id}/document",
    summary="Printable invoice (請求書) in Japanese, HTML",
    description=(
        "A Japanese 請求書 with every field of a qualified invoice: issuer and 登録番号, issue date, period, "
        "recipient, lines, the total for the 10% rate and its consumption tax. Credit notes print as "
        "返還インボイス. Print it from the browser (A4)."
    ),
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "HTML"},
        **problem_responses(401, 403, 404),
    },
)
async def invoice_document(
    invoice_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_READ)],
    settings: Settings,
) -> HTMLResponse:
    html = await service.render_document(session, invoice_id, principal, settings)
    return HTMLResponse(html, headers={"Content-Security-Policy": service.DOCUMENT_CSP})


@router.post(
    "/invoices/{invoice_id}/issue",
    summary="Issue a draft invoice (assigns its number)",
    description="A second call is 409 `invoice-not-draft`." + _IDEMPOTENT,
    response_model=InvoiceOut,
    responses=problem_responses(401, 403, 404, 409),
)
async def issue_invoice(
    invoice_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.INVOICE_ISSUE)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InvoiceOut | JSONResponse:
    async def work() -> InvoiceOut:
        return await service.issue_invoice(session, settings, invoice_id, issue_date=jst_date(now))

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation=f"POST /v1/invoices/{invoice_id}/issue",
        body=_NO_BODY,
        status=200,
        work=work,
    )


@router.post(
    "/invoices/{invoice_id}/payments",
    status_code=201,
    summary="Record a payment (cash, card or bank transfer)",
    description=(
        "Partial payments are allowed; a payment above the balance is refused with 422 `overpayment`. "
        "`paid_on` must be from 2020-01-01 and the invoice's month up to `BILLING_PAID_ON_MAX_FUTURE_DAYS` "
        "(3) days ahead (422 `money-date-out-of-range`). Every payment gets a gapless receipt number "
        "(`receipt_number`, 領収書 at `GET /v1/payments/{id}/receipt`) and emits `payment.recorded` "
        "(the member is emailed the receipt)." + _IDEMPOTENT
    ),
    response_model=PaymentResult,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_payment(
    invoice_id: uuid.UUID,
    body: PaymentCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.PAYMENTS_WRITE)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PaymentResult | JSONResponse:
    async def work() -> PaymentResult:
        return await service.record_payment(
            session, invoice_id, body, principal, settings=settings, today=jst_date(now)
        )

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation=f"POST /v1/invoices/{invoice_id}/payments",
        body=body,
        status=201,
        work=work,
    )


@router.post(
    "/invoices/{invoice_id}/refunds",
    status_code=201,
    summary="Record a refund (cash, card or bank transfer) against an invoice or a credit note",
    description=(
        "Money paid back to the member. Only what the member is owed can be refunded (a paid invoice "
        "later credited: `-balance_yen`), so the balance comes back to zero and never goes silently "
        "negative; more is 422 `refund-exceeds-credit`. Given a credit note's id, the refund is recorded "
        "on its original invoice and names the credit note. `refunded_on` from 2020-01-01 to a few days "
        "ahead." + _IDEMPOTENT
    ),
    response_model=RefundResult,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_refund(
    invoice_id: uuid.UUID,
    body: RefundCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.CREDIT_NOTES_WRITE)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RefundResult | JSONResponse:
    async def work() -> RefundResult:
        return await service.record_refund(
            session, invoice_id, body, principal, settings=settings, today=jst_date(now)
        )

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation=f"POST /v1/invoices/{invoice_id}/refunds",
        body=body,
        status=201,
        work=work,
    )


@router.get(
    "/payments/{payment_id}/receipt",
    summary="Printable receipt (領収書) of a payment, Japanese HTML",
    description=(
        "Receipt number (NR-<fiscal year>-<6 digits>, gapless), issue and payment dates, the payer, the "
        "amount, the 但し書き (`BILLING_RECEIPT_PURPOSE`), the consumption tax included for the 10% rate, "
        "and the issuer with its registration number. A member reads only its own."
    ),
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "HTML"},
        **problem_responses(401, 403, 404),
    },
)
async def payment_receipt(
    payment_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_READ)],
    settings: Settings,
) -> HTMLResponse:
    html = await service.render_receipt(session, payment_id, principal, settings)
    return HTMLResponse(html, headers={"Content-Security-Policy": service.DOCUMENT_CSP})


@router.post(
    "/invoices/issue",
    summary="Issue drafts in bulk (a month's, or named ones)",
    description="Numbers are assigned in member-number order, invoices first, then credit notes."
    + _IDEMPOTENT,
    response_model=BulkIssueResult,
    responses=problem_responses(401, 403, 422),
)
async def bulk_issue(
    body: BulkIssue,
    session: DbSession,
    principal: Annotated[Principal, require(P.INVOICE_ISSUE)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BulkIssueResult | JSONResponse:
    async def work() -> BulkIssueResult:
        return await service.bulk_issue(
            session, settings, issue_date=jst_date(now), period=body.period, invoice_ids=body.invoice_ids
        )

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation="POST /v1/invoices/issue",
        body=body,
        status=200,
        work=work,
    )


@router.get(
    "/invoice-reminders",
    summary="Overdue reminders (督促) sent: who was reminded when",
    description="Newest first; filter by `member_id` or `invoice_id`. `balance_yen` is the amount outstanding then.",
    response_model=ReminderList,
    responses=problem_responses(401, 403),
)
async def list_reminders(
    session: DbSession,
    principal: Annotated[Principal, require(P.BILLING_REPORTS)],
    member_id: uuid.UUID | None = None,
    invoice_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ReminderList:
    return await reminders.list_reminders(
        session, member_id=member_id, invoice_id=invoice_id, limit=limit, cursor=cursor
    )


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    status_code=201,
    summary="Issue a credit note (返還インボイス) against an invoice",
    description=(
        "An issued invoice is never edited: a correction is a credit note linked to it, with its own "
        "number (NSC-…) and its own consumption-tax computation. `full: true` credits everything not "
        "yet credited; an unpaid invoice credited in full becomes `void`. A fully credited invoice "
        "releases its items: the next invoice run bills them again (that is how a correction is made: "
        "credit, fix the visit or plan, run)." + _IDEMPOTENT
    ),
    response_model=InvoiceOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_credit_note(
    invoice_id: uuid.UUID,
    body: CreditNoteCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.CREDIT_NOTES_WRITE)],
    settings: Settings,
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InvoiceOut | JSONResponse:
    async def work() -> InvoiceOut:
        return await service.create_credit_note(
            session, settings, invoice_id, body, principal, issue_date=jst_date(now)
        )

    return await _once(  # type: ignore[return-value]
        session,
        key=idempotency_key,
        principal=principal,
        operation=f"POST /v1/invoices/{invoice_id}/credit-notes",
        body=body,
        status=201,
        work=work,
    )
