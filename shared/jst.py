"""Japanese calendar helpers: JST, the fiscal year (April to March) and money as integer yen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer

JST = ZoneInfo("Asia/Tokyo")

#: Money is always an integer number of yen (tax-inclusive, 総額表示). Never a float.
Yen = int


def now_jst() -> datetime:
    return datetime.now(tz=JST)


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def to_jst(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must carry an offset")
    return dt.astimezone(JST)


def _as_jst(dt: datetime) -> datetime:
    return dt.astimezone(JST) if dt.tzinfo is not None else dt


#: A timestamp in an API answer: always written in JST (``+09:00``), whatever its source (the
#: database driver answers in UTC). Use it for every ``datetime`` field of a response schema.
JstDatetime = Annotated[datetime, PlainSerializer(_as_jst, return_type=datetime)]


def jst_date(dt: datetime) -> date:
    """The JST calendar day of an aware timestamp."""
    return to_jst(dt).date()


def fiscal_year_of(d: date) -> int:
    """Japanese fiscal year (年度): FY2025 = 2025-04-01 … 2026-03-31."""
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_range(fiscal_year: int) -> tuple[date, date]:
    """First and last day (inclusive) of a fiscal year."""
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def month_range(year: int, month: int) -> tuple[date, date]:
    """First and last day (inclusive) of a calendar month."""
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def start_of_day_jst(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=JST)


def format_yen(amount: Yen) -> str:
    """`12345` → `¥12,345` (used on printable documents)."""
    return f"¥{amount:,}"
