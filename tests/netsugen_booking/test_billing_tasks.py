"""The scheduled monthly run (00:30 JST on the 1st, whatever the worker's timezone) and the bulk
outbox rows it writes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.bulk import event_payload
from services.netsugen_booking.billing.invoice_run import Period
from services.netsugen_booking.billing.tasks import CRON_JOBS, monthly_invoice_run, months_to_check
from services.netsugen_booking.settings import NetsugenSettings
from shared.events import Event, InvoiceIssued, VisitDailyCapReached, make_event, parse_data
from tests.netsugen_booking.test_billing_factories import jst, make_member, scalar, visit


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (jst(2026, 12, 1, 0, 30), [Period(2026, 9), Period(2026, 10), Period(2026, 11)]),
        (jst(2026, 12, 17, 9, 30), [Period(2026, 9), Period(2026, 10), Period(2026, 11)]),
        (jst(2027, 1, 1, 0, 30), [Period(2026, 10), Period(2026, 11), Period(2026, 12)]),
        (datetime(2026, 11, 30, 15, 30, tzinfo=UTC), [Period(2026, 9), Period(2026, 10), Period(2026, 11)]),
        (datetime(2026, 11, 30, 14, 59, tzinfo=UTC), [Period(2026, 8), Period(2026, 9), Period(2026, 10)]),
    ],
)
def test_months_to_check_are_the_past_months_in_jst(now: datetime, expected: list[Period]) -> None:
    assert months_to_check(now, 3) == expected


def test_cron_ticks_hourly() -> None:
    run, remind = CRON_JOBS
    assert (run.name, run.minute, run.hour, run.day) == ("billing.monthly_invoice_run", 30, None, None)
    assert (remind.name, remind.minute, remind.hour) == ("billing.overdue_reminders", 45, None)


def test_bulk_event_rows_match_make_event() -> None:
    data = VisitDailyCapReached.model_construct(member_id=uuid.uuid4(), day=date(2026, 10, 8))
    payload = event_payload(uuid.uuid4(), data, "2026-11-01T00:00:00Z")
    event = Event.model_validate(payload)
    assert parse_data(event) == VisitDailyCapReached(member_id=data.member_id, day=date(2026, 10, 8))
    reference = make_event(InvoiceIssued(member_id=uuid.uuid4(), invoice_id=uuid.uuid4())).model_dump(
        mode="json"
    )
    assert set(payload) == set(reference)


async def test_scheduled_run_bills_every_month_with_unbilled_items(
    db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    member = await make_member(db)
    await visit(db, member, jst(2026, 10, 6, 10), 60)  # a month whose run was missed
    await visit(db, member, jst(2026, 11, 4, 10), 61)
    await db.commit()
    ctx = {"sessionmaker": sessionmaker, "settings": NetsugenSettings()}
    result = await monthly_invoice_run(ctx, now=jst(2026, 12, 3, 9, 30))  # not the 1st: still billed
    assert result == {
        "billed": {
            "2026-10": {"invoices_created": 1, "total_yen": 250},
            "2026-11": {"invoices_created": 1, "total_yen": 500},
        }
    }
    # Nothing unbilled: the next tick runs nothing (not even an empty run).
    assert await monthly_invoice_run(ctx, now=jst(2026, 12, 3, 10, 30)) == {"billed": {}}
    assert await scalar(db, "SELECT count(*) FROM netsugen.invoice_run") == 2
    # A late manual visit in November: the next tick bills it, and only it.
    await visit(db, member, jst(2026, 11, 20, 10), 30)
    await db.commit()
    late = await monthly_invoice_run(ctx, now=jst(2026, 12, 3, 11, 30))
    assert late == {"billed": {"2026-11": {"invoices_created": 1, "total_yen": 250}}}
    assert await scalar(db, "SELECT string_agg(number, ',' ORDER BY number) FROM netsugen.invoice") == (
        "NS-2026-000001,NS-2026-000002,NS-2026-000003"
    )
    assert await scalar(db, "SELECT min(trigger) FROM netsugen.invoice_run") == "schedule"
