"""The monthly invoice run: one invoice per member per month, computed set-wise.

1. One query collects the members to bill (a monthly plan or a visit in the month, no invoice
   yet) into a temporary table.
2. Three ordered queries are read through server-side cursors, each exactly once: those members,
   their plan assignments, and the month's drop-in candidate visits (the SQL already drops visits
   on days a monthly plan covers, so monthly members' visits never leave the database).
3. One streaming pass merges them member by member (all ordered by member id) and prices each
   member with the pure rules (``lines.build_invoice``).
4. Every ``billing_run_chunk_size`` members: one multi-row ``INSERT … ON CONFLICT DO NOTHING`` of
   the drafts, one ``COPY`` of their lines, one statement for the days that reached the cap.
5. Once: a set-wise issue (one lock, one counter update, one ``UPDATE … FROM unnest``) and bulk
   outbox inserts.

So the statements are O(members / chunk), never one per member or visit; memory is bounded by one
chunk (plus the ids of the invoices issued); time is linear in members + visits.

Everything happens in the caller's transaction: a run either happens completely or not at all, and
a re-run finds every member already billed (``uq_invoice_one_per_member_month``) and creates
nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, TextClause, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession

from services.netsugen_booking.billing.bulk import copy_rows
from services.netsugen_booking.billing.exceptions import InvalidPeriod, NoTariff, PeriodNotEnded
from services.netsugen_booking.billing.lines import (
    TAX_RATE_PERCENT,
    Assignment,
    NoPriceInEffect,
    PersonVisits,
    build_invoice,
)
from services.netsugen_booking.billing.models import Invoice, InvoiceLine, InvoiceRun
from services.netsugen_booking.billing.pricing import Visit
from services.netsugen_booking.billing.repository import load_calendar, load_plans, load_price_table
from services.netsugen_booking.billing.service import issue_drafts, record_daily_caps
from services.netsugen_booking.settings import NetsugenSettings
from shared.jst import JST, month_range, start_of_day_jst

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Period:
    """A calendar month, ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Period:
        try:
            year_s, month_s = value.split("-")
            period = cls(int(year_s), int(month_s))
            if len(year_s) != 4 or len(month_s) != 2 or not 1 <= period.month <= 12 or period.year < 2000:
                raise ValueError(value)
        except ValueError as exc:
            raise InvalidPeriod(
                f"The period must be YYYY-MM (from 2000-01), got {value!r}.",
                detail_ja=f"期間は YYYY-MM 形式で指定してください（{value}）。",
            ) from exc
        return period

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return month_range(self.year, self.month)[1]

    def previous(self) -> Period:
        return Period.of(self.start - timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def today_jst() -> date:
    return datetime.now(JST).date()


def check_period_over(period: Period, today: date) -> None:
    """Only a month that is over can be billed: a future month, or the current one, is refused."""
    if period.end >= today:
        when = "in the future" if period.start > today else "not over yet"
        raise PeriodNotEnded(
            f"The period {period} is {when} (today is {today.isoformat()} JST); only past months can be billed.",
            detail_ja=f"{period.year}年{period.month}月はまだ終わっていません。請求できるのは過去の月だけです。",
            period=str(period),
        )


# Members with something to bill (a monthly plan active in the month, or a visit in it) and no
# invoice for the month yet, computed ONCE per run into a temporary table: re-evaluating it per
# chunk would re-scan the month's visits (and the invoices the run is inserting) every time.
_CANDIDATES_SQL = """
    CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS
    SELECT m.id, m.name, m.kind, m.member_number
    FROM netsugen.member AS m
    WHERE m.id IN (
        SELECT pa.member_id
        FROM netsugen.plan_assignment AS pa JOIN netsugen.plan AS p ON p.code = pa.plan_code
        WHERE p.kind = 'monthly' AND pa.start_date <= :period_end
          AND (pa.end_date IS NULL OR pa.end_date >= :period_start)
        UNION
        SELECT v.member_id
        FROM netsugen.visit AS v
        WHERE v.check_out_at IS NOT NULL
          AND v.check_in_at >= :scan_from AND v.check_in_at < :until AND v.check_out_at > :since
    )
    AND NOT EXISTS (
        SELECT 1 FROM netsugen.invoice AS i
        WHERE i.member_id = m.id AND i.kind = 'invoice' AND i.period_start = :period_start)
"""
_MEMBERS_SQL = "SELECT id, name, kind, member_number FROM {table} ORDER BY id"
_ASSIGNMENTS_SQL = """
    SELECT pa.member_id, pa.plan_code, pa.start_date, pa.end_date, p.kind
    FROM {table} AS c
    JOIN netsugen.plan_assignment AS pa ON pa.member_id = c.id
    JOIN netsugen.plan AS p ON p.code = pa.plan_code
    WHERE pa.start_date <= :period_end
    ORDER BY pa.member_id, pa.start_date
"""
# The month's drop-in candidate visits of the members to bill, in member order, in ONE query read
# through a server-side cursor. A visit is a candidate unless a monthly plan covers both the JST
# day it starts and the JST day it ends (visits are shorter than a day); the exact per-day rule
# runs in Python. A member's assignments never overlap (exclusion constraint), so each end joins
# at most one covering row: hash joins, not a subquery per visit. (Per-chunk queries were tried:
# with a month's range matching most of the table, the planner scans it once per chunk, which
# makes the run quadratic.)
_VISITS_SQL = """
    WITH covering AS (
        SELECT pa.member_id, daterange(pa.start_date, pa.end_date, '[]') AS days
        FROM netsugen.plan_assignment AS pa JOIN netsugen.plan AS p ON p.code = pa.plan_code
        WHERE p.kind = 'monthly'
          AND pa.start_date <= :period_end AND (pa.end_date IS NULL OR pa.end_date >= :day_before)
    )
    SELECT v.member_id, v.member_user_id, mu.name AS user_name, v.check_in_at, v.check_out_at
    FROM netsugen.visit AS v
    JOIN {table} AS c ON c.id = v.member_id
    LEFT JOIN netsugen.member_user AS mu ON mu.id = v.member_user_id
    LEFT JOIN covering AS c_in
        ON c_in.member_id = v.member_id
       AND c_in.days @> CAST((v.check_in_at AT TIME ZONE 'Asia/Tokyo') AS date)
    LEFT JOIN covering AS c_out
        ON c_out.member_id = v.member_id
       AND c_out.days @> CAST((v.check_out_at AT TIME ZONE 'Asia/Tokyo') AS date)
    WHERE v.check_out_at IS NOT NULL
      AND v.check_in_at >= :scan_from AND v.check_in_at < :until AND v.check_out_at > :since
      AND (c_in.member_id IS NULL OR c_out.member_id IS NULL)
    ORDER BY v.member_id, v.member_user_id NULLS FIRST, v.check_in_at
"""
_FETCH = 5000


class _OrderedRows:
    """Rows of a server-side cursor ordered by ``member_id``, taken one member at a time.

    Rows are fetched ``_FETCH`` at a time: iterating an async result row by row costs a greenlet
    switch per row.
    """

    def __init__(self, result: AsyncResult[Any]) -> None:
        self._result = result
        self._buffer: Sequence[Row[Any]] = ()
        self._pos = 0
        self._done = False

    async def _peek(self) -> Row[Any] | None:
        if self._pos >= len(self._buffer) and not self._done:
            self._buffer = await self._result.fetchmany(_FETCH)
            self._pos = 0
            self._done = not self._buffer
        return self._buffer[self._pos] if self._pos < len(self._buffer) else None

    async def close(self) -> None:
        await self._result.close()

    async def take(self, member_id: uuid.UUID) -> list[Row[Any]]:
        """The rows of ``member_id`` (members are asked for in ascending order)."""
        rows: list[Row[Any]] = []
        while (row := await self._peek()) is not None and row.member_id <= member_id:
            if row.member_id == member_id:
                rows.append(row)
            self._pos += 1
        return rows


INVOICE = cast(Table, Invoice.__table__)
INVOICE_LINE = cast(Table, InvoiceLine.__table__)
_LINE_COLUMNS = (
    "kind", "description", "amount_yen", "plan_code", "service_date", "period_start", "period_end",
    "member_user_id", "minutes", "blocks", "uncapped_yen", "cap_applied",
)


async def _each(result: AsyncResult[Any]) -> AsyncIterator[Row[Any]]:
    async for part in result.partitions(_FETCH):
        for row in part:
            yield row


@dataclass
class _Batch:
    """What one chunk of members writes: invoices, their lines, and days that reached the cap."""

    members: int = 0
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: dict[uuid.UUID, list[tuple[Any, ...]]] = field(default_factory=dict)
    cap_pairs: list[tuple[uuid.UUID, date]] = field(default_factory=list)


async def _write(session: AsyncSession, batch: _Batch) -> tuple[int, int, int]:
    """Insert a chunk's drafts (skipping members billed meanwhile), COPY their lines, record caps."""
    created = lines = yen = 0
    if batch.invoices:
        inserted = (
            await session.execute(
                pg_insert(INVOICE)
                .on_conflict_do_nothing(index_elements=["member_id", "period_start"], index_where=text("kind = 'invoice'"))
                .returning(INVOICE.c.id, INVOICE.c.total_yen),
                batch.invoices,
            )
        ).all()
        line_rows = [line for r in inserted for line in batch.lines[r.id]]
        await copy_rows(session, INVOICE_LINE, ("invoice_id", "position", "tax_rate_percent", *_LINE_COLUMNS), line_rows)
        created, lines, yen = len(inserted), len(line_rows), sum(r.total_yen for r in inserted)
    await record_daily_caps(session, batch.cap_pairs)
    return created, lines, yen


async def run_invoices(
    session: AsyncSession,
    settings: NetsugenSettings,
    *,
    period: Period,
    trigger: str,
    requested_by: str | None = None,
    issue: bool = True,
    today: date | None = None,
    progress: Progress | None = None,
) -> InvoiceRun:
    """Bill ``period`` for every member with a monthly plan or a visit in it. See the module doc."""
    today = today or today_jst()
    check_period_over(period, today)
    # The run's queries are simple and cheap per row, but on large months the planner's estimates
    # cross the JIT threshold and compiling costs more than executing (seen: 1.7 s of 3.5 s).
    await session.execute(text("SET LOCAL jit = off"))
    run = InvoiceRun(
        period_start=period.start, period_end=period.end, trigger=trigger, requested_by=requested_by, issue=issue
    )
    session.add(run)
    await session.flush()

    plans = await load_plans(session)
    plan_names = {code: info.name_ja for code, info in plans.items()}
    prices = await load_price_table(session, settings)
    # A visit may start the evening before the month; the calendar covers the margin.
    calendar = await load_calendar(session, period.start - timedelta(days=1), period.end + timedelta(days=1))
    since = start_of_day_jst(period.start)
    until = start_of_day_jst(period.end + timedelta(days=1))
    window: dict[str, Any] = {
        "period_start": period.start,
        "period_end": period.end,
        "since": since,
        "until": until,
        "scan_from": since - timedelta(days=1),
        "day_before": period.start - timedelta(days=1),
    }
    candidates = f"billing_candidates_{run.id.hex}"
    await session.execute(text(_CANDIDATES_SQL.format(table=candidates)), window)
    await session.execute(text(f"ALTER TABLE {candidates} ADD PRIMARY KEY (id)"))
    await session.execute(text(f"ANALYZE {candidates}"))
    total_members = int(await session.scalar(text(f"SELECT count(*) FROM {candidates}")) or 0)
    if progress:
        progress(0, total_members)

    def stream(sql: str) -> TextClause:
        return text(sql.format(table=candidates)).execution_options(yield_per=_FETCH)

    members = await session.stream(stream(_MEMBERS_SQL))
    assignment_rows = _OrderedRows(await session.stream(stream(_ASSIGNMENTS_SQL), window))
    visit_rows = _OrderedRows(await session.stream(stream(_VISITS_SQL), window))

    chunk = settings.billing_run_chunk_size
    done = 0
    invoices_created = lines_created = total_yen = 0
    batch = _Batch()
    async for m in _each(members):
        assignments = [
            Assignment(r.plan_code, r.start_date, r.end_date, r.kind) for r in await assignment_rows.take(m.id)
        ]
        people: dict[uuid.UUID | None, PersonVisits] = {}
        for r in await visit_rows.take(m.id):
            person = people.get(r.member_user_id)
            if person is None:
                person = people[r.member_user_id] = PersonVisits(r.member_user_id, r.user_name)
            person.visits.append(Visit(r.check_in_at, r.check_out_at))
        try:
            draft = build_invoice(
                assignments=assignments,
                people=people.values(),
                period_start=period.start,
                period_end=period.end,
                prices=prices,
                hours_for=calendar.hours_for,
                proration=settings.billing_first_month_proration,
                tax_rounding=settings.billing_tax_rounding,
                plan_names=plan_names,
            )
        except NoPriceInEffect as exc:
            raise NoTariff(f"Cannot bill {period}: {exc}.", detail_ja="対象月に有効な料金がありません。") from exc
        batch.cap_pairs.extend((m.id, day) for day in draft.cap_days)
        if draft.total_yen > 0:
            invoice_id = uuid.uuid4()
            batch.invoices.append(
                {
                    "id": invoice_id, "kind": "invoice", "member_id": m.id, "period_start": period.start,
                    "period_end": period.end, "status": "draft", "recipient_name": m.name,
                    "recipient_kind": m.kind, "recipient_member_number": m.member_number,
                    "total_yen": draft.total_yen, "tax_rate_percent": TAX_RATE_PERCENT, "tax_yen": draft.tax_yen,
                    "tax_rounding": settings.billing_tax_rounding, "run_id": run.id,
                    "created_by": requested_by or trigger,
                }
            )
            batch.lines[invoice_id] = [
                (invoice_id, n, TAX_RATE_PERCENT, *(getattr(line, c) for c in _LINE_COLUMNS))
                for n, line in enumerate(draft.lines, start=1)
            ]
        batch.members += 1
        if batch.members >= chunk:
            created, lines, yen = await _write(session, batch)
            invoices_created, lines_created, total_yen = invoices_created + created, lines_created + lines, total_yen + yen
            done += batch.members
            batch = _Batch()
            if progress:
                progress(done, max(total_members, done))
    await assignment_rows.close()
    await visit_rows.close()
    created, lines, yen = await _write(session, batch)
    invoices_created, lines_created, total_yen = invoices_created + created, lines_created + lines, total_yen + yen
    done += batch.members
    if progress:
        progress(done, max(total_members, done))

    if issue and invoices_created:
        await issue_drafts(session, settings, kind="invoice", issue_date=today, run_id=run.id)
    run.members_billed = done
    run.invoices_created = invoices_created
    run.lines_created = lines_created
    run.total_yen = total_yen
    run.finished_at = datetime.now(JST)
    await session.flush()
    return run


async def period_already_billed(session: AsyncSession, period: Period) -> bool:
    """A run for the period has completed before (used by the scheduled job to skip cheaply)."""
    found = await session.scalar(
        select(InvoiceRun.id).where(InvoiceRun.period_start == period.start, InvoiceRun.finished_at.is_not(None)).limit(1)
    )
    return found is not None
