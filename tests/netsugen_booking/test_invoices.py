"""The monthly invoice run, numbering, immutability, credit notes and payments (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.exceptions import (
    CreditExceedsInvoice,
    InvoiceNotPayable,
    Overpayment,
    PeriodNotEnded,
)
from services.netsugen_booking.billing.invoice_run import Period, run_invoices
from services.netsugen_booking.billing.models import DailyCapReached, Invoice, InvoiceRun
from services.netsugen_booking.billing.schemas import CreditNoteCreate, CreditNoteLineIn, PaymentCreate
from services.netsugen_booking.billing.service import (
    create_credit_note,
    issue_invoice,
    record_daily_cap_if_reached,
    record_payment,
)
from services.netsugen_booking.db import outbox
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal
from shared.db import session_scope
from tests.netsugen_booking.test_billing_factories import (
    assign,
    invoices_of,
    jst,
    lines_of,
    make_member,
    make_user,
    scalar,
    visit,
)

OCTOBER = Period(2026, 10)
SEPTEMBER = Period(2026, 9)
RUN_DAY = date(2026, 11, 1)  # the run on the 1st; FY2026
STAFF = Principal(role="staff", subject=None, token_id=None, name="front desk")


@pytest.fixture
def settings() -> NetsugenSettings:
    return NetsugenSettings()


async def run(
    maker: async_sessionmaker[AsyncSession],
    settings: NetsugenSettings,
    period: Period = OCTOBER,
    *,
    today: date = RUN_DAY,
    issue: bool = True,
) -> InvoiceRun:
    async with session_scope(maker) as session:
        return await run_invoices(session, settings, period=period, trigger="cli", issue=issue, today=today)


async def dropin_member_250_500_1000(session: AsyncSession, **kw: Any) -> Any:
    """Days of 45 min (250円), 90 min (500円) and 5 h (1,250円 → cap 1,000円): 1,750円."""
    member = await make_member(session, **kw)
    await visit(session, member, jst(2026, 10, 6, 10), 45)
    await visit(session, member, jst(2026, 10, 7, 10), 90)
    await visit(session, member, jst(2026, 10, 8, 10), 300)
    await session.commit()
    return member


class TestDropinInvoice:
    async def test_exact_amounts_lines_and_tax(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db, name="上州 花子")
        result = await run(sessionmaker, settings)
        assert (result.invoices_created, result.lines_created, result.total_yen) == (1, 3, 1750)

        [invoice] = await invoices_of(db, member)
        assert invoice.total_yen == 1750
        # Once per invoice: floor(1750 × 10 / 110) = 159. Per line it would be 22 + 45 + 90 = 157.
        assert invoice.tax_yen == 159
        assert invoice.status == "issued"
        assert invoice.number == "NS-2026-000001"
        assert (invoice.issue_date, invoice.due_date) == (RUN_DAY, date(2026, 12, 1))
        assert (invoice.period_start, invoice.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
        assert invoice.recipient_name == "上州 花子"
        assert invoice.issuer_registration_number == "T8000012010038"
        lines = await lines_of(db, invoice.id)
        assert [
            (ln.service_date, ln.minutes, ln.blocks, ln.uncapped_yen, ln.cap_applied, ln.amount_yen)
            for ln in lines
        ] == [
            (date(2026, 10, 6), 45, 1, 250, False, 250),
            (date(2026, 10, 7), 90, 2, 500, False, 500),
            (date(2026, 10, 8), 300, 5, 1250, True, 1000),
        ]
        assert all(ln.kind == "dropin_day" for ln in lines)

    async def test_visit_time_outside_opening_hours_and_other_months_is_not_billed(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db)
        await visit(db, member, jst(2026, 10, 10, 9, 0), 120)  # Saturday 9:00-11:00: 60 open minutes
        await visit(db, member, jst(2026, 10, 12, 17, 0), 120)  # Sports Day (holiday) 17:00-19:00: 60
        await visit(db, member, jst(2026, 9, 30, 10), 60)  # September
        await visit(db, member, jst(2026, 11, 2, 10), 60)  # November
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert [(ln.service_date, ln.minutes, ln.amount_yen) for ln in await lines_of(db, invoice.id)] == [
            (date(2026, 10, 10), 60, 250),
            (date(2026, 10, 12), 60, 250),
        ]

    async def test_thirty_minute_blocks_setting(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db)
        await visit(db, member, jst(2026, 10, 6, 10), 31)  # 2 blocks of 30 → 250円
        await visit(db, member, jst(2026, 10, 7, 10), 20)  # 1 block → 125円
        await db.commit()
        settings.billing_dropin_block_minutes = 30
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert [ln.amount_yen for ln in await lines_of(db, invoice.id)] == [250, 125]
        assert invoice.total_yen == 375


class TestMonthlyPlans:
    async def test_monthly_member_pays_the_fee_and_visits_are_free(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db, plan="individual_monthly", plan_start=date(2026, 4, 1))
        await visit(db, member, jst(2026, 10, 6, 10), 600, plan="individual_monthly")
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        lines = await lines_of(db, invoice.id)
        assert [(ln.kind, ln.plan_code, ln.amount_yen) for ln in lines] == [
            ("subscription", "individual_monthly", 10_000)
        ]
        assert (invoice.total_yen, invoice.tax_yen) == (10_000, 909)

    async def test_plan_that_ended_yesterday_does_not_cover_today(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(
            db, plan="individual_monthly", plan_start=date(2026, 4, 1), plan_end=date(2026, 10, 14)
        )
        await assign(db, member, plan="dropin", start=date(2026, 10, 15))
        await visit(db, member, jst(2026, 10, 14, 10), 240, plan="individual_monthly")  # covered
        await visit(db, member, jst(2026, 10, 15, 10), 61)  # the day after: drop-in, 500円
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        lines = await lines_of(db, invoice.id)
        assert [(ln.kind, ln.service_date, ln.amount_yen) for ln in lines] == [
            ("subscription", None, 10_000),
            ("dropin_day", date(2026, 10, 15), 500),
        ]
        assert invoice.total_yen == 10_500
        # The month after the plan ended: no fee, nothing to bill.
        await run(sessionmaker, settings, Period(2026, 11), today=date(2026, 12, 1))
        assert len(await invoices_of(db, member)) == 1

    async def test_corporate_users_visits_are_covered(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(
            db, kind="corporate", plan="corporate_monthly", plan_start=date(2026, 1, 1), name="株式会社ぐんま"
        )
        alice, bob = await make_user(db, member, name="A"), await make_user(db, member, name="B")
        await visit(db, member, jst(2026, 10, 6, 10), 300, user=alice, plan="corporate_monthly")
        await visit(db, member, jst(2026, 10, 6, 10), 300, user=bob, plan="corporate_monthly")
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert invoice.total_yen == 25_000
        assert invoice.recipient_kind == "corporate"
        assert len(await lines_of(db, invoice.id)) == 1

    async def test_corporate_users_without_plan_are_priced_per_person(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db, kind="corporate", plan="dropin")
        alice, bob = await make_user(db, member, name="A"), await make_user(db, member, name="B")
        # Same hour, two people: two drop-in days of 250円 (not one hour counted once).
        await visit(db, member, jst(2026, 10, 6, 10), 60, user=alice)
        await visit(db, member, jst(2026, 10, 6, 10), 60, user=bob)
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        lines = await lines_of(db, invoice.id)
        assert sorted((ln.member_user_id, ln.amount_yen) for ln in lines) == sorted(
            [(alice.id, 250), (bob.id, 250)]
        )

    @pytest.mark.parametrize(("proration", "expected"), [("full", 10_000), ("daily", 5_161)])
    async def test_first_month_setting(
        self,
        db: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NetsugenSettings,
        proration: str,
        expected: int,
    ) -> None:
        # Joined on 10/16: 16 of October's 31 days → floor(10,000 × 16 / 31) = 5,161 when prorated.
        member = await make_member(db, plan="individual_monthly", plan_start=date(2026, 10, 16))
        await db.commit()
        settings.billing_first_month_proration = proration  # type: ignore[assignment]
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert invoice.total_yen == expected
        [line] = await lines_of(db, invoice.id)
        assert (line.period_start, line.period_end) == (date(2026, 10, 16), date(2026, 10, 31))
        # The month after is always the full fee.
        await run(sessionmaker, settings, Period(2026, 11), today=date(2026, 12, 1))
        assert [i.total_yen for i in await invoices_of(db, member)] == [expected, 10_000]

    async def test_plan_change_mid_month_charges_both_plans_in_full(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(
            db, plan="individual_monthly", plan_start=date(2026, 1, 1), plan_end=date(2026, 10, 19)
        )
        await assign(db, member, plan="corporate_monthly", start=date(2026, 10, 20))
        await db.commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert [ln.amount_yen for ln in await lines_of(db, invoice.id)] == [10_000, 25_000]


class TestRunRules:
    async def test_members_are_merged_correctly_across_chunks(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        expected: dict[Any, int] = {}
        for n in range(7):
            if n % 3 == 0:  # monthly member whose visits are covered: only the fee
                m = await make_member(db, plan="individual_monthly")
                await visit(db, m, jst(2026, 10, 6, 10), 300, plan="individual_monthly")
                expected[m.id] = 10_000
            else:  # drop-in member: n hours on day n (capped at 1,000円)
                m = await make_member(db)
                await visit(db, m, jst(2026, 10, 5 + n, 10), 60 * n)
                await visit(db, m, jst(2026, 10, 20, 10), 30)
                expected[m.id] = min(250 * n, 1000) + 250
        await db.commit()
        settings.billing_run_chunk_size = 2
        result = await run(sessionmaker, settings)
        assert (result.invoices_created, result.members_billed) == (7, 7)
        await db.commit()
        rows = (await db.execute(select(Invoice.member_id, Invoice.total_yen))).all()
        assert dict((r.member_id, r.total_yen) for r in rows) == expected
        assert result.total_yen == sum(expected.values())

    async def test_rerun_creates_nothing(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        await dropin_member_250_500_1000(db)
        await make_member(db, plan="individual_monthly")
        await db.commit()
        first = await run(sessionmaker, settings)
        second = await run(sessionmaker, settings)
        assert (first.invoices_created, second.invoices_created) == (2, 0)
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice") == 2
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice_line") == 4
        assert await scalar(db, "SELECT last_number FROM netsugen.invoice_counter") == 2

    async def test_database_refuses_to_bill_an_item_twice(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db)
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        key = await scalar(db, "SELECT min(item_key) FROM netsugen.billed_item WHERE kind = 'visit'")
        assert key.startswith("visit:") and key.endswith(":2026-10")
        with pytest.raises(IntegrityError, match="pk_billed_item"):
            await db.execute(
                text(
                    "INSERT INTO netsugen.billed_item (item_key, kind, member_id, period_start, invoice_id)"
                    " VALUES (:k, 'visit', :m, '2026-10-01', :i)"
                ),
                {"k": key, "m": member.id, "i": invoice.id},
            )
        await db.rollback()

    @pytest.mark.parametrize(
        ("period", "today"),
        [
            (Period(2026, 12), date(2026, 11, 29)),
            (Period(2026, 11), date(2026, 11, 29)),
            (Period(2026, 11), date(2026, 11, 30)),
        ],
    )
    async def test_period_not_over_is_refused(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NetsugenSettings,
        clean_db: None,
        period: Period,
        today: date,
    ) -> None:
        with pytest.raises(PeriodNotEnded):
            await run(sessionmaker, settings, period, today=today)

    async def test_zero_charge_members_get_no_invoice(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db)
        await visit(db, member, jst(2026, 10, 6, 10), 0)  # a 0-minute visit is free
        await visit(db, member, jst(2026, 10, 6, 22), 30)  # after closing
        await db.commit()
        result = await run(sessionmaker, settings)
        assert result.invoices_created == 0
        assert await invoices_of(db, member) == []

    async def test_draft_run_then_issue(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db)
        await run(sessionmaker, settings, issue=False)
        [draft] = await invoices_of(db, member)
        assert (draft.status, draft.number, draft.issue_date) == ("draft", None, None)
        # Lines of a draft may still be changed (the trigger only protects issued invoices).
        await db.execute(
            text(
                "UPDATE netsugen.invoice_line SET description = 'edited' WHERE invoice_id = :i AND position = 1"
            ),
            {"i": draft.id},
        )
        await db.commit()
        async with session_scope(sessionmaker) as session:
            out = await issue_invoice(session, settings, draft.id, issue_date=date(2026, 11, 2))
        assert (out.status, out.number, out.issue_date) == ("issued", "NS-2026-000001", date(2026, 11, 2))

    async def test_recipient_is_copied_at_issue_and_kept(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db, name="旧姓 花子")
        await run(sessionmaker, settings)
        await db.execute(text("UPDATE netsugen.member SET name = '匿名' WHERE id = :m"), {"m": member.id})
        [invoice] = await invoices_of(db, member)
        assert invoice.recipient_name == "旧姓 花子"

    async def test_events_issued_and_daily_cap_once(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db)
        other = await make_member(db, plan="individual_monthly")
        await db.commit()
        await run(sessionmaker, settings)
        issued = await _events(db, "invoice.issued")
        assert sorted(e["data"]["member_id"] for e in issued) == sorted([str(member.id), str(other.id)])
        caps = await _events(db, "visit.daily_cap_reached")
        assert [(e["data"]["member_id"], e["data"]["day"]) for e in caps] == [(str(member.id), "2026-10-08")]
        # Calling it from the check-out flow again for that day changes nothing.
        async with session_scope(sessionmaker) as session:
            assert (
                await record_daily_cap_if_reached(session, member.id, date(2026, 10, 8), settings=settings)
                is False
            )
        assert len(await _events(db, "visit.daily_cap_reached")) == 1


class TestDailyCapEvent:
    async def test_recorded_once_when_the_day_reaches_the_cap(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db)
        await visit(db, member, jst(2026, 10, 6, 10), 180)  # 750円: not yet
        await db.commit()
        async with session_scope(sessionmaker) as session:
            assert (
                await record_daily_cap_if_reached(session, member.id, date(2026, 10, 6), settings=settings)
                is False
            )
        await visit(db, member, jst(2026, 10, 6, 14), 60)  # 4 blocks: 1,000円 reaches the cap
        await db.commit()
        for expected in (True, False):
            async with session_scope(sessionmaker) as session:
                got = await record_daily_cap_if_reached(
                    session, member.id, date(2026, 10, 6), settings=settings
                )
            assert got is expected
        assert await scalar(db, "SELECT count(*) FROM netsugen.daily_cap_reached") == 1
        assert len(await _events(db, "visit.daily_cap_reached")) == 1

    async def test_covered_day_never_reaches_the_cap(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db, plan="individual_monthly")
        await visit(db, member, jst(2026, 10, 6, 10), 600, plan="individual_monthly")
        await db.commit()
        async with session_scope(sessionmaker) as session:
            assert (
                await record_daily_cap_if_reached(session, member.id, date(2026, 10, 6), settings=settings)
                is False
            )
        assert await db.scalar(select(func.count()).select_from(DailyCapReached)) == 0


class TestNumbering:
    async def test_concurrent_runs_neither_duplicate_nor_skip(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        members = []
        for n in range(12):
            m = await make_member(db, plan="dropin")
            await visit(db, m, jst(2026, 9, 8, 10), 30 + n)
            await visit(db, m, jst(2026, 10, 6, 10), 30 + n)
            members.append(m)
        await db.commit()
        settings.billing_run_chunk_size = 5  # several chunks per run, interleaved between the runs
        # Two months at once (separate sessions and transactions), plus a duplicate of one of them.
        results = await asyncio.gather(
            run(sessionmaker, settings, SEPTEMBER),
            run(sessionmaker, settings, OCTOBER),
            run(sessionmaker, settings, OCTOBER),
        )
        assert sorted(r.invoices_created for r in results) == [0, 12, 12]
        await db.commit()
        numbers = sorted((await db.scalars(select(Invoice.number))).all())  # type: ignore[type-var]
        assert numbers == [f"NS-2026-{n:06d}" for n in range(1, 25)]
        assert await scalar(db, "SELECT last_number FROM netsugen.invoice_counter WHERE series = 'NS'") == 24

    async def test_fiscal_year_starts_numbering_again(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await make_member(db)
        await visit(db, member, jst(2027, 2, 2, 10), 60)
        await visit(db, member, jst(2027, 3, 2, 10), 60)
        await db.commit()
        await run(sessionmaker, settings, Period(2027, 2), today=date(2027, 3, 1))  # FY2026
        await run(sessionmaker, settings, Period(2027, 3), today=date(2027, 4, 1))  # FY2027
        assert [i.number for i in await invoices_of(db, member)] == ["NS-2026-000001", "NS-2027-000001"]

    async def test_rolled_back_issue_leaves_no_gap(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db)

        async def crash_before_commit() -> None:
            async with session_scope(sessionmaker) as session:
                await run_invoices(session, settings, period=OCTOBER, trigger="cli", today=RUN_DAY)
                raise RuntimeError("crash after issuing, before commit")

        with pytest.raises(RuntimeError):
            await crash_before_commit()
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        assert invoice.number == "NS-2026-000001"


class TestIssuedInvoiceIsImmutable:
    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE netsugen.invoice SET total_yen = 1 WHERE id = :i",
            "UPDATE netsugen.invoice SET tax_yen = 0 WHERE id = :i",
            "UPDATE netsugen.invoice SET number = 'NS-2026-999999' WHERE id = :i",
            "UPDATE netsugen.invoice SET recipient_name = 'x' WHERE id = :i",
            "UPDATE netsugen.invoice SET status = 'draft', number = NULL WHERE id = :i",
            "DELETE FROM netsugen.invoice WHERE id = :i",
            "UPDATE netsugen.invoice_line SET amount_yen = 1 WHERE invoice_id = :i",
            "DELETE FROM netsugen.invoice_line WHERE invoice_id = :i",
            "INSERT INTO netsugen.invoice_line (invoice_id, position, kind, description, service_date, amount_yen)"
            " VALUES (:i, 99, 'dropin_day', 'extra', '2026-10-20', 250)",
        ],
    )
    async def test_database_refuses_edits(
        self,
        db: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NetsugenSettings,
        sql: str,
    ) -> None:
        member = await dropin_member_250_500_1000(db)
        await run(sessionmaker, settings)
        member_id = member.id
        [invoice] = await invoices_of(db, member)
        invoice_id = invoice.id
        with pytest.raises(IntegrityError) as raised:  # SQLSTATE 23001 restrict_violation
            await db.execute(text(sql), {"i": invoice_id})
        assert "issued" in str(raised.value)
        await db.rollback()
        [again] = await invoices_of(db, member_id)
        assert (again.total_yen, again.number) == (1750, "NS-2026-000001")
        assert len(await lines_of(db, invoice_id)) == 3

    async def test_status_and_paid_amount_may_change(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        member = await dropin_member_250_500_1000(db)
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        await db.execute(
            text("UPDATE netsugen.invoice SET paid_yen = 1750, status = 'paid' WHERE id = :i"),
            {"i": invoice.id},
        )
        [paid] = await invoices_of(db, member)
        assert (paid.status, paid.paid_yen) == ("paid", 1750)


class TestPaymentsAndCreditNotes:
    async def _issued(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> Invoice:
        member = await dropin_member_250_500_1000(db)
        await run(sessionmaker, settings)
        [invoice] = await invoices_of(db, member)
        return invoice

    async def test_partial_then_full_payment_and_overpayment(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        invoice = await self._issued(db, sessionmaker, settings)
        async with session_scope(sessionmaker) as session:
            r = await record_payment(
                session,
                invoice.id,
                PaymentCreate(method="cash", amount_yen=1000, paid_on=date(2026, 11, 5)),
                STAFF,
            )
        assert (r.invoice.status, r.invoice.paid_yen, r.invoice.balance_yen) == ("partially_paid", 1000, 750)
        with pytest.raises(Overpayment):
            async with session_scope(sessionmaker) as session:
                await record_payment(
                    session,
                    invoice.id,
                    PaymentCreate(method="card", amount_yen=751, paid_on=date(2026, 11, 6)),
                    STAFF,
                )
        async with session_scope(sessionmaker) as session:
            r = await record_payment(
                session,
                invoice.id,
                PaymentCreate(
                    method="bank_transfer", amount_yen=750, paid_on=date(2026, 11, 6), reference="振込123"
                ),
                STAFF,
            )
        assert (r.invoice.status, r.invoice.paid_yen, r.invoice.balance_yen) == ("paid", 1750, 0)
        with pytest.raises(Overpayment):
            async with session_scope(sessionmaker) as session:
                await record_payment(
                    session,
                    invoice.id,
                    PaymentCreate(method="cash", amount_yen=1, paid_on=date(2026, 11, 7)),
                    STAFF,
                )
        assert await scalar(db, "SELECT sum(amount_yen) FROM netsugen.invoice_payment") == 1750

    async def test_credit_note_has_its_own_number_and_tax(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        invoice = await self._issued(db, sessionmaker, settings)
        body = CreditNoteCreate(
            reason="10/7 の時間誤り", lines=[CreditNoteLineIn(description="10/7 訂正", amount_yen=250)]
        )
        async with session_scope(sessionmaker) as session:
            note = await create_credit_note(
                session, settings, invoice.id, body, STAFF, issue_date=date(2026, 11, 10)
            )
        assert (note.kind, note.number, note.status) == ("credit_note", "NSC-2026-000001", "issued")
        assert (note.total_yen, note.tax_yen) == (-250, -22)
        assert note.credited_invoice_id == invoice.id
        assert [(ln.kind, ln.amount_yen) for ln in note.lines] == [("credit", -250)]
        [original] = await invoices_of(db, await _member_of(db, invoice))
        # The original is untouched except for what has been credited.
        assert (original.total_yen, original.tax_yen, original.credited_yen) == (1750, 159, 250)
        assert original.status == "issued"
        # Paying the rest settles it.
        async with session_scope(sessionmaker) as session:
            r = await record_payment(
                session,
                invoice.id,
                PaymentCreate(method="cash", amount_yen=1500, paid_on=date(2026, 11, 12)),
                STAFF,
            )
        assert (r.invoice.status, r.invoice.balance_yen) == ("paid", 0)
        with pytest.raises(InvoiceNotPayable):
            async with session_scope(sessionmaker) as session:
                await record_payment(
                    session,
                    note.id,
                    PaymentCreate(method="cash", amount_yen=1, paid_on=date(2026, 11, 12)),
                    STAFF,
                )

    async def test_full_credit_voids_and_overcredit_is_refused(
        self, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], settings: NetsugenSettings
    ) -> None:
        invoice = await self._issued(db, sessionmaker, settings)
        with pytest.raises(CreditExceedsInvoice):
            async with session_scope(sessionmaker) as session:
                await create_credit_note(
                    session,
                    settings,
                    invoice.id,
                    CreditNoteCreate(reason="x", lines=[CreditNoteLineIn(description="x", amount_yen=1751)]),
                    STAFF,
                    issue_date=date(2026, 11, 10),
                )
        async with session_scope(sessionmaker) as session:
            note = await create_credit_note(
                session,
                settings,
                invoice.id,
                CreditNoteCreate(reason="請求の取消", full=True),
                STAFF,
                issue_date=date(2026, 11, 10),
            )
        assert (note.total_yen, note.tax_yen, note.number) == (-1750, -159, "NSC-2026-000001")
        assert [ln.amount_yen for ln in note.lines] == [-250, -500, -1000]
        [original] = await invoices_of(db, await _member_of(db, invoice))
        assert (original.status, original.credited_yen) == ("void", 1750)
        with pytest.raises(InvoiceNotPayable):
            async with session_scope(sessionmaker) as session:
                await record_payment(
                    session,
                    invoice.id,
                    PaymentCreate(method="cash", amount_yen=1, paid_on=date(2026, 11, 12)),
                    STAFF,
                )


async def _member_of(db: AsyncSession, invoice: Invoice) -> Any:
    from services.netsugen_booking.members.models import Member

    return await db.get(Member, invoice.member_id)


async def _events(db: AsyncSession, event_type: str) -> list[dict[str, Any]]:
    await db.commit()
    rows = await db.scalars(
        select(outbox.c.payload).where(outbox.c.event_type == event_type).order_by(outbox.c.created_at)
    )
    return [dict(r) for r in rows.all()]
