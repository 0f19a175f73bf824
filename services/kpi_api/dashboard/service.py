"""What the progress site shows, read from the registry (the same stored progress as the API).

The home page costs two statements (every indicator with its children and stored progress, in the
list's one query; the 17 goals) and an indicator page three (the indicator, its observations with
the notes of their current revisions, the goals it links to). Neither recomputes progress: the
stored document of ``progress/service.py`` is the single source, as for ``/v1/kpis/{id}/progress``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.exceptions import IndicatorNotFound
from services.kpi_api.core.numbers import plain
from services.kpi_api.core.vocab import (
    ASPECT_NAMES,
    ASPECTS,
    DIRECTION_LABELS,
    SECTION_LABELS,
    STATUSES,
    Language,
    section_label,
    status_label,
    unit_label,
)
from services.kpi_api.dashboard.charts import Point, Series
from services.kpi_api.dashboard.i18n import SDG_COLOURS, STATUS_SYMBOLS, t, text_on
from services.kpi_api.indicators import repository
from services.kpi_api.indicators.models import Indicator
from services.kpi_api.observations.models import Observation, ObservationRevision
from services.kpi_api.progress.rules import aggregate_status
from services.kpi_api.progress.service import compute_docs
from services.kpi_api.sdgs.models import SdgGoal

#: The plan's sections as the home page groups them: 2(2)①②③ are the three aspects of one section.
SECTION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1.1(3)", ("1.1(3)",)),
    ("1.2(1)", ("1.2(1)",)),
    ("2(2)", ("2(2)①", "2(2)②", "2(2)③")),
    ("2(3)-1", ("2(3)-1",)),
    ("2(3)-2", ("2(3)-2",)),
)
SECTION_GROUP_TITLES: dict[str, dict[Language, str]] = {
    "2(2)": {"ja": "三側面の取組", "en": "Flagship initiatives in the three aspects"},
}


@dataclass(frozen=True)
class StatusView:
    key: str
    label: str
    symbol: str


def status_view(status: str, lang: Language) -> StatusView:
    return StatusView(status, status_label(status, lang), STATUS_SYMBOLS.get(status, ""))


@dataclass
class Counts:
    total: int
    by_status: list[tuple[StatusView, int]]


def counts(statuses: list[str], lang: Language) -> Counts:
    tally = Counter(statuses)
    return Counts(len(statuses), [(status_view(s, lang), tally.get(s, 0)) for s in STATUSES])


@dataclass
class IndicatorLine:
    id: str
    name: str
    status: StatusView
    latest_fiscal_year: int | None
    aspect: str
    aspect_name: str


@dataclass
class Group:
    key: str
    title: str
    title_ja: str
    counts: Counts
    indicators: list[IndicatorLine] = field(default_factory=list)
    colour: str | None = None
    text_colour: str | None = None


@dataclass
class HomeView:
    lang: Language
    overall: Counts
    aspects: list[Group]
    goals: list[Group]
    sections: list[Group]
    indicators: list[IndicatorLine]


def _line(row: Any, lang: Language) -> IndicatorLine:
    ind: Indicator = row.Indicator
    doc = row.progress_doc or {}
    return IndicatorLine(
        id=ind.id,
        name=ind.name_ja if lang == "ja" else ind.name_en,
        status=status_view(row.status, lang),
        latest_fiscal_year=doc.get("latest_fiscal_year"),
        aspect=ind.aspect,
        aspect_name=ASPECT_NAMES[ind.aspect][lang],
    )


async def home_view(session: AsyncSession, lang: Language) -> HomeView:
    rows = list(
        (await session.execute(repository.indicator_query().order_by(Indicator.position, Indicator.id))).all()
    )
    goal_rows = (
        await session.execute(
            select(SdgGoal.number, SdgGoal.name_ja, SdgGoal.name_en).order_by(SdgGoal.number)
        )
    ).all()
    lines = [_line(r, lang) for r in rows]
    aspects = [
        Group(
            key=a,
            title=ASPECT_NAMES[a][lang],
            title_ja=ASPECT_NAMES[a]["ja"],
            counts=counts([line.status.key for line in lines if line.aspect == a], lang),
            indicators=[line for line in lines if line.aspect == a],
        )
        for a in ASPECTS
    ]
    goals_of = {r.Indicator.id: {link["goal"] for link in r.sdg_links} for r in rows}
    goals = []
    for g in goal_rows:
        members = [line for line in lines if g.number in goals_of[line.id]]
        colour = SDG_COLOURS[g.number]
        goals.append(
            Group(
                key=str(g.number),
                title=g.name_ja if lang == "ja" else g.name_en,
                title_ja=g.name_ja,
                counts=counts([m.status.key for m in members], lang),
                indicators=members,
                colour=colour,
                text_colour=text_on(colour),
            )
        )
    sections = []
    for key, parts in SECTION_GROUPS:
        members = [
            line for line, r in zip(lines, rows, strict=True) if set(parts) & set(r.Indicator.sections)
        ]
        if not members:
            continue
        if key in SECTION_GROUP_TITLES:
            title, title_ja = SECTION_GROUP_TITLES[key][lang], SECTION_GROUP_TITLES[key]["ja"]
        else:
            title, title_ja = section_label(key, lang), SECTION_LABELS[key]["ja"]
        sections.append(
            Group(
                key=key,
                title=title,
                title_ja=title_ja,
                counts=counts([m.status.key for m in members], lang),
                indicators=members,
            )
        )
    return HomeView(
        lang=lang,
        overall=counts([line.status.key for line in lines], lang),
        aspects=aspects,
        goals=goals,
        sections=sections,
        indicators=lines,
    )


# ---- one indicator ------------------------------------------------------------------------------
@dataclass
class TargetRow:
    fiscal_year: int
    target_text: str
    status: StatusView
    achievement_rate: str
    expected_rate: str
    expected_value: str
    projection: str
    explanation: str


@dataclass
class DataRow:
    fiscal_year: int
    observed: str
    reported: str | None
    expected: str
    target: str


@dataclass
class SeriesView:
    key: str | None
    name: str
    status: StatusView
    chart: Series
    chart_id: str
    targets: list[TargetRow]
    rows: list[DataRow]
    description: str
    has_projection: bool


@dataclass
class SdgTargetView:
    code: str
    goal: int
    goal_name: str
    colour: str
    text_colour: str


@dataclass
class NoteView:
    fiscal_year: int
    breakdown: str | None
    source: str | None
    note: str | None
    revision: int


@dataclass
class IndicatorView:
    lang: Language
    id: str
    name: str
    name_other: str
    unit: str
    unit_ja: str
    direction: str
    owner: str | None
    cumulative: bool
    per_year_counts: bool
    source: str | None
    sections: list[tuple[str, str]]
    sdg_targets: list[SdgTargetView]
    status: StatusView
    status_rule: str
    breakdown_statuses: list[tuple[str, StatusView]]
    series: list[SeriesView]
    notes: list[NoteView]
    has_breakdowns: bool


def _pct(text: str | None) -> str:
    if text is None:
        return "—"
    value = (Decimal(text) * 100).quantize(Decimal("0.1"))
    return f"{value}%"


def fmt_value(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = plain(value)
    whole, _, frac = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    return ("-" if text.startswith("-") else "") + grouped


def _with_unit(value: Decimal | None, unit: str, lang: Language, *, computed: bool = False) -> str:
    """A value with its unit; ``computed`` values (expected, projected) are shown to 2 decimals."""
    if value is None:
        return "—"
    if computed:
        value = value.quantize(Decimal("0.01"))
        value = value.to_integral_value() if value == value.to_integral_value() else value.normalize()
    shown = fmt_value(value)
    return f"{shown}{unit}" if lang == "ja" else f"{shown} {unit}"


def _comparator_text(target: dict[str, Any], direction: str, unit: str, lang: Language) -> str:
    value = target["target_value"]
    if target["comparator"] == "increase_from_baseline":
        ref = target.get("reference_fiscal_year")
        if lang == "ja":
            return f"{ref}年度より増加" if ref else "基準値より増加"
        return f"an increase over FY{ref}" if ref else "an increase over the baseline"
    amount = _with_unit(Decimal(value), unit, lang) if value is not None else "—"
    if target["comparator"] == "gte":
        return f"{amount}以上" if lang == "ja" else f"at least {amount}"
    if target["comparator"] == "lte":
        return f"{amount}以下" if lang == "ja" else f"at most {amount}"
    return amount


def _running(values: list[tuple[int, Decimal]], per_year: bool) -> list[tuple[int, Decimal, Decimal | None]]:
    """(fiscal year, value shown, reported value when it differs), in fiscal-year order."""
    result: list[tuple[int, Decimal, Decimal | None]] = []
    total = Decimal(0)
    for year, value in sorted(values):
        if per_year:
            total += value
            result.append((year, total, value))
        else:
            result.append((year, value, None))
    return result


async def indicator_view(session: AsyncSession, indicator_id: str, lang: Language) -> IndicatorView:
    row = await repository.get_indicator_row(session, indicator_id)
    if row is None:
        raise IndicatorNotFound(indicator_id)
    ind: Indicator = row.Indicator
    status, doc = row.status, row.progress_doc
    if doc is None:  # never stored: compute (not store), as /progress does
        status, doc = (await compute_docs(session, [indicator_id]))[indicator_id]
    observed = (
        await session.execute(
            select(
                Observation.breakdown_key,
                Observation.fiscal_year,
                Observation.value,
                Observation.revision,
                ObservationRevision.source,
                ObservationRevision.note,
            )
            .join(
                ObservationRevision,
                (ObservationRevision.observation_id == Observation.id)
                & (ObservationRevision.revision == Observation.revision),
            )
            .where(Observation.indicator_id == indicator_id)
            .order_by(Observation.fiscal_year)
        )
    ).all()
    goal_numbers = sorted({link["goal"] for link in row.sdg_links})
    goal_names = {
        g.number: (g.name_ja if lang == "ja" else g.name_en)
        for g in await session.execute(
            select(SdgGoal.number, SdgGoal.name_ja, SdgGoal.name_en).where(SdgGoal.number.in_(goal_numbers))
        )
    }
    unit = unit_label(ind.unit, lang)
    per_year = ind.cumulative and ind.observation_basis == "fiscal_year_count"
    names = {b["key"]: (b["name_ja"] if lang == "ja" else b["name_en"]) for b in row.breakdowns}
    keys: list[str | None] = [b["key"] for b in row.breakdowns]
    values: dict[str | None, list[tuple[int, Decimal]]] = defaultdict(list)
    for o in observed:
        values[o.breakdown_key].append((o.fiscal_year, o.value))
    graded: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for target in doc["targets"]:
        graded[target["breakdown"]].append(target)
    if not keys:
        keys = [None]
    elif ind.headline_total and (values.get(None) or graded.get(None)):
        keys = [None, *keys]
    breakdown_status = {b["breakdown"]: b["status"] for b in doc["breakdowns"]}
    baselines = {b["breakdown"]: b for b in row.baselines}

    series_views = []
    for n, key in enumerate(keys):
        targets = graded.get(key, [])
        points = _running(values.get(key, []), per_year)
        baseline: Point | None = None
        implied = False
        for target in targets:
            if target["baseline"] is not None:
                baseline = Point(target["baseline"]["fiscal_year"], Decimal(target["baseline"]["value"]))
                implied = bool(target["baseline_implied"])
                break
        if baseline is None and key in baselines:
            baseline = Point(baselines[key]["fiscal_year"], Decimal(baselines[key]["value"]))
        target_points = [
            Point(x["fiscal_year"], Decimal(x["target_value"]))
            for x in targets
            if x["target_value"] is not None
        ]
        projection = None
        furthest = max(targets, key=lambda x: x["fiscal_year"], default=None)
        if furthest is not None and furthest["anticipated_value"] is not None and points:
            projection = Point(
                max(furthest["fiscal_year"], points[-1][0]), Decimal(furthest["anticipated_value"])
            )
        chart = Series(
            observations=[Point(y, v) for y, v, _ in points],
            baseline=baseline,
            baseline_implied=implied,
            targets=target_points,
            projection=projection,
            from_zero=ind.cumulative,
            labels={
                "target": t("target", lang),
                "x_axis": f"{t('fiscal_year', lang)} ({unit})",
                "empty": t("no_data_chart", lang),
            },
        )
        target_rows = []
        for x in targets:
            if x["anticipated_value"] is not None:
                fit = t("fit_linear", lang) if x.get("anticipated_fit") == "linear" else t("fit_cagr", lang)
                year = max(x["fiscal_year"], (x["latest"] or {}).get("fiscal_year", 0))
                shown = _with_unit(Decimal(x["anticipated_value"]), unit, lang, computed=True)
                proj = f"{t('fy', lang, year=year)}: {shown} ({fit})"
            elif x.get("projection_unavailable") == "non_positive_base":
                proj = t("no_projection_base", lang)
            else:
                proj = t("no_projection_too_few", lang)
            target_rows.append(
                TargetRow(
                    fiscal_year=x["fiscal_year"],
                    target_text=_comparator_text(x, ind.direction, unit, lang),
                    status=status_view(x["status"], lang),
                    achievement_rate=_pct(x["achievement_rate"]),
                    expected_rate=_pct(x["expected_rate"]),
                    expected_value=_with_unit(
                        Decimal(x["expected_value"]) if x["expected_value"] is not None else None,
                        unit,
                        lang,
                        computed=True,
                    ),
                    projection=proj,
                    explanation=x["explanation"][lang],
                )
            )
        # The data table: every year of an observation, the baseline or a target.
        by_year_target = {p.fiscal_year: p.value for p in target_points}
        years = sorted(
            {y for y, _, _ in points} | set(by_year_target) | ({baseline.fiscal_year} if baseline else set())
        )
        shown_values = {y: (v, r) for y, v, r in points}
        data_rows = []
        for year in years:
            value, reported = shown_values.get(year, (None, None))
            expected = _expected_at(baseline, target_points, year)
            obs_text = _with_unit(value, unit, lang)
            if baseline is not None and year == baseline.fiscal_year and value is None:
                obs_text = f"{_with_unit(baseline.value, unit, lang)} ({t('baseline', lang)})"
            data_rows.append(
                DataRow(
                    fiscal_year=year,
                    observed=obs_text,
                    reported=_with_unit(reported, unit, lang) if per_year and reported is not None else None,
                    expected=_with_unit(expected, unit, lang, computed=True),
                    target=_with_unit(by_year_target.get(year), unit, lang),
                )
            )
        if key is None:
            name = t("total", lang) if ind.headline_total and row.breakdowns else ""
            own_status = status if not row.breakdowns else _series_status(targets)
        else:
            name = names.get(key, key)
            own_status = breakdown_status.get(key, "no_data")
        description = t(
            "chart_desc",
            lang,
            observed=", ".join(f"{t('fy', lang, year=y)} {fmt_value(v)}" for y, v, _ in points)
            or t("none", lang),
            baseline=(
                f"{t('fy', lang, year=baseline.fiscal_year)} {fmt_value(baseline.value)}"
                if baseline
                else t("none", lang)
            ),
            targets=", ".join(
                f"{t('fy', lang, year=p.fiscal_year)} {fmt_value(p.value)}" for p in target_points
            )
            or t("none", lang),
        )
        series_views.append(
            SeriesView(
                key=key,
                name=name,
                status=status_view(own_status, lang),
                chart=chart,
                chart_id=f"chart-{n}",
                targets=target_rows,
                rows=data_rows,
                description=description,
                has_projection=projection is not None,
            )
        )

    notes = [
        NoteView(
            o.fiscal_year,
            names.get(o.breakdown_key) if o.breakdown_key else None,
            o.source,
            o.note,
            o.revision,
        )
        for o in observed
        if o.source or o.note
    ]
    return IndicatorView(
        lang=lang,
        id=ind.id,
        name=ind.name_ja if lang == "ja" else ind.name_en,
        name_other=ind.name_en if lang == "ja" else ind.name_ja,
        unit=unit,
        unit_ja=ind.unit,
        direction=DIRECTION_LABELS[ind.direction][lang],
        owner=ind.owner,
        cumulative=ind.cumulative,
        per_year_counts=per_year,
        source=ind.source,
        sections=[(s, section_label(s, lang)) for s in ind.sections],
        sdg_targets=[
            SdgTargetView(
                code=link["code"],
                goal=link["goal"],
                goal_name=goal_names.get(link["goal"], ""),
                colour=SDG_COLOURS[link["goal"]],
                text_colour=text_on(SDG_COLOURS[link["goal"]]),
            )
            for link in row.sdg_links
        ],
        status=status_view(status, lang),
        status_rule=t("status_rule_breakdowns" if row.breakdowns else "status_rule_targets", lang),
        breakdown_statuses=[
            (names.get(b["breakdown"], b["breakdown"]), status_view(b["status"], lang))
            for b in doc["breakdowns"]
        ],
        series=series_views,
        notes=notes,
        has_breakdowns=bool(row.breakdowns),
    )


def _series_status(targets: list[dict[str, Any]]) -> str:
    """The headline series' own status (the indicator's is the worst over every series)."""
    return aggregate_status([x["status"] for x in targets])


def _expected_at(baseline: Point | None, targets: list[Point], year: int) -> Decimal | None:
    """The straight line from the baseline to the next target at or after ``year`` (None outside it)."""
    if baseline is None or year < baseline.fiscal_year:
        return None
    ahead = [p for p in targets if p.fiscal_year >= year and p.fiscal_year > baseline.fiscal_year]
    if not ahead:
        return None
    target = min(ahead, key=lambda p: p.fiscal_year)
    span = Decimal(target.fiscal_year - baseline.fiscal_year)
    value = baseline.value + (target.value - baseline.value) * Decimal(year - baseline.fiscal_year) / span
    return value.quantize(Decimal("0.01")).normalize() if value != value.to_integral_value() else value
