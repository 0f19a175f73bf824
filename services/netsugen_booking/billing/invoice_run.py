"""The invoice run of a month: bills what the month has not billed yet, computed set-wise.

A month may be run any number of times. Each run bills exactly the items (visits, monthly fees,
bookings) that are not on a live invoice yet, as a new (supplementary) invoice per member, and
never touches an issued invoice. ``billed_item`` (one row per item, the key is the primary key)
makes "at most one live invoice per item" a database rule; voiding or fully crediting an invoice
releases its items. Runs of the same month take turns (a transaction-level advisory lock).

1. One query collects the members with unbilled items into a temporary table.
2. Ordered queries are read through server-side cursors, each exactly once: those members, their
   plan assignments, the month's drop-in candidate visits (the SQL already drops visits on days a
   monthly plan covers), what live invoices already bill, and the bookings to bill.
3. One streaming pass merges them member by member (all ordered by member id) and prices each
   member with the pure rules (``lines.build_invoice``), keeping only what is unbilled
   (``unbilled_lines``: a drop-in day already partly billed is charged the difference up to the cap).
4. Every ``billing_run_chunk_size`` members: one multi-row ``INSERT`` of the drafts, one ``COPY``
   of their lines, one of their billed items, one statement for the days that reached the cap.
5. Once: a set-wise issue (one lock, one counter update, one ``UPDATE … FROM unnest``) and bulk
   outbox inserts.

So the statements are O(members / chunk), never one per member or visit; memory is bounded by one
chunk (plus the ids of the invoices issued); time is linear in members + visits.

Everything happens in the caller's transaction: a run either happens completely or not at all, and
a re-run with nothing new finds no candidates and creates nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, TextClause, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession

from services.netsugen_booking.billing.bulk import copy_rows
from services.netsugen_booking.billing.exceptions import InvalidPeriod, NoTariff, PeriodNotEnded
from services.netsugen_booking.billing.lines import (
    TAX_RATE_PERCENT,
    Assignment,
    DraftInvoice,
    DraftLine,
    NoPriceInEffect,
    PersonVisits,
    build_invoice,
)
from services.netsugen_booking.billing.models import BilledItem, Invoice, InvoiceLine, InvoiceRun
from services.netsugen_booking.billing.pricing import Visit
from services.netsugen_booking.billing.repository import load_calendar, load_plans, load_price_table
from services.netsugen_booking.billing.service import issue_drafts, record_daily_caps
from services.netsugen_booking.billing.tax import consumption_tax_included
from services.netsugen_booking.settings import NetsugenSettings
from shared.jst import JST, jst_date, month_range, start_of_day_jst

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


# What a month still has to bill, per member: a monthly plan active in the month whose fee is not
# on a live invoice, a closed visit (not on a day a monthly plan covers) not on a live invoice, or a
# priced booking (confirmed, or cancelled after its deadline) not on a live invoice. ``billed_item``
# holds one row per item on a live invoice (its key is the primary key), so "not billed" is an
# index lookup. Visits are keyed per month ("visit:<id>:<YYYY-MM>"): a visit over midnight at the
# month's end bills its minutes in both months.
_UNBILLED_MEMBERS_SQL = """
    WITH covering AS (
        SELECT pa.member_id, daterange(pa.start_date, pa.end_date, '[]') AS days
        FROM netsugen.plan_assignment AS pa JOIN netsugen.plan AS p ON p.code = pa.plan_code
        WHERE p.kind = 'monthly'
          AND pa.start_date <= :period_end AND (pa.end_date IS NULL OR pa.end_date >= :day_before)
    )
    SELECT pa.member_id
    FROM netsugen.plan_assignment AS pa JOIN netsugen.plan AS p ON p.code = pa.plan_code
    WHERE p.kind = 'monthly' AND pa.start_date <= :period_end
      AND (pa.end_date IS NULL OR pa.end_date >= :period_start)
      AND NOT EXISTS (
        SELECT 1 FROM netsugen.billed_item AS b
        WHERE b.member_id = pa.member_id AND b.kind = 'fee' AND b.period_start = :period_start
          AND b.plan_code = pa.plan_code)
    UNION
    SELECT v.member_id
    FROM netsugen.visit AS v
    LEFT JOIN covering AS c_in
        ON c_in.member_id = v.member_id
       AND c_in.days @> CAST((v.check_in_at AT TIME ZONE 'Asia/Tokyo') AS date)
    LEFT JOIN covering AS c_out
        ON c_out.member_id = v.member_id
       AND c_out.days @> CAST((v.check_out_at AT TIME ZONE 'Asia/Tokyo') AS date)
    WHERE v.check_out_at IS NOT NULL
      AND v.check_in_at >= :scan_from AND v.check_in_at < :until AND v.check_out_at > :since
      AND (c_in.member_id IS NULL OR c_out.member_id IS NULL)
      AND NOT EXISTS (
        SELECT 1 FROM netsugen.billed_item AS b WHERE b.item_key = 'visit:' || v.id::text || ':' || :period)
    UNION
    SELECT bk.member_id
    FROM netsugen.booking AS bk
    WHERE bk.member_id IS NOT NULL AND bk.price_yen > 0
      AND bk.start_at >= :since AND bk.start_at < :until
      AND (bk.status = 'confirmed'
           OR bk.deadline_overridden
           OR bk.cancelled_at > bk.start_at - make_interval(hours => :deadline_hours))
      AND NOT EXISTS (
        SELECT 1 FROM netsugen.billed_item AS b WHERE b.item_key = 'booking:' || bk.id::text)
"""
# The members to bill, computed ONCE per run into a temporary table: re-evaluating it per chunk
# would re-scan the month's visits every time.
_CANDIDATES_SQL = (
    """
    CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS
    SELECT m.id, m.name, m.kind, m.member_number
    FROM netsugen.member AS m
    WHERE m.id IN ("""
    + _UNBILLED_MEMBERS_SQL
    + ")"
)
_MEMBERS_SQL = "SELECT id, name, kind, member_number FROM {table} ORDER BY id"
_ASSIGNMENTS_SQL = """
    SELECT pa.member_id, pa.plan_code, pa.start_date, pa.end_date, p.kind
    FROM {table} AS c
    JOIN netsugen.plan_assignment AS pa ON pa.member_id = c.id
    JOIN netsugen.plan AS p ON p.code = pa.plan_code
    WHERE pa.start_date <= :period_end
    ORDER BY pa.member_id, pa.start_date
"""
# The month's drop-in candidate visits of the members to bill (billed or not: a day is priced
# from all its visits, and what live invoices already bill for the day is subtracted), in member
# order, in ONE query read through a server-side cursor. A visit is a candidate unless a monthly
# plan covers both the JST day it starts and the JST day it ends (visits are shorter than a day);
# the exact per-day rule runs in Python. A member's assignments never overlap (exclusion
# constraint), so each end joins at most one covering row: hash joins, not a subquery per visit.
_VISITS_SQL = """
    WITH covering AS (
        SELECT pa.member_id, daterange(pa.start_date, pa.end_date, '[]') AS days
        FROM netsugen.plan_assignment AS pa JOIN netsugen.plan AS p ON p.code = pa.plan_code
        WHERE p.kind = 'monthly'
          AND pa.start_date <= :period_end AND (pa.end_date IS NULL OR pa.end_date >= :day_before)
    )
    SELECT v.member_id, v.id, v.member_user_id, mu.name AS user_name, v.check_in_at, v.check_out_at,
           b.item_key IS NOT NULL AS billed
    FROM netsugen.visit AS v
    JOIN {table} AS c ON c.id = v.member_id
    LEFT JOIN netsugen.member_user AS mu ON mu.id = v.member_user_id
    LEFT JOIN netsugen.billed_item AS b ON b.item_key = 'visit:' || v.id::text || ':' || :period
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
# What live invoices (not void, not fully credited) of the month already bill per member: the
# drop-in amount per (person, day), and the fee keys. One ordered stream.
_BILLED_SQL = """
    SELECT i.member_id, 'day' AS k, l.member_user_id, l.service_date, sum(l.amount_yen) AS yen,
           NULL::text AS item_key, string_agg(DISTINCT i.number, ', ') AS numbers
    FROM {table} AS c
    JOIN netsugen.invoice AS i ON i.member_id = c.id
    JOIN netsugen.invoice_line AS l ON l.invoice_id = i.id
    WHERE i.kind = 'invoice' AND i.period_start = :period_start AND i.status <> 'void'
      AND i.credited_yen < i.total_yen AND l.kind = 'dropin_day'
    GROUP BY i.member_id, l.member_user_id, l.service_date
    UNION ALL
    SELECT b.member_id, 'fee', NULL, NULL, 0, b.item_key, NULL
    FROM {table} AS c
    JOIN netsugen.billed_item AS b ON b.member_id = c.id
    WHERE b.kind = 'fee' AND b.period_start = :period_start
    ORDER BY 1
"""
# Lines of the month's released invoices (void or fully credited) per member: a line billed again
# says which invoice it replaces.
_RELEASED_SQL = """
    SELECT i.member_id, l.kind, l.member_user_id, l.service_date, l.plan_code, min(i.number) AS number
    FROM {table} AS c
    JOIN netsugen.invoice AS i ON i.member_id = c.id
    JOIN netsugen.invoice_line AS l ON l.invoice_id = i.id
    WHERE i.kind = 'invoice' AND i.period_start = :period_start AND i.status <> 'draft'
      AND (i.status = 'void' OR i.credited_yen >= i.total_yen)
    GROUP BY i.member_id, l.kind, l.member_user_id, l.service_date, l.plan_code
    ORDER BY i.member_id
"""
# Priced bookings of the month still to bill (the cancellation rule: README "Bookings").
_BOOKINGS_SQL = """
    SELECT bk.member_id, bk.id, bk.start_at, bk.end_at, bk.price_yen, bk.status, r.name_ja
    FROM {table} AS c
    JOIN netsugen.booking AS bk ON bk.member_id = c.id
    JOIN netsugen.resource AS r ON r.id = bk.resource_id
    WHERE bk.price_yen > 0 AND bk.start_at >= :since AND bk.start_at < :until
      AND (bk.status = 'confirmed'
           OR bk.deadline_overridden
           OR bk.cancelled_at > bk.start_at - make_interval(hours => :deadline_hours))
      AND NOT EXISTS (SELECT 1 FROM netsugen.billed_item AS b WHERE b.item_key = 'booking:' || bk.id::text)
    ORDER BY bk.member_id, bk.start_at
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
    "kind",
    "description",
    "amount_yen",
    "plan_code",
    "service_date",
    "period_start",
    "period_end",
    "member_user_id",
    "minutes",
    "blocks",
    "uncapped_yen",
    "cap_applied",
    "corrects",
)
_ITEM_COLUMNS = ("item_key", "kind", "member_id", "period_start", "invoice_id", "plan_code")


async def _each(result: AsyncResult[Any]) -> AsyncIterator[Row[Any]]:
    async for part in result.partitions(_FETCH):
        for row in part:
            yield row


@dataclass
class _Batch:
    """What one chunk of members writes: invoices, their lines and billed items, capped days."""

    members: int = 0
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    cap_pairs: list[tuple[uuid.UUID, date]] = field(default_factory=list)


async def _write(session: AsyncSession, batch: _Batch) -> tuple[int, int, int]:
    """Insert a chunk's drafts, COPY their lines and billed items, record the capped days.

    ``billed_item``'s primary key refuses an item already on a live invoice: the run holds the
    period's advisory lock, so that only happens if something bypassed it, and then the whole run
    fails rather than bill twice.
    """
    created = lines = yen = 0
    if batch.invoices:
        await session.execute(pg_insert(INVOICE), batch.invoices)
        await copy_rows(
            session, INVOICE_LINE, ("invoice_id", "position", "tax_rate_percent", *_LINE_COLUMNS), batch.lines
        )
        await copy_rows(session, BILLED_ITEM, _ITEM_COLUMNS, batch.items)
        created, lines, yen = (
            len(batch.invoices),
            len(batch.lines),
            sum(i["total_yen"] for i in batch.invoices),
        )
    await record_daily_caps(session, batch.cap_pairs)
    return created, lines, yen


BILLED_ITEM = cast(Table, BilledItem.__table__)


@dataclass
class _Billed:
    """What a member's live invoices of the month already bill."""

    days: dict[tuple[uuid.UUID | None, date], int] = field(default_factory=dict)
    day_numbers: dict[tuple[uuid.UUID | None, date], str] = field(default_factory=dict)
    fee_keys: set[str] = field(default_factory=set)


def _billed_of(rows: Sequence[Row[Any]]) -> _Billed:
    billed = _Billed()
    for r in rows:
        if r.k == "day":
            billed.days[(r.member_user_id, r.service_date)] = int(r.yen)
            billed.day_numbers[(r.member_user_id, r.service_date)] = r.numbers or ""
        else:
            billed.fee_keys.add(r.item_key)
    return billed


def _line_ref(
    kind: str, user_id: uuid.UUID | None, day: date | None, plan_code: str | None
) -> tuple[Any, ...]:
    return (kind, plan_code) if kind == "subscription" else (kind, user_id, day)


def mark_rebilled(lines: list[DraftLine], released: dict[tuple[Any, ...], str]) -> list[DraftLine]:
    """Lines that bill again what a voided or fully credited invoice billed say so (``corrects``)."""
    out = []
    for line in lines:
        number = released.get(_line_ref(line.kind, line.member_user_id, line.service_date, line.plan_code))
        if number and line.corrects is None:
            line = replace(line, corrects=f"{number}（取消・全額返還済み）の再請求")
        out.append(line)
    return out


def fee_key(member_id: uuid.UUID, plan_code: str, period: Period, n: int = 1) -> str:
    """A monthly fee's item key (``n`` > 1 only for a second span of the same plan in one month)."""
    return f"fee:{member_id}:{plan_code}:{period}" + (f":{n}" if n > 1 else "")


def visit_key(visit_id: uuid.UUID, period: Period) -> str:
    return f"visit:{visit_id}:{period}"


def booking_key(booking_id: uuid.UUID) -> str:
    return f"booking:{booking_id}"


def _hm(t: datetime) -> str:
    local = t.astimezone(JST)
    return f"{local.hour:02d}:{local.minute:02d}"


def booking_line(row: Row[Any], late_cancellation_percent: int) -> DraftLine | None:
    """A booking's line: its price, or for a late cancellation the configured share of it."""
    start = row.start_at.astimezone(JST)
    when = f"{start.month}/{start.day} {_hm(row.start_at)}〜{_hm(row.end_at)}"
    if row.status == "confirmed":
        amount, what = int(row.price_yen), f"{row.name_ja} 予約 {when}"
    else:
        amount = int(row.price_yen) * late_cancellation_percent // 100
        what = f"{row.name_ja} 予約 {when} 期限後キャンセル料（{late_cancellation_percent}%）"
    if amount <= 0:
        return None
    return DraftLine(kind="booking", description=what[:300], amount_yen=amount, service_date=start.date())


def unbilled_lines(
    draft: DraftInvoice,
    *,
    member_id: uuid.UUID,
    period: Period,
    billed: _Billed,
    touched: dict[uuid.UUID | None, set[date]],
) -> tuple[list[DraftLine], list[tuple[str, str | None]]]:
    """The lines of ``draft`` that are not billed yet, and the fee keys they bill.

    A subscription line is new when its fee key is not billed. A drop-in day is billed again only
    when it has an unbilled visit (``touched``), and then only for the difference to what live
    invoices already bill for the day: the daily cap holds across invoices.
    """
    out: list[DraftLine] = []
    keys: list[tuple[str, str | None]] = []
    seen: dict[str, int] = {}
    for line in draft.lines:
        if line.kind == "subscription":
            assert line.plan_code is not None
            seen[line.plan_code] = n = seen.get(line.plan_code, 0) + 1
            key = fee_key(member_id, line.plan_code, period, n)
            if key not in billed.fee_keys:
                out.append(line)
                keys.append((key, line.plan_code))
            continue
        assert line.service_date is not None
        if line.service_date not in touched.get(line.member_user_id, ()):
            continue
        already = billed.days.get((line.member_user_id, line.service_date), 0)
        if already == 0:
            out.append(line)
        elif line.amount_yen > already:
            numbers = billed.day_numbers.get((line.member_user_id, line.service_date), "")
            out.append(
                replace(
                    line,
                    amount_yen=line.amount_yen - already,
                    description=f"{line.description} 追加分"[:300],
                    corrects=f"{numbers} で請求済みの {already:,}円 との差額（当日 {line.amount_yen:,}円）"[
                        :300
                    ],
                )
            )
    return out, keys


async def _advisory_lock(session: AsyncSession, period: Period) -> None:
    """Runs of one month take turns: the second waits, then finds the first one's items billed."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"netsugen.invoice_run:{period}"}
    )


def _window(period: Period, settings: NetsugenSettings) -> dict[str, Any]:
    since = start_of_day_jst(period.start)
    return {
        "period": str(period),
        "period_start": period.start,
        "period_end": period.end,
        "since": since,
        "until": start_of_day_jst(period.end + timedelta(days=1)),
        "scan_from": since - timedelta(days=1),
        "day_before": period.start - timedelta(days=1),
        "deadline_hours": settings.booking_cancellation_deadline_hours,
    }


async def has_unbilled(session: AsyncSession, settings: NetsugenSettings, period: Period) -> bool:
    """The month has something a run would bill (one indexed query; used by the scheduled run)."""
    found = await session.scalar(text(f"SELECT EXISTS ({_UNBILLED_MEMBERS_SQL})"), _window(period, settings))
    return bool(found)


async def run_invoices(
    session: AsyncSession,
    settings: NetsugenSettings,
    *,
    period: Period,
    trigger: str,
    requested_by: str | None = None,
    issue: bool | None = None,
    today: date | None = None,
    progress: Progress | None = None,
) -> InvoiceRun:
    """Bill what ``period`` has not billed yet, one (supplementary) invoice per member. See the module doc."""
    today = today or today_jst()
    issue = settings.billing_run_issue if issue is None else issue
    check_period_over(period, today)
    await _advisory_lock(session, period)
    # The run's queries are simple and cheap per row, but on large months the planner's estimates
    # cross the JIT threshold and compiling costs more than executing (seen: 1.7 s of 3.5 s).
    await session.execute(text("SET LOCAL jit = off"))
    run = InvoiceRun(
        period_start=period.start,
        period_end=period.end,
        trigger=trigger,
        requested_by=requested_by,
        issue=issue,
    )
    session.add(run)
    await session.flush()

    plans = await load_plans(session)
    plan_names = {code: info.name_ja for code, info in plans.items()}
    prices = await load_price_table(session, settings)
    # A visit may start the evening before the month; the calendar covers the margin.
    calendar = await load_calendar(session, period.start - timedelta(days=1), period.end + timedelta(days=1))
    window = _window(period, settings)
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
    billed_rows = _OrderedRows(await session.stream(stream(_BILLED_SQL), window))
    booking_rows = _OrderedRows(await session.stream(stream(_BOOKINGS_SQL), window))
    released_rows = _OrderedRows(await session.stream(stream(_RELEASED_SQL), window))

    chunk = settings.billing_run_chunk_size
    done = 0
    invoices_created = lines_created = total_yen = 0
    batch = _Batch()
    async for m in _each(members):
        assignments = [
            Assignment(r.plan_code, r.start_date, r.end_date, r.kind)
            for r in await assignment_rows.take(m.id)
        ]
        people: dict[uuid.UUID | None, PersonVisits] = {}
        touched: dict[uuid.UUID | None, set[date]] = {}
        new_visits: list[uuid.UUID] = []
        for r in await visit_rows.take(m.id):
            person = people.get(r.member_user_id)
            if person is None:
                person = people[r.member_user_id] = PersonVisits(r.member_user_id, r.user_name)
            person.visits.append(Visit(r.check_in_at, r.check_out_at))
            if not r.billed:
                new_visits.append(r.id)
                touched.setdefault(r.member_user_id, set()).update(
                    (jst_date(r.check_in_at), jst_date(r.check_out_at))
                )
        billed = _billed_of(await billed_rows.take(m.id))
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
            raise NoTariff(
                f"Cannot bill {period}: {exc}.", detail_ja="対象月に有効な料金がありません。"
            ) from exc
        batch.cap_pairs.extend((m.id, day) for day in draft.cap_days)
        lines, fee_keys = unbilled_lines(draft, member_id=m.id, period=period, billed=billed, touched=touched)
        bookings: list[uuid.UUID] = []
        for r in await booking_rows.take(m.id):
            line = booking_line(r, settings.billing_late_cancellation_percent)
            bookings.append(r.id)
            if line is not None:
                lines.append(line)
        released = {
            _line_ref(r.kind, r.member_user_id, r.service_date, r.plan_code): r.number
            for r in await released_rows.take(m.id)
        }
        if released:
            lines = mark_rebilled(lines, released)
        total = sum(line.amount_yen for line in lines)
        if total > 0:
            invoice_id = uuid.uuid4()
            batch.invoices.append(
                {
                    "id": invoice_id,
                    "kind": "invoice",
                    "member_id": m.id,
                    "period_start": period.start,
                    "period_end": period.end,
                    "status": "draft",
                    "recipient_name": m.name,
                    "recipient_kind": m.kind,
                    "recipient_member_number": m.member_number,
                    "total_yen": total,
                    "tax_rate_percent": TAX_RATE_PERCENT,
                    "tax_yen": consumption_tax_included(
                        total, rate_percent=TAX_RATE_PERCENT, rounding=settings.billing_tax_rounding
                    ),
                    "tax_rounding": settings.billing_tax_rounding,
                    "run_id": run.id,
                    "created_by": requested_by or trigger,
                }
            )
            batch.lines.extend(
                (invoice_id, n, TAX_RATE_PERCENT, *(getattr(line, c) for c in _LINE_COLUMNS))
                for n, line in enumerate(lines, start=1)
            )
            batch.items.extend(
                (key, "fee", m.id, period.start, invoice_id, plan_code) for key, plan_code in fee_keys
            )
            batch.items.extend(
                (visit_key(v, period), "visit", m.id, period.start, invoice_id, None) for v in new_visits
            )
            batch.items.extend(
                (booking_key(b), "booking", m.id, period.start, invoice_id, None) for b in bookings
            )
        batch.members += 1
        if batch.members >= chunk:
            created, n_lines, yen = await _write(session, batch)
            invoices_created, lines_created, total_yen = (
                invoices_created + created,
                lines_created + n_lines,
                total_yen + yen,
            )
            done += batch.members
            batch = _Batch()
            if progress:
                progress(done, max(total_members, done))
    for rows in (assignment_rows, visit_rows, billed_rows, booking_rows, released_rows):
        await rows.close()
    created, n_lines, yen = await _write(session, batch)
    invoices_created, lines_created, total_yen = (
        invoices_created + created,
        lines_created + n_lines,
        total_yen + yen,
    )
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
