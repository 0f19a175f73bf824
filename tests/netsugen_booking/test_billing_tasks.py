"""The scheduled monthly run (00:30 JST on the 1st, whatever the worker's timezone) and the bulk
outbox rows it writes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.bulk import event_payload
from services.netsugen_booking.billing.invoice_run import Period
from services.netsugen_booking.billing.tasks import CRON_JOBS, due_period, monthly_invoice_run
from services.netsugen_booking.settings import NetsugenSettings
from shared.events import Event, InvoiceIssued, VisitDailyCapReached, make_event, parse_data
from tests.netsugen_booking.test_billing_factories import jst, make_member, scalar, visit


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (jst(2026, 12, 1, 0, 30), Period(2026, 11)),
        (jst(2026, 12, 1, 0, 29), None),
        (jst(2026, 12, 1, 9, 30), Period(2026, 11)),  # a later tick on the 1st catches up
        (jst(2026, 12, 2, 0, 30), None),
        (jst(2027, 1, 1, 0, 30), Period(2026, 12)),
        (datetime(2026, 11, 30, 15, 30, tzinfo=UTC), Period(2026, 11)),  # = 12/1 00:30 JST
        (datetime(2026, 12, 1, 0, 30, tzinfo=UTC), Period(2026, 11)),  # = 12/1 09:30 JST
        (datetime(2026, 11, 30, 15, 29, tzinfo=UTC), None),
    ],
)
def test_due_period(now: datetime, expected: Period | None) -> None:
    assert due_period(now) == expected


def test_cron_ticks_hourly_at_half_past() -> None:
    [job] = CRON_JOBS
    assert (job.name, job.minute, job.hour, job.day) == ("billing.monthly_invoice_run", 30, None, None)


def test_bulk_event_rows_match_make_event() -> None:
    data = VisitDailyCapReached.model_construct(member_id=uuid.uuid4(), day=date(2026, 10, 8))
    payload = event_payload(uuid.uuid4(), data, "2026-11-01T00:00:00Z")
    event = Event.model_validate(payload)
    assert parse_data(event) == VisitDailyCapReached(member_id=data.member_id, day=date(2026, 10, 8))
    reference = make_event(InvoiceIssued(member_id=uuid.uuid4(), invoice_id=uuid.uuid4())).model_dump(mode="json")
    assert set(payload) == set(reference)


async def test_scheduled_run_bills_the_previous_month_once(
    db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    member = await make_member(db)
    await visit(db, member, jst(2026, 11, 4, 10), 61)
    await db.commit()
    ctx = {"sessionmaker": sessionmaker, "settings": NetsugenSettings()}
    assert await monthly_invoice_run(ctx, now=jst(2026, 11, 30, 23, 30)) == {
        "skipped": "not the 1st of the month (JST)"
    }
    result = await monthly_invoice_run(ctx, now=jst(2026, 12, 1, 0, 30))
    assert result == {"period": "2026-11", "invoices_created": 1, "total_yen": 500}
    assert await monthly_invoice_run(ctx, now=jst(2026, 12, 1, 1, 30)) == {"skipped": "2026-11 already billed"}
    assert await scalar(db, "SELECT number FROM netsugen.invoice") == "NS-2026-000001"
    assert await scalar(db, "SELECT trigger FROM netsugen.invoice_run") == "schedule"
