"""Bulk import of observations from CSV: validated completely before anything is written.

Format (UTF-8, with or without BOM; Shift_JIS/CP932 as saved by Excel is also read):

    indicator_id,fiscal_year,value,breakdown,source,note,correction
    per-capita-wage,2022,4420000,,毎月勤労統計調査,速報値,
    healthy-life-expectancy,2022,72.5,male,,,

``indicator_id``, ``fiscal_year`` and ``value`` are required columns; ``breakdown``, ``source``,
``note`` and ``correction`` (true/false, 1/0, yes/no; empty = false) are optional; the header is
line 1 and columns may come in any order. Every line is checked (the same rules as the API) and
every error is reported with its line number; if there is any, nothing is written. A row equal to
what is recorded is skipped, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.http import bump_version
from services.kpi_api.core.numbers import MAX_DECIMAL_PLACES, MAX_DIGITS, Value
from services.kpi_api.core.vocab import MAX_FISCAL_YEAR, MIN_FISCAL_YEAR, Language
from services.kpi_api.indicators.models import Breakdown, Indicator
from services.kpi_api.observations.schemas import CsvErrorOut, ImportResult, StatusChangeOut
from services.kpi_api.observations.service import Current, Write, apply_writes, current_values
from services.kpi_api.progress.service import refresh_progress
from shared.auth import Principal
from shared.errors import Unprocessable

REQUIRED: Final = ("indicator_id", "fiscal_year", "value")
OPTIONAL: Final = ("breakdown", "source", "note", "correction")
MAX_ROWS: Final = 10_000
MAX_REPORTED_ERRORS: Final = 1_000
TRUE: Final = {"true", "1", "yes", "y"}
FALSE: Final = {"", "false", "0", "no", "n"}

_VALUE: Final = TypeAdapter(Value)

# code → (English, Japanese) message templates.
MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "encoding": (
        "The file is neither UTF-8 nor Shift_JIS text.",
        "ファイルが UTF-8 でも Shift_JIS でもありません。",
    ),
    "malformed": ("The CSV is malformed: {detail}.", "CSV の形式が不正です: {detail}。"),
    "empty": ("The file has no header line.", "ヘッダー行がありません。"),
    "no_rows": ("The file has a header but no data rows.", "データ行がありません。"),
    "too_many_rows": (
        f"At most {MAX_ROWS} data rows per file.",
        f"1ファイルのデータ行は最大 {MAX_ROWS} 行です。",
    ),
    "missing_column": ("Required column '{column}' is missing.", "必須の列 '{column}' がありません。"),
    "unknown_column": (
        "Unknown column '{column}'; allowed: " + ", ".join(REQUIRED + OPTIONAL) + ".",
        "不明な列 '{column}' です。使用できる列: " + ", ".join(REQUIRED + OPTIONAL) + "。",
    ),
    "duplicate_column": ("Column '{column}' appears twice.", "列 '{column}' が重複しています。"),
    "column_count": (
        "Expected {expected} fields, found {found}.",
        "項目数が {expected} ではなく {found} です。",
    ),
    "required": ("A value is required.", "値が必要です。"),
    "too_long": ("At most {max} characters.", "最大 {max} 文字です。"),
    "fiscal_year": (
        f"Fiscal year must be a whole year from {MIN_FISCAL_YEAR} to {MAX_FISCAL_YEAR}; got '{{value}}'.",
        f"年度は {MIN_FISCAL_YEAR}〜{MAX_FISCAL_YEAR} の整数で指定してください('{{value}}')。",
    ),
    "not_numeric": (
        "'{value}' is not a number (write digits with an optional '.', no thousands separators).",
        "'{value}' は数値ではありません(桁区切りのカンマは使わないでください)。",
    ),
    "not_finite": ("'{value}' is not a finite number.", "'{value}' は有限の数値ではありません。"),
    "too_precise": (
        f"'{{value}}' has too many digits (at most {MAX_DIGITS}, {MAX_DECIMAL_PLACES} after the point).",
        f"'{{value}}' の桁数が多すぎます(最大 {MAX_DIGITS} 桁、小数点以下 {MAX_DECIMAL_PLACES} 桁)。",
    ),
    "correction": ("'{value}' is not true or false.", "'{value}' は true/false ではありません。"),
    "unknown_indicator": ("No indicator with id '{value}'.", "指標 '{value}' は存在しません。"),
    "breakdown_required": (
        "Indicator '{indicator}' is split into breakdowns; give one of {known}.",
        "指標 '{indicator}' は内訳ごとに記録します。{known} のいずれかを指定してください。",
    ),
    "no_breakdowns": (
        "Indicator '{indicator}' has no breakdowns; leave the column empty.",
        "指標 '{indicator}' に内訳はありません。空欄にしてください。",
    ),
    "unknown_breakdown": (
        "Indicator '{indicator}' has no breakdown '{value}' (known: {known}).",
        "指標 '{indicator}' に内訳 '{value}' はありません(有効: {known})。",
    ),
    "duplicate_row": (
        "The same indicator, breakdown and fiscal year is already on line {first}.",
        "同じ指標・内訳・年度が {first} 行目にもあります。",
    ),
    "cumulative_decrease": (
        "A cumulative (running) total cannot go down: FY{fiscal_year} {value} against FY{other_year} "
        "{other}. If earlier figures were revised, set correction to true and give the reason in note.",
        "累計値は減りません: {fiscal_year}年度の {value} は{other_year}年度の {other} と矛盾します。"
        "過去の値の見直しによる場合は correction を true にし、note に理由を書いてください。",
    ),
    "negative_count": (
        "This indicator is reported as each fiscal year's own count; {value} is negative.",
        "この指標は年度ごとの件数で報告されます。{value} は負の値です。",
    ),
    "conflict": (
        "FY{fiscal_year} already has the value {current} (revision {revision}); "
        "set the correction column to true to replace it with a new revision.",
        "{fiscal_year}年度には既に値 {current}(版 {revision})があります。"
        "置き換える場合は correction 列を true にしてください。",
    ),
}


def _check_cumulative(
    writes: Sequence[tuple[Write, Current | None]],
    flags: dict[str, Any],
    recorded: dict[tuple[str, str | None, int], Current],
    first_line: dict[tuple[str, str | None, int], int],
    errors: _Errors,
) -> None:
    """The API's rule for 累計 values (``service.check_cumulative``), over the file and what is recorded."""
    series: dict[tuple[str, str | None], dict[int, Decimal]] = {}
    for (indicator_id, breakdown, fiscal_year), current in recorded.items():
        series.setdefault((indicator_id, breakdown), {})[fiscal_year] = current.value
    in_file = {(w.indicator_id, w.breakdown, w.fiscal_year) for w, _ in writes}
    for w, _ in writes:
        series.setdefault((w.indicator_id, w.breakdown), {})[w.fiscal_year] = w.value
    for w, _ in writes:
        flag = flags[w.indicator_id]
        if not flag.cumulative:
            continue
        line = first_line[(w.indicator_id, w.breakdown, w.fiscal_year)]
        if flag.observation_basis == "fiscal_year_count":
            if w.value < 0:
                errors.add(line, "value", "negative_count", value=w.value)
            continue
        if w.correction and w.note:
            continue
        values = series[(w.indicator_id, w.breakdown)]
        earlier = [y for y in values if y < w.fiscal_year]
        # A pair of lines of this file that contradict each other is reported once, on the later year.
        later = [y for y in values if y > w.fiscal_year and (w.indicator_id, w.breakdown, y) not in in_file]
        clash = None
        if earlier and w.value < values[max(earlier)]:
            clash = max(earlier)
        elif later and w.value > values[min(later)]:
            clash = min(later)
        if clash is not None:
            errors.add(
                line,
                "value",
                "cumulative_decrease",
                fiscal_year=w.fiscal_year,
                value=w.value,
                other_year=clash,
                other=values[clash],
            )


class CsvInvalid(Unprocessable):
    slug, title = "csv-invalid", "Invalid CSV import"

    def __init__(self, errors: Sequence[CsvErrorOut]) -> None:
        shown = list(errors)[:MAX_REPORTED_ERRORS]
        super().__init__(
            f"The file has {len(errors)} error(s); nothing was imported. Fix them and send the whole file again.",
            detail_ja=f"ファイルに {len(errors)} 件のエラーがあるため、何も取り込んでいません。"
            "修正してファイル全体を再送してください。",
            error_count=len(errors),
            errors=[e.model_dump() for e in shown],
        )


@dataclass
class _Errors:
    lang: Language
    items: list[CsvErrorOut]

    def add(self, line: int | None, where: str | None, code: str, **values: object) -> None:
        en, ja = MESSAGES[code]
        template = ja if self.lang == "ja" else en
        self.items.append(CsvErrorOut(line=line, column=where, code=code, message=template.format(**values)))


@dataclass(frozen=True)
class _Line:
    line: int
    write: Write


def decode(data: bytes) -> str | None:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _text(value: str, line: int, column: str, limit: int, errors: _Errors) -> str | None:
    value = value.strip()
    if len(value) > limit:
        errors.add(line, column, "too_long", max=limit)
    return value or None


def _value(raw: str, line: int, errors: _Errors) -> Decimal | None:
    text = raw.strip()
    if not text:
        errors.add(line, "value", "required")
        return None
    try:
        return _VALUE.validate_python(text)
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        code = {
            "finite_number": "not_finite",
            "decimal_max_digits": "too_precise",
            "decimal_max_places": "too_precise",
            "decimal_whole_digits": "too_precise",
        }.get(kind, "not_numeric")
        errors.add(line, "value", code, value=text)
        return None


def _fiscal_year(raw: str, line: int, errors: _Errors) -> int | None:
    text = raw.strip()
    if not text:
        errors.add(line, "fiscal_year", "required")
        return None
    if not text.isascii() or not text.isdigit() or not MIN_FISCAL_YEAR <= int(text) <= MAX_FISCAL_YEAR:
        errors.add(line, "fiscal_year", "fiscal_year", value=text)
        return None
    return int(text)


def parse(text: str, errors: _Errors) -> list[_Line]:
    """Every well-formed line as a write; problems go to ``errors`` (checks needing no database)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[_Line] = []
    try:
        header: list[str] | None = None
        end = 0
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                if not _check_header(header, start, errors):
                    return []
                continue
            if len(lines) >= MAX_ROWS:
                errors.add(start, None, "too_many_rows")
                return []
            if len(cells) != len(header):
                errors.add(start, None, "column_count", expected=len(header), found=len(cells))
                continue
            line = _parse_line(dict(zip(header, cells, strict=True)), start, errors)
            if line is not None:
                lines.append(line)
    except csv.Error as exc:
        errors.add(reader.line_num or None, None, "malformed", detail=str(exc))
        return []
    if header is None:
        errors.add(None, None, "empty")
    elif not lines and not errors.items:
        errors.add(None, None, "no_rows")
    return lines


def _check_header(header: list[str], line: int, errors: _Errors) -> bool:
    ok = True
    seen: set[str] = set()
    for column in header:
        if column in seen:
            errors.add(line, column, "duplicate_column", column=column)
            ok = False
        seen.add(column)
        if column not in REQUIRED + OPTIONAL:
            errors.add(line, column, "unknown_column", column=column)
            ok = False
    for column in REQUIRED:
        if column not in seen:
            errors.add(line, column, "missing_column", column=column)
            ok = False
    return ok


def _parse_line(cells: dict[str, str], line: int, errors: _Errors) -> _Line | None:
    before = len(errors.items)
    indicator_id = cells["indicator_id"].strip()
    if not indicator_id:
        errors.add(line, "indicator_id", "required")
    fiscal_year = _fiscal_year(cells["fiscal_year"], line, errors)
    value = _value(cells["value"], line, errors)
    breakdown = _text(cells.get("breakdown", ""), line, "breakdown", 50, errors)
    source = _text(cells.get("source", ""), line, "source", 500, errors)
    note = _text(cells.get("note", ""), line, "note", 2000, errors)
    flag = cells.get("correction", "").strip().lower()
    if flag not in TRUE | FALSE:
        errors.add(line, "correction", "correction", value=cells.get("correction", "").strip())
    if len(errors.items) > before or fiscal_year is None or value is None:
        return None
    return _Line(line, Write(indicator_id, breakdown, fiscal_year, value, source, note, flag in TRUE))


async def import_observations(
    session: AsyncSession, data: bytes, principal: Principal, lang: Language
) -> ImportResult:
    errors = _Errors(lang, [])
    text = decode(data)
    if text is None:
        errors.add(None, None, "encoding")
        raise CsvInvalid(errors.items)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: refuse it here, with its line
        errors.add(text[: text.index("\x00")].count("\n") + 1, None, "malformed", detail="NUL character")
        raise CsvInvalid(errors.items)
    lines = parse(text, errors)

    ids = sorted({line.write.indicator_id for line in lines})
    # Lock every indicator named (in id order, so two imports cannot deadlock) before reading
    # what is recorded: the checks below then hold until commit.
    flags = {
        row.id: row
        for row in (
            await session.execute(
                select(
                    Indicator.id, Indicator.cumulative, Indicator.observation_basis, Indicator.headline_total
                )
                .where(Indicator.id.in_(ids))
                .order_by(Indicator.id)
                .with_for_update(key_share=True)
            )
        ).all()
    }
    known = set(flags)
    breakdowns: dict[str, list[str]] = {i: [] for i in known}
    for row in await session.execute(
        select(Breakdown.indicator_id, Breakdown.key)
        .where(Breakdown.indicator_id.in_(list(known)))
        .order_by(Breakdown.indicator_id, Breakdown.position)
    ):
        breakdowns[row.indicator_id].append(row.key)
    recorded = await current_values(session, sorted(known))

    first_line: dict[tuple[str, str | None, int], int] = {}
    writes: list[tuple[Write, Current | None]] = []
    for line in lines:
        w = line.write
        if w.indicator_id not in known:
            errors.add(line.line, "indicator_id", "unknown_indicator", value=w.indicator_id)
            continue
        keys = breakdowns[w.indicator_id]
        if w.breakdown is None and keys and not flags[w.indicator_id].headline_total:
            errors.add(
                line.line, "breakdown", "breakdown_required", indicator=w.indicator_id, known=", ".join(keys)
            )
            continue
        if w.breakdown is not None and w.breakdown not in keys:
            code = "unknown_breakdown" if keys else "no_breakdowns"
            errors.add(
                line.line,
                "breakdown",
                code,
                indicator=w.indicator_id,
                value=w.breakdown,
                known=", ".join(keys),
            )
            continue
        key = (w.indicator_id, w.breakdown, w.fiscal_year)
        if key in first_line:
            errors.add(line.line, None, "duplicate_row", first=first_line[key])
            continue
        first_line[key] = line.line
        current = recorded.get(key)
        if current is not None and not w.correction and not current.same_as(w.value, w.source, w.note):
            errors.add(
                line.line,
                "value",
                "conflict",
                fiscal_year=w.fiscal_year,
                current=current.value,
                revision=current.revision,
            )
            continue
        writes.append((w, current))
    _check_cumulative(writes, flags, recorded, first_line, errors)
    if errors.items:
        raise CsvInvalid(sorted(errors.items, key=lambda e: e.line or 0))

    outcomes = await apply_writes(session, writes, principal)
    touched = sorted(
        {
            w.indicator_id
            for (w, _), (outcome, _) in zip(writes, outcomes, strict=True)
            if outcome != "unchanged"
        }
    )
    changes = await refresh_progress(session, touched)
    if touched:
        await bump_version(session)
    return ImportResult(
        rows=len(writes),
        created=sum(1 for outcome, _ in outcomes if outcome == "created"),
        corrected=sum(1 for outcome, _ in outcomes if outcome == "corrected"),
        unchanged=sum(1 for outcome, _ in outcomes if outcome == "unchanged"),
        status_changes=[
            StatusChangeOut(indicator_id=c.indicator_id, previous_status=c.previous, status=c.current)  # type: ignore[arg-type]
            for c in changes.values()
            if c.changed
        ],
    )
