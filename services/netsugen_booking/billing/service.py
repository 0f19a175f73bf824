"""Billing services: quotes, issuing (numbering), payments, credit notes, reads and documents.

Services ``flush()``; the caller's session (request, job or CLI) commits. The monthly run lives
in ``invoice_run.py``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import String, Table, delete, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.bulk import emit_many
from services.netsugen_booking.billing.exceptions import (
    CreditExceedsInvoice,
    InvalidDateRange,
    InvoiceNotCreditable,
    InvoiceNotDraft,
    InvoiceNotFound,
    InvoiceNotPayable,
    MoneyDateOutOfRange,
    NoTariff,
    Overpayment,
    PaymentNotFound,
    RefundExceedsCredit,
    UnknownPlan,
)
from services.netsugen_booking.billing.lines import (
    TAX_RATE_PERCENT,
    Assignment,
    NoPriceInEffect,
    cap_reached,
    dropin_charges,
    invoice_number,
    monthly_spans,
)
from services.netsugen_booking.billing.models import (
    SERIES_CREDIT_NOTE,
    SERIES_INVOICE,
    SERIES_RECEIPT,
    BilledItem,
    DailyCapReached,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoicePayment,
    InvoiceRefund,
)
from services.netsugen_booking.billing.pricing import Visit, price_dropin, quote_total
from services.netsugen_booking.billing.repository import (
    cached_price_table,
    load_calendar,
    load_plans,
    load_price_table,
)
from services.netsugen_booking.billing.schemas import (
    EARLIEST_MONEY_DATE,
    BulkIssueResult,
    CreditNoteCreate,
    InvoiceLineOut,
    InvoiceList,
    InvoiceOut,
    InvoiceSummary,
    OverdueInvoice,
    OverdueList,
    PaymentCreate,
    PaymentOut,
    PaymentResult,
    QuoteDay,
    QuoteRequest,
    QuoteResponse,
    RefundCreate,
    RefundOut,
    RefundResult,
)
from services.netsugen_booking.billing.tax import consumption_tax_included
from services.netsugen_booking.calendar.service import hours_on
from services.netsugen_booking.db import outbox
from services.netsugen_booking.members.models import Member, MemberUser
from services.netsugen_booking.settings import NetsugenSettings
from shared.audit import record_audit_many
from shared.auth import Principal
from shared.csvsafe import CsvWriter
from shared.db import transaction_driver
from shared.events import InvoiceIssued, PaymentRecorded, VisitDailyCapReached
from shared.jst import JST, fiscal_year_of, format_yen, jst_date, start_of_day_jst
from shared.outbox import emit
from shared.pagination import paginate

_EMIT_BATCH = 5000


# ---- quotes -------------------------------------------------------------------------------------
async def quote(session: AsyncSession, body: QuoteRequest, settings: NetsugenSettings) -> QuoteResponse:
    plans = await load_plans(session)
    plan = plans.get(body.plan)
    if plan is None:
        known = ", ".join(sorted(plans))
        raise UnknownPlan(
            f"Unknown plan {body.plan!r}; known plans: {known}.",
            detail_ja=f"プラン「{body.plan}」はありません（{known}）。",
        )
    visits = [Visit(v.check_in, v.check_out) for v in body.visits]
    if not visits:
        return QuoteResponse(
            plan=body.plan,
            total=0,
            consumption_tax=0,
            days=[],
            monthly_fee_yen=await _monthly_fee_today(session, settings, body.plan, plan.kind),
        )
    first = min(jst_date(v.check_in) for v in visits)
    last = max(jst_date(v.check_out) for v in visits)
    prices = await load_price_table(session, settings)
    calendar = await load_calendar(session, first, last)
    try:
        days = price_dropin(visits, price_for=prices.dropin_for, hours_for=calendar.hours_for)
    except NoPriceInEffect as exc:
        raise NoTariff(str(exc), detail_ja="その日に有効な料金がありません。") from exc
    except ValueError as exc:  # e.g. a year without holiday data
        raise NoTariff(str(exc), detail_ja="その日の営業時間を求められません。") from exc
    covered = plan.kind == "monthly"
    out = [
        QuoteDay(
            date=d.date,
            billable_minutes=d.billable_minutes,
            blocks=0 if covered else d.blocks,
            uncapped=0 if covered else d.uncapped,
            cap_applied=False if covered else d.cap_applied,
            charge=0 if covered else d.charge,
            covered_by_plan=covered,
        )
        for d in days
    ]
    total = 0 if covered else quote_total(days)
    fee = await _monthly_fee_today(session, settings, body.plan, plan.kind) if covered else None
    return QuoteResponse(
        plan=body.plan,
        total=total,
        consumption_tax=consumption_tax_included(total, rounding=settings.billing_tax_rounding),
        monthly_fee_yen=fee,
        days=out,
    )


async def _monthly_fee_today(
    session: AsyncSession, settings: NetsugenSettings, plan_code: str, kind: str
) -> int | None:
    if kind != "monthly":
        return None
    prices = await load_price_table(session, settings)
    try:
        return prices.monthly_fee(plan_code, datetime.now(JST).date())
    except NoPriceInEffect:
        return None


# ---- numbering and issuing ----------------------------------------------------------------------
async def reserve_numbers(session: AsyncSession, series: str, fiscal_year: int, count: int) -> int:
    """Reserve ``count`` consecutive numbers and return the first.

    ``UPDATE … RETURNING`` row-locks the counter until the transaction ends: a concurrent issuer
    waits, so two runs never take the same numbers; a rollback gives them back, so none is skipped.
    """
    await session.execute(
        pg_insert(InvoiceCounter)
        .values(series=series, fiscal_year=fiscal_year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "fiscal_year"])
    )
    last = await session.scalar(
        update(InvoiceCounter)
        .where(InvoiceCounter.series == series, InvoiceCounter.fiscal_year == fiscal_year)
        .values(last_number=InvoiceCounter.last_number + count)
        .returning(InvoiceCounter.last_number)
    )
    assert last is not None
    return int(last) - count + 1


_ISSUE_SQL = text(
    """
    UPDATE netsugen.invoice AS i
    SET status = 'issued', number = t.number, fiscal_year = :fiscal_year, issue_date = :issue_date,
        due_date = CASE WHEN i.kind = 'invoice' THEN CAST(:due_date AS date) END,
        issued_at = now(), updated_at = now(),
        issuer_name = :issuer_name, issuer_registration_number = :registration_number,
        issuer_address = :issuer_address,
        recipient_name = m.name, recipient_kind = m.kind, recipient_member_number = m.member_number
    FROM unnest(CAST(:ids AS uuid[]), CAST(:numbers AS text[])) AS t(id, number), netsugen.member AS m
    WHERE i.id = t.id AND m.id = i.member_id AND i.status = 'draft'
    RETURNING i.id, i.member_id
    """
)


async def issue_drafts(
    session: AsyncSession,
    settings: NetsugenSettings,
    *,
    kind: str,
    issue_date: date,
    run_id: uuid.UUID | None = None,
    invoice_ids: Sequence[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Issue drafts set-wise: lock them, reserve one block of numbers, stamp them in one UPDATE.

    Numbers follow member numbers. The recipient is copied from the member now, at issue. Returns
    (invoice id, member id) of every invoice issued; ``invoice.issued`` is emitted for each.
    """
    query = (
        select(Invoice.id)
        .join(Member, Member.id == Invoice.member_id)
        .where(Invoice.status == "draft", Invoice.kind == kind)
        .order_by(Member.member_number, Invoice.id)
        .with_for_update(of=Invoice)
    )
    if run_id is not None:
        query = query.where(Invoice.run_id == run_id)
    if invoice_ids is not None:
        query = query.where(Invoice.id.in_(list(invoice_ids)))
    ids = list((await session.scalars(query)).all())
    if not ids:
        return []
    series = SERIES_INVOICE if kind == "invoice" else SERIES_CREDIT_NOTE
    fiscal_year = fiscal_year_of(issue_date)
    first = await reserve_numbers(session, series, fiscal_year, len(ids))
    numbers = [invoice_number(series, fiscal_year, first + n) for n in range(len(ids))]
    rows = (
        await session.execute(
            _ISSUE_SQL,
            {
                "ids": ids,
                "numbers": numbers,
                "fiscal_year": fiscal_year,
                "issue_date": issue_date,
                "due_date": issue_date + timedelta(days=settings.billing_payment_due_days),
                "issuer_name": settings.billing_issuer_name,
                "registration_number": settings.billing_invoice_registration_number,
                "issuer_address": settings.billing_issuer_address,
            },
        )
    ).all()
    issued = [(row.id, row.member_id) for row in rows]
    await record_audit_many(  # Core statement: the audit trail is told explicitly (shared/audit.py)
        session,
        changes=[("netsugen.invoice", i, {"status": "draft"}, {"status": "issued"}) for i, _ in issued],
    )
    if len(issued) == 1:
        await emit(session, outbox, InvoiceIssued(member_id=issued[0][1], invoice_id=issued[0][0]))
    else:
        # Ids straight from the database: construct without re-validating (thousands per run).
        await emit_many(
            session, (InvoiceIssued.model_construct(member_id=m, invoice_id=i) for i, m in issued)
        )
    return issued


async def issue_invoice(
    session: AsyncSession,
    settings: NetsugenSettings,
    invoice_id: uuid.UUID,
    *,
    issue_date: date | None = None,
) -> InvoiceOut:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"No invoice {invoice_id}.", detail_ja="請求書が見つかりません。")
    if invoice.status != "draft":
        raise InvoiceNotDraft(
            f"Invoice {invoice.number} is already {invoice.status}.",
            detail_ja=f"請求書 {invoice.number} は発行済みです。",
        )
    issued = await issue_drafts(
        session,
        settings,
        kind=invoice.kind,
        issue_date=issue_date or datetime.now(JST).date(),
        invoice_ids=[invoice_id],
    )
    if not issued:  # issued by someone else between our read and the lock
        raise InvoiceNotDraft(
            f"Invoice {invoice_id} is no longer a draft.", detail_ja="請求書は発行済みです。"
        )
    return await invoice_detail(session, invoice_id)


# ---- status, payments and credit notes ----------------------------------------------------------
def status_after(total_yen: int, credited_yen: int, paid_yen: int, refunded_yen: int = 0) -> str:
    """An issued invoice's status from its amounts. Fully credited and unpaid means void.

    What the member has paid net of refunds counts: ``paid - refunded`` against ``total - credited``.
    """
    due = total_yen - credited_yen
    net = paid_yen - refunded_yen
    if due <= 0 and paid_yen == 0:
        return "void"
    if net >= due:
        return "paid"
    if net > 0:
        return "partially_paid"
    return "issued"


async def _locked_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice:
    invoice = await session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise InvoiceNotFound(f"No invoice {invoice_id}.", detail_ja="請求書が見つかりません。")
    return invoice


def balance_of(invoice: Invoice) -> int:
    """What the member still owes: total - credited - paid + refunded (negative: owed to the member)."""
    return invoice.total_yen - invoice.credited_yen - invoice.paid_yen + invoice.refunded_yen


def check_money_date(
    day: date, *, earliest: date, today: date, settings: NetsugenSettings, what: str
) -> None:
    """A payment or refund date: not before ``earliest``, at most a few days after today."""
    latest = today + timedelta(days=settings.billing_paid_on_max_future_days)
    if not earliest <= day <= latest:
        raise MoneyDateOutOfRange(
            f"The {what} date {day.isoformat()} must be between {earliest.isoformat()} and {latest.isoformat()}.",
            detail_ja=f"日付 {day.isoformat()} は {earliest.isoformat()} から {latest.isoformat()} の間で指定してください。",
            earliest=earliest.isoformat(),
            latest=latest.isoformat(),
        )


async def record_payment(
    session: AsyncSession,
    invoice_id: uuid.UUID,
    body: PaymentCreate,
    principal: Principal,
    *,
    settings: NetsugenSettings | None = None,
    today: date | None = None,
) -> PaymentResult:
    """Record a payment, number its receipt (領収書) and announce it (``payment.recorded``)."""
    from services.netsugen_booking.settings import get_settings

    settings = settings or get_settings()
    today = today or datetime.now(JST).date()
    invoice = await _locked_invoice(session, invoice_id)
    if invoice.kind != "invoice" or invoice.status in ("draft", "void"):
        what = "a credit note" if invoice.kind != "invoice" else invoice.status
        raise InvoiceNotPayable(
            f"Invoice {invoice.number or invoice.id} is {what} and cannot take payments.",
            detail_ja="この請求書には入金を記録できません（下書き・取消・返還インボイス）。",
        )
    check_money_date(
        body.paid_on,
        earliest=max(EARLIEST_MONEY_DATE, invoice.period_start),
        today=today,
        settings=settings,
        what="payment",
    )
    balance = balance_of(invoice)
    if body.amount_yen > balance:
        raise Overpayment(
            f"The payment of {body.amount_yen} yen exceeds the balance of {max(balance, 0)} yen.",
            detail_ja=f"入金額 {body.amount_yen:,}円 が残高 {max(balance, 0):,}円 を超えています。",
            balance_yen=max(balance, 0),
        )
    fiscal_year = fiscal_year_of(today)
    receipt = invoice_number(
        SERIES_RECEIPT, fiscal_year, await reserve_numbers(session, SERIES_RECEIPT, fiscal_year, 1)
    )
    payment = InvoicePayment(
        invoice_id=invoice.id,
        method=body.method,
        amount_yen=body.amount_yen,
        paid_on=body.paid_on,
        reference=body.reference,
        recorded_by=principal.name,
        receipt_number=receipt,
    )
    session.add(payment)
    invoice.paid_yen += body.amount_yen
    invoice.status = status_after(
        invoice.total_yen, invoice.credited_yen, invoice.paid_yen, invoice.refunded_yen
    )
    await session.flush()
    await emit(
        session,
        outbox,
        PaymentRecorded(member_id=invoice.member_id, invoice_id=invoice.id, payment_id=payment.id),
    )
    await session.refresh(payment)
    await session.refresh(invoice)
    return PaymentResult(
        id=payment.id, receipt_number=receipt, payment=_payment_out(payment), invoice=_summary(invoice)
    )


async def record_refund(
    session: AsyncSession,
    document_id: uuid.UUID,
    body: RefundCreate,
    principal: Principal,
    *,
    settings: NetsugenSettings,
    today: date,
) -> RefundResult:
    """Pay money back against an invoice, or against a credit note (then its original invoice).

    Only what the member is owed can be refunded: ``-(total - credited - paid + refunded)``, so
    the balance comes back to zero and never goes silently negative.
    """
    document = await session.get(Invoice, document_id)
    if document is None:
        raise InvoiceNotFound(f"No invoice {document_id}.", detail_ja="請求書が見つかりません。")
    credit_note_id = None
    invoice_id = document.id
    if document.kind == "credit_note":
        assert document.credited_invoice_id is not None
        credit_note_id, invoice_id = document.id, document.credited_invoice_id
    invoice = await _locked_invoice(session, invoice_id)
    if invoice.status == "draft":
        raise InvoiceNotPayable(
            f"Invoice {invoice.id} is a draft: nothing was paid.",
            detail_ja="下書きの請求書には返金できません。",
        )
    check_money_date(
        body.refunded_on, earliest=EARLIEST_MONEY_DATE, today=today, settings=settings, what="refund"
    )
    owed = -balance_of(invoice)
    if body.amount_yen > owed:
        raise RefundExceedsCredit(
            f"The refund of {body.amount_yen} yen exceeds the {max(owed, 0)} yen owed to the member on "
            f"{invoice.number}.",
            detail_ja=f"返金額 {body.amount_yen:,}円 が請求書 {invoice.number} の返金可能額 {max(owed, 0):,}円 を超えています。",
            refundable_yen=max(owed, 0),
        )
    refund = InvoiceRefund(
        invoice_id=invoice.id,
        credit_note_id=credit_note_id,
        method=body.method,
        amount_yen=body.amount_yen,
        refunded_on=body.refunded_on,
        reference=body.reference,
        reason=body.reason,
        recorded_by=principal.name,
    )
    session.add(refund)
    invoice.refunded_yen += body.amount_yen
    invoice.status = status_after(
        invoice.total_yen, invoice.credited_yen, invoice.paid_yen, invoice.refunded_yen
    )
    await session.flush()
    await session.refresh(refund)
    await session.refresh(invoice)
    return RefundResult(refund=_refund_out(refund), invoice=_summary(invoice))


async def bulk_issue(
    session: AsyncSession,
    settings: NetsugenSettings,
    *,
    issue_date: date,
    period: str | None = None,
    invoice_ids: Sequence[uuid.UUID] | None = None,
) -> BulkIssueResult:
    """Issue drafts (of a month, or named ones) set-wise; invoices first, then credit notes."""
    ids = list(invoice_ids) if invoice_ids is not None else None
    if period is not None:
        year, month = (int(x) for x in period.split("-"))
        ids = list(
            (
                await session.scalars(
                    select(Invoice.id).where(
                        Invoice.status == "draft", Invoice.period_start == date(year, month, 1)
                    )
                )
            ).all()
        )
    if not ids:
        return BulkIssueResult(issued=0, numbers=[])
    issued: list[uuid.UUID] = []
    for kind in ("invoice", "credit_note"):
        issued.extend(
            i
            for i, _ in await issue_drafts(
                session, settings, kind=kind, issue_date=issue_date, invoice_ids=ids
            )
        )
    numbers = (
        await session.scalars(select(Invoice.number).where(Invoice.id.in_(issued)).order_by(Invoice.number))
    ).all()
    return BulkIssueResult(issued=len(issued), numbers=[n for n in numbers if n])


async def create_credit_note(
    session: AsyncSession,
    settings: NetsugenSettings,
    invoice_id: uuid.UUID,
    body: CreditNoteCreate,
    principal: Principal,
    *,
    issue_date: date | None = None,
) -> InvoiceOut:
    """A credit note (返還インボイス) linked to an issued invoice, with its own number and tax."""
    original = await _locked_invoice(session, invoice_id)
    if original.kind != "invoice" or original.status in ("draft", "void"):
        raise InvoiceNotCreditable(
            f"Invoice {original.number or original.id} is {original.kind}/{original.status}: only issued "
            "invoices can be credited.",
            detail_ja="発行済みの請求書だけが返還インボイスの対象です。",
        )
    creditable = original.total_yen - original.credited_yen
    credit_lines: list[dict[str, Any]] = []
    if body.full:
        if original.credited_yen == 0:
            lines = (
                await session.scalars(
                    select(InvoiceLine)
                    .where(InvoiceLine.invoice_id == original.id)
                    .order_by(InvoiceLine.position)
                )
            ).all()
            for line in lines:
                if line.amount_yen == 0:
                    continue
                credit_lines.append(
                    {
                        "description": f"取消: {line.description}"[:300],
                        "amount_yen": -line.amount_yen,
                        "plan_code": line.plan_code,
                        "service_date": line.service_date,
                        "period_start": line.period_start,
                        "period_end": line.period_end,
                        "member_user_id": line.member_user_id,
                    }
                )
        elif creditable > 0:
            credit_lines.append(
                {"description": f"取消: 請求書 {original.number} の残額", "amount_yen": -creditable}
            )
    else:
        credit_lines = [
            {"description": line.description, "amount_yen": -line.amount_yen} for line in body.lines
        ]
    amount = -sum(line["amount_yen"] for line in credit_lines)
    if amount <= 0 or amount > creditable:
        raise CreditExceedsInvoice(
            f"The credit of {amount} yen exceeds what is left to credit on {original.number} ({creditable} yen).",
            detail_ja=f"返還額 {amount:,}円 が請求書 {original.number} の返還可能額 {creditable:,}円 を超えています。",
            creditable_yen=creditable,
        )
    total = -amount
    note = Invoice(
        kind="credit_note",
        member_id=original.member_id,
        period_start=original.period_start,
        period_end=original.period_end,
        status="draft",
        recipient_name=original.recipient_name,
        recipient_kind=original.recipient_kind,
        recipient_member_number=original.recipient_member_number,
        total_yen=total,
        tax_rate_percent=TAX_RATE_PERCENT,
        tax_yen=consumption_tax_included(
            total, rate_percent=TAX_RATE_PERCENT, rounding=settings.billing_tax_rounding
        ),
        tax_rounding=settings.billing_tax_rounding,
        credited_invoice_id=original.id,
        reason=body.reason,
        created_by=principal.name,
    )
    session.add(note)
    await session.flush()
    await session.execute(
        pg_insert(InvoiceLine),
        [
            {
                "invoice_id": note.id,
                "position": n,
                "kind": "credit",
                "tax_rate_percent": TAX_RATE_PERCENT,
                **line,
            }
            for n, line in enumerate(credit_lines, start=1)
        ],
    )
    await issue_drafts(
        session,
        settings,
        kind="credit_note",
        issue_date=issue_date or datetime.now(JST).date(),
        invoice_ids=[note.id],
    )
    original.credited_yen += amount
    original.status = status_after(
        original.total_yen, original.credited_yen, original.paid_yen, original.refunded_yen
    )
    await session.flush()
    if original.credited_yen >= original.total_yen:
        await release_items(session, original.id)
    return await invoice_detail(session, note.id)


async def release_items(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    """A void or fully credited invoice no longer bills its items: the next run bills them again."""
    result = await session.execute(delete(BilledItem).where(BilledItem.invoice_id == invoice_id))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- the daily cap event ------------------------------------------------------------------------
_CAP_INPUTS_SQL = """
    SELECT 'a' AS k, a.plan_code, a.start_date, a.end_date, p.kind,
           NULL::uuid AS member_user_id, NULL::timestamptz AS check_in_at, NULL::timestamptz AS check_out_at
      FROM netsugen.plan_assignment a JOIN netsugen.plan p ON p.code = a.plan_code
     WHERE a.member_id = $1 AND a.start_date <= $2
    UNION ALL
    SELECT 'v', NULL, NULL, NULL, NULL, v.member_user_id, v.check_in_at, v.check_out_at
      FROM netsugen.visit v
     WHERE v.member_id = $1 AND v.check_out_at IS NOT NULL AND v.check_in_at < $4 AND v.check_out_at > $3
"""


async def record_daily_cap_if_reached(
    session: AsyncSession, member_id: uuid.UUID, day: date, *, settings: NetsugenSettings | None = None
) -> bool:
    """Record and announce (``visit.daily_cap_reached``) that a member's drop-in day reached the cap.

    Call it after a check-out (or a visit correction). Idempotent: the (member, day) primary key
    makes the event fire at most once per member per day. Days a monthly plan covers never reach
    a cap. Returns True when this call recorded the day.
    """
    from services.netsugen_booking.settings import get_settings

    settings = settings or get_settings()
    start, end = start_of_day_jst(day), start_of_day_jst(day + timedelta(days=1))
    # The member's plan assignments up to the day and the person's closed visits of the day, in one
    # round trip (this runs after every check-out).
    rows = await (await transaction_driver(session)).fetch(_CAP_INPUTS_SQL, member_id, day, start, end)
    spans = monthly_spans(
        Assignment(r["plan_code"], r["start_date"], r["end_date"], r["kind"]) for r in rows if r["k"] == "a"
    )
    if any(s.start <= day and (s.end is None or day <= s.end) for s in spans):
        return False
    rows = sorted(
        (r for r in rows if r["k"] == "v"), key=lambda r: (str(r["member_user_id"]), r["check_in_at"])
    )
    if not rows:
        return False
    people: dict[uuid.UUID | None, list[Visit]] = {}
    for r in rows:
        people.setdefault(r["member_user_id"], []).append(Visit(r["check_in_at"], r["check_out_at"]))
    # Both from process memory while their notification channels vouch for them (one check-out
    # after another asks for the same prices and the same day's hours).
    prices = await cached_price_table(session, settings)
    days = {day} | {jst_date(t) for vs in people.values() for v in vs for t in (v.check_in, v.check_out)}
    hours = {d: await hours_on(session, d) for d in days}
    try:
        reached = any(
            cap_reached(charge, prices)
            for visits in people.values()
            for charge in dropin_charges(
                visits,
                spans=spans,
                period_start=day,
                period_end=day,
                prices=prices,
                hours_for=hours.__getitem__,
            )
        )
    except NoPriceInEffect:
        return False
    if not reached:
        return False
    inserted = await session.scalar(
        pg_insert(DailyCapReached)
        .values(member_id=member_id, day=day)
        .on_conflict_do_nothing()
        .returning(DailyCapReached.member_id)
    )
    if inserted is None:
        return False
    await emit(session, outbox, VisitDailyCapReached(member_id=member_id, day=day))
    return True


async def record_daily_caps(session: AsyncSession, pairs: Sequence[tuple[uuid.UUID, date]]) -> int:
    """Set-wise form for the invoice run: record the (member, day) pairs, announce the new ones."""
    if not pairs:
        return 0
    new: list[tuple[uuid.UUID, date]] = []
    for start in range(0, len(pairs), _EMIT_BATCH):
        chunk = pairs[start : start + _EMIT_BATCH]
        rows = (
            await session.execute(
                text(
                    "INSERT INTO netsugen.daily_cap_reached (member_id, day) "
                    "SELECT * FROM unnest(CAST(:members AS uuid[]), CAST(:days AS date[])) "
                    "ON CONFLICT DO NOTHING RETURNING member_id, day"
                ),
                {"members": [m for m, _ in chunk], "days": [d for _, d in chunk]},
            )
        ).all()
        new.extend((r.member_id, r.day) for r in rows)
    await emit_many(session, (VisitDailyCapReached.model_construct(member_id=m, day=d) for m, d in new))
    return len(new)


# ---- reads --------------------------------------------------------------------------------------
def can_read(principal: Principal, member_id: uuid.UUID) -> bool:
    return principal.is_staff or principal.role == "service" or principal.can_act_for_member(member_id)


def _period(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _summary(invoice: Invoice) -> InvoiceSummary:
    balance = 0 if invoice.kind != "invoice" else balance_of(invoice)
    return InvoiceSummary(
        id=invoice.id,
        kind=invoice.kind,  # type: ignore[arg-type]
        number=invoice.number,
        status=invoice.status,  # type: ignore[arg-type]
        member_id=invoice.member_id,
        period=_period(invoice.period_start),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        recipient_name=invoice.recipient_name,
        total_yen=invoice.total_yen,
        tax_rate_percent=invoice.tax_rate_percent,
        tax_yen=invoice.tax_yen,
        paid_yen=invoice.paid_yen,
        credited_yen=invoice.credited_yen,
        refunded_yen=invoice.refunded_yen,
        balance_yen=balance,
        credited_invoice_id=invoice.credited_invoice_id,
    )


def _payment_out(p: InvoicePayment) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        invoice_id=p.invoice_id,
        method=p.method,  # type: ignore[arg-type]
        amount_yen=p.amount_yen,
        paid_on=p.paid_on,
        reference=p.reference,
        recorded_by=p.recorded_by,
        created_at=p.created_at,
        receipt_number=p.receipt_number,
    )


def _refund_out(r: InvoiceRefund) -> RefundOut:
    return RefundOut(
        id=r.id,
        invoice_id=r.invoice_id,
        credit_note_id=r.credit_note_id,
        method=r.method,  # type: ignore[arg-type]
        amount_yen=r.amount_yen,
        refunded_on=r.refunded_on,
        reference=r.reference,
        reason=r.reason,
        recorded_by=r.recorded_by,
        created_at=r.created_at,
    )


def _line_out(line: InvoiceLine) -> InvoiceLineOut:
    return InvoiceLineOut(
        position=line.position,
        kind=line.kind,  # type: ignore[arg-type]
        description=line.description,
        plan_code=line.plan_code,
        service_date=line.service_date,
        period_start=line.period_start,
        period_end=line.period_end,
        member_user_id=line.member_user_id,
        minutes=line.minutes,
        blocks=line.blocks,
        uncapped_yen=line.uncapped_yen,
        cap_applied=line.cap_applied,
        amount_yen=line.amount_yen,
        tax_rate_percent=line.tax_rate_percent,
        corrects=line.corrects,
    )


async def _get_visible(session: AsyncSession, invoice_id: uuid.UUID, principal: Principal | None) -> Invoice:
    invoice = await session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    )
    # Another member's invoice (or a draft, for a member) is reported as missing: no existence leak.
    if invoice is None or (
        principal is not None
        and (
            not can_read(principal, invoice.member_id)
            or (principal.role == "member" and invoice.status == "draft")
        )
    ):
        raise InvoiceNotFound(f"No invoice {invoice_id}.", detail_ja="請求書が見つかりません。")
    return invoice


async def invoice_detail(
    session: AsyncSession, invoice_id: uuid.UUID, principal: Principal | None = None
) -> InvoiceOut:
    invoice = await _get_visible(session, invoice_id, principal)
    lines = (
        await session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        )
    ).all()
    payments = (
        await session.scalars(
            select(InvoicePayment)
            .where(InvoicePayment.invoice_id == invoice.id)
            .order_by(InvoicePayment.paid_on, InvoicePayment.created_at)
        )
    ).all()
    refunds = (
        await session.scalars(
            select(InvoiceRefund)
            .where(InvoiceRefund.invoice_id == invoice.id)
            .order_by(InvoiceRefund.refunded_on, InvoiceRefund.created_at)
        )
    ).all()
    notes = (
        await session.scalars(
            select(Invoice)
            .where(Invoice.credited_invoice_id == invoice.id)
            .order_by(Invoice.issue_date, Invoice.number)
            .execution_options(populate_existing=True)
        )
    ).all()
    return InvoiceOut(
        **_summary(invoice).model_dump(),
        recipient_kind=invoice.recipient_kind,
        recipient_member_number=invoice.recipient_member_number,
        issuer_name=invoice.issuer_name,
        issuer_registration_number=invoice.issuer_registration_number,
        issuer_address=invoice.issuer_address,
        tax_rounding=invoice.tax_rounding,
        reason=invoice.reason,
        lines=[_line_out(line) for line in lines],
        payments=[_payment_out(p) for p in payments],
        refunds=[_refund_out(r) for r in refunds],
        credit_notes=[_summary(n) for n in notes],
    )


async def list_invoices(
    session: AsyncSession,
    principal: Principal,
    *,
    member_id: uuid.UUID | None = None,
    period: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> InvoiceList:
    """Newest first (created_at, id). A member sees only its own non-draft invoices."""
    query = select(Invoice)
    if principal.role == "member":
        own = uuid.UUID(principal.subject) if principal.subject and _is_uuid(principal.subject) else None
        if own is None or (member_id is not None and member_id != own):
            return InvoiceList(items=[], next_cursor=None)
        query = query.where(Invoice.member_id == own, Invoice.status != "draft")
    elif member_id is not None:
        query = query.where(Invoice.member_id == member_id)
    if period is not None:
        year, month = (int(x) for x in period.split("-"))
        query = query.where(Invoice.period_start == date(year, month, 1))
    if status is not None:
        query = query.where(Invoice.status == status)
    if kind is not None:
        query = query.where(Invoice.kind == kind)
    rows, next_cursor = await paginate(
        session,
        query,
        (Invoice.created_at, Invoice.id),
        limit=limit,
        cursor=cursor,
        descending=True,
        scalars=True,
    )
    return InvoiceList(items=[_summary(r) for r in rows], next_cursor=next_cursor)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def overdue_invoices(
    session: AsyncSession, *, as_of: date | None = None, limit: int = 500
) -> OverdueList:
    """Issued or partly paid invoices whose due date has passed with a balance left, oldest first."""
    today = as_of or datetime.now(JST).date()
    rows = (
        await session.scalars(
            select(Invoice)
            .where(
                Invoice.kind == "invoice",
                Invoice.status.in_(("issued", "partially_paid")),
                Invoice.due_date < today,
                Invoice.total_yen - Invoice.credited_yen - Invoice.paid_yen + Invoice.refunded_yen > 0,
            )
            .order_by(Invoice.due_date, Invoice.number)
            .limit(limit)
        )
    ).all()
    items = []
    for r in rows:
        assert r.due_date is not None
        items.append(OverdueInvoice(**_summary(r).model_dump(), days_overdue=(today - r.due_date).days))
    return OverdueList(items=items, as_of=today)


# ---- CSV export ---------------------------------------------------------------------------------
CSV_COLUMNS = (
    "invoice_number",
    "kind",
    "status",
    "issue_date",
    "due_date",
    "period",
    "member_id",
    "member_number",
    "recipient_name",
    "invoice_total_yen",
    "tax_rate_percent",
    "invoice_tax_yen",
    "paid_yen",
    "credited_yen",
    "credited_invoice_number",
    "line_position",
    "line_kind",
    "line_description",
    "plan_code",
    "service_date",
    "minutes",
    "blocks",
    "cap_applied",
    "line_amount_yen",
    "record_type",
    "method",
    "receipt_number",
    "refunded_yen",
)
MAX_EXPORT_DAYS = 366


def check_export_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InvalidDateRange("'to' is before 'from'.", detail_ja="終了日が開始日より前です。")
    if (date_to - date_from).days >= MAX_EXPORT_DAYS:
        raise InvalidDateRange(
            f"The range may span at most {MAX_EXPORT_DAYS} days.",
            detail_ja=f"期間は最大 {MAX_EXPORT_DAYS} 日です。",
        )


async def export_csv(
    maker: async_sessionmaker[AsyncSession], date_from: date, date_to: date
) -> AsyncIterator[bytes]:
    """Issued invoices and credit notes by issue date (inclusive), one row per line, streamed.

    UTF-8 with a BOM so that Excel in Japanese opens it correctly.
    """
    original = cast(Table, Invoice.__table__).alias("original")
    note = cast(Table, Invoice.__table__).alias("note")
    query = (
        select(
            Invoice.number,
            Invoice.kind,
            Invoice.status,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.period_start,
            Invoice.member_id,
            Invoice.recipient_member_number,
            Invoice.recipient_name,
            Invoice.total_yen,
            Invoice.tax_rate_percent,
            Invoice.tax_yen,
            Invoice.paid_yen,
            Invoice.credited_yen,
            Invoice.refunded_yen,
            original.c.number.label("original_number"),
            InvoiceLine.position,
            InvoiceLine.kind.label("line_kind"),
            InvoiceLine.description,
            InvoiceLine.plan_code,
            InvoiceLine.service_date,
            InvoiceLine.minutes,
            InvoiceLine.blocks,
            InvoiceLine.cap_applied,
            InvoiceLine.amount_yen,
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .outerjoin(original, original.c.id == Invoice.credited_invoice_id)
        .where(Invoice.status != "draft", Invoice.issue_date >= date_from, Invoice.issue_date <= date_to)
        .order_by(Invoice.issue_date, Invoice.number, InvoiceLine.position)
        .execution_options(yield_per=2000)
    )
    writer = CsvWriter(lineterminator="\r\n")
    writer.row(CSV_COLUMNS)
    yield ("\ufeff" + writer.take()).encode()
    async with maker() as session:
        result = await session.stream(query)
        async for partition in result.partitions(2000):
            for r in partition:
                writer.row(
                    [
                        r.number,
                        r.kind,
                        r.status,
                        r.issue_date,
                        r.due_date or "",
                        _period(r.period_start),
                        r.member_id,
                        r.recipient_member_number,
                        r.recipient_name,
                        r.total_yen,
                        r.tax_rate_percent,
                        r.tax_yen,
                        r.paid_yen,
                        r.credited_yen,
                        r.original_number or "",
                        r.position,
                        r.line_kind,
                        r.description,
                        r.plan_code or "",
                        r.service_date or "",
                        "" if r.minutes is None else r.minutes,
                        "" if r.blocks is None else r.blocks,
                        "" if r.cap_applied is None else str(r.cap_applied).lower(),
                        r.amount_yen,
                        "line",
                        "",
                        "",
                        r.refunded_yen,
                    ]
                )
            yield writer.take().encode()
        # Money: one row per payment (by paid_on) and per refund (by refunded_on, negative), each with
        # the invoice's number; line_position is empty, service_date is the day of the money.
        money = (
            select(
                literal("payment").label("record_type"),
                InvoicePayment.method,
                InvoicePayment.amount_yen,
                InvoicePayment.paid_on.label("day"),
                InvoicePayment.receipt_number,
                InvoicePayment.reference,
                literal(None, String).label("credit_note_number"),
                *_MONEY_INVOICE_COLUMNS,
            )
            .join(Invoice, Invoice.id == InvoicePayment.invoice_id)
            .where(InvoicePayment.paid_on >= date_from, InvoicePayment.paid_on <= date_to)
        ).union_all(
            select(
                literal("refund").label("record_type"),
                InvoiceRefund.method,
                -InvoiceRefund.amount_yen,
                InvoiceRefund.refunded_on,
                literal(None, String),
                InvoiceRefund.reference,
                note.c.number,
                *_MONEY_INVOICE_COLUMNS,
            )
            .join(Invoice, Invoice.id == InvoiceRefund.invoice_id)
            .outerjoin(note, note.c.id == InvoiceRefund.credit_note_id)
            .where(InvoiceRefund.refunded_on >= date_from, InvoiceRefund.refunded_on <= date_to)
        )
        ordered = money.subquery()
        result = await session.stream(
            select(ordered).order_by(ordered.c.day, ordered.c.number, ordered.c.record_type)
        )
        async for partition in result.partitions(2000):
            for r in partition:
                kind_ja = "入金" if r.record_type == "payment" else "返金"
                what = (
                    f"{kind_ja} {METHOD_LABELS_JA.get(r.method, r.method)}"
                    + (f" {r.reference}" if r.reference else "")
                    + (f" 返還インボイス {r.credit_note_number}" if r.credit_note_number else "")
                )
                writer.row(
                    [
                        r.number,
                        r.kind,
                        r.status,
                        r.issue_date,
                        r.due_date or "",
                        _period(r.period_start),
                        r.member_id,
                        r.recipient_member_number,
                        r.recipient_name,
                        r.total_yen,
                        r.tax_rate_percent,
                        r.tax_yen,
                        r.paid_yen,
                        r.credited_yen,
                        "",
                        "",
                        r.record_type,
                        what,
                        "",
                        r.day,
                        "",
                        "",
                        "",
                        r.amount_yen,
                        r.record_type,
                        r.method,
                        r.receipt_number or "",
                        r.refunded_yen,
                    ]
                )
            yield writer.take().encode()


_MONEY_INVOICE_COLUMNS = (
    Invoice.number,
    Invoice.kind,
    Invoice.status,
    Invoice.issue_date,
    Invoice.due_date,
    Invoice.period_start,
    Invoice.member_id,
    Invoice.recipient_member_number,
    Invoice.recipient_name,
    Invoice.total_yen,
    Invoice.tax_rate_percent,
    Invoice.tax_yen,
    Invoice.paid_yen,
    Invoice.credited_yen,
    Invoice.refunded_yen,
)


# ---- the printable document (請求書) -------------------------------------------------------------
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _yen(amount: int) -> str:
    """¥1,000 / -¥250 (format_yen would print ¥-250)."""
    return f"-{format_yen(-amount)}" if amount < 0 else format_yen(amount)


_TEMPLATES.filters["yen"] = _yen


def _jp_date(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


_TEMPLATES.filters["jp_date"] = _jp_date

#: The documents' one stylesheet, inlined (a printed or saved page must stand alone) and allowed by
#: its hash: the documents' Content-Security-Policy has no 'unsafe-inline' and no script at all.
_DOCUMENT_CSS = (Path(__file__).parent / "templates" / "document.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(_DOCUMENT_CSS.encode()).digest()).decode()
DOCUMENT_CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
METHOD_LABELS_JA = {"cash": "現金", "card": "カード", "bank_transfer": "銀行振込"}


async def render_document(
    session: AsyncSession, invoice_id: uuid.UUID, principal: Principal, settings: NetsugenSettings
) -> str:
    detail = await invoice_detail(session, invoice_id, principal)
    original_number = None
    if detail.credited_invoice_id is not None:
        original_number = await session.scalar(
            select(Invoice.number).where(Invoice.id == detail.credited_invoice_id)
        )
    user_ids = {line.member_user_id for line in detail.lines if line.member_user_id}
    users: dict[uuid.UUID, str] = {}
    if user_ids:
        users = {
            r.id: r.name
            for r in (
                await session.execute(
                    select(MemberUser.id, MemberUser.name).where(MemberUser.id.in_(user_ids))
                )
            ).all()
        }
    template = _TEMPLATES.get_template("invoice.html.j2")
    return template.render(
        css=Markup(_DOCUMENT_CSS),
        bank={
            "name": settings.billing_bank_name,
            "branch": settings.billing_bank_branch,
            "account_type": settings.billing_bank_account_type,
            "number": settings.billing_bank_account_number,
            "holder_kana": settings.billing_bank_account_holder_kana,
        },
        invoice=detail,
        original_number=original_number,
        users=users,
        honorific="御中" if detail.recipient_kind == "corporate" else "様",
        is_credit_note=detail.kind == "credit_note",
        taxable_total=detail.total_yen,
        payment_instructions=settings.billing_payment_instructions,
        status_label=STATUS_LABELS_JA.get(detail.status, detail.status),
    )


STATUS_LABELS_JA = {
    "draft": "下書き（未発行）",
    "issued": "未入金",
    "paid": "入金済",
    "partially_paid": "一部入金",
    "void": "取消",
}


async def render_receipt(
    session: AsyncSession, payment_id: uuid.UUID, principal: Principal, settings: NetsugenSettings
) -> str:
    """The printable 領収書 of a payment: number, dates, payer, amount, 但し書き, tax included."""
    payment = await session.get(InvoicePayment, payment_id)
    invoice = await _get_visible(session, payment.invoice_id, principal) if payment is not None else None
    if payment is None or invoice is None:
        raise PaymentNotFound(f"No payment {payment_id}.", detail_ja="入金記録が見つかりません。")
    template = _TEMPLATES.get_template("receipt.html.j2")
    return template.render(
        css=Markup(_DOCUMENT_CSS),
        payment=payment,
        invoice=invoice,
        issued_on=jst_date(payment.created_at),
        honorific="御中" if invoice.recipient_kind == "corporate" else "様",
        purpose=settings.billing_receipt_purpose,
        method_label=METHOD_LABELS_JA.get(payment.method, payment.method),
        tax_yen=consumption_tax_included(
            payment.amount_yen,
            rate_percent=invoice.tax_rate_percent,
            rounding=invoice.tax_rounding,  # type: ignore[arg-type]
        ),
    )
