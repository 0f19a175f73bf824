"""Overdue reminders (督促): after the due date, at the configured intervals, each stage once.

``BILLING_REMINDER_DAYS`` (default 7, 21, 45) are days after the due date. Each hourly tick sends,
for every invoice still owing money, the highest stage it has reached if that stage was not sent
yet: an invoice first seen 50 days overdue gets the 45-day reminder only, not three at once. The
primary key (invoice, stage) of ``invoice_reminder`` makes a stage go out at most once, whatever
the number of workers or ticks; the ``invoice.overdue_reminder`` event (the notifier's email) is
written in the same statement's transaction. A paid (or fully credited) invoice has no balance:
it is never reminded again.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.billing.bulk import emit_many
from services.netsugen_booking.billing.models import Invoice, InvoiceReminder
from services.netsugen_booking.billing.schemas import ReminderList, ReminderOut
from services.netsugen_booking.settings import NetsugenSettings
from shared.events import InvoiceOverdueReminder
from shared.pagination import paginate

_SEND_SQL = text(
    """
    INSERT INTO netsugen.invoice_reminder (invoice_id, stage_days, member_id, due_date, balance_yen)
    SELECT i.id, s.stage, i.member_id, i.due_date,
           i.total_yen - i.credited_yen - i.paid_yen + i.refunded_yen
    FROM netsugen.invoice AS i
    CROSS JOIN LATERAL (
        SELECT max(d) AS stage FROM unnest(CAST(:days AS integer[])) AS d WHERE i.due_date + d <= :today
    ) AS s
    WHERE i.kind = 'invoice' AND i.status IN ('issued', 'partially_paid')
      AND i.due_date <= CAST(:today AS date) - CAST(:first AS integer)
      AND s.stage IS NOT NULL
      AND i.total_yen - i.credited_yen - i.paid_yen + i.refunded_yen > 0
    ON CONFLICT DO NOTHING
    RETURNING invoice_id, stage_days, member_id, balance_yen
    """
)


async def send_overdue_reminders(session: AsyncSession, settings: NetsugenSettings, *, today: date) -> int:
    """Record and announce every reminder due ``today`` (JST); returns how many were sent."""
    days = sorted(settings.billing_reminder_days)
    rows = (await session.execute(_SEND_SQL, {"days": days, "today": today, "first": days[0]})).all()
    await emit_many(
        session,
        (
            InvoiceOverdueReminder(
                member_id=r.member_id,
                invoice_id=r.invoice_id,
                stage_days=r.stage_days,
                balance_yen=r.balance_yen,
            )
            for r in rows
        ),
    )
    return len(rows)


async def list_reminders(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None = None,
    invoice_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> ReminderList:
    """Who was reminded when, newest first."""
    query = select(InvoiceReminder, Invoice.number, Invoice.recipient_name).join(
        Invoice, Invoice.id == InvoiceReminder.invoice_id
    )
    if member_id is not None:
        query = query.where(InvoiceReminder.member_id == member_id)
    if invoice_id is not None:
        query = query.where(InvoiceReminder.invoice_id == invoice_id)
    rows, next_cursor = await paginate(
        session,
        query,
        (InvoiceReminder.sent_at, InvoiceReminder.invoice_id, InvoiceReminder.stage_days),
        limit=limit,
        cursor=cursor,
        descending=True,
        key=lambda row: (row[0].sent_at, row[0].invoice_id, row[0].stage_days),
    )
    return ReminderList(
        items=[
            ReminderOut(
                invoice_id=r.invoice_id,
                invoice_number=number,
                member_id=r.member_id,
                recipient_name=name,
                stage_days=r.stage_days,
                due_date=r.due_date,
                balance_yen=r.balance_yen,
                sent_at=r.sent_at,
            )
            for r, number, name in rows
        ],
        next_cursor=next_cursor,
    )
