"""The KPI progress report of a fiscal year: every indicator and breakdown of every plan section,
graded by the registry's own progress computation (``progress.service.compute_docs``) with the
observations up to that fiscal year, in the shape of the progress API (``progress.router.to_progress``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.vocab import ASPECT_NAMES, ASPECTS, MAX_FISCAL_YEAR, STATUSES, Language
from services.kpi_api.indicators.models import Breakdown, Indicator, IndicatorSdgTarget, Target
from services.kpi_api.progress.router import to_progress
from services.kpi_api.progress.schemas import ProgressOut, TargetProgressOut
from services.kpi_api.progress.service import compute_docs
from services.kpi_api.reports.labels import REPORT_SECTIONS, TOTAL, ReportSection
from services.kpi_api.sdgs.models import SdgGoal, SdgTarget
from shared.errors import Unprocessable
from shared.jst import now_jst

#: FY2020 is the year before the plan (the zero of its cumulative counts); the registry ends at 2100.
FIRST_REPORT_FISCAL_YEAR: Final = 2020
LAST_REPORT_FISCAL_YEAR: Final = MAX_FISCAL_YEAR


class InvalidReportYear(Unprocessable):
    slug, title = "invalid-fiscal-year", "Fiscal year out of range"


def check_fiscal_year(fiscal_year: int) -> int:
    if not FIRST_REPORT_FISCAL_YEAR <= fiscal_year <= LAST_REPORT_FISCAL_YEAR:
        raise InvalidReportYear(
            f"`fiscal_year` must be between {FIRST_REPORT_FISCAL_YEAR} and {LAST_REPORT_FISCAL_YEAR}; got {fiscal_year}.",
            detail_ja=f"`fiscal_year` は {FIRST_REPORT_FISCAL_YEAR} から {LAST_REPORT_FISCAL_YEAR} の間で指定してください。",
        )
    return fiscal_year


@dataclass(frozen=True)
class ReportRow:
    """One target of one indicator (and breakdown) as a section states it."""

    part: str
    indicator_id: str
    indicator_name: str
    breakdown_name: str | None
    unit: str
    direction: str
    owner: str | None
    indicator_status: str
    target: TargetProgressOut


@dataclass
class SectionReport:
    section: ReportSection
    rows: list[ReportRow] = field(default_factory=list)
    indicator_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatusGroup:
    key: str
    #: What the report prints: 全体, 経済, "8. 働きがいも経済成長も", "1.1(3) 2030年の…".
    label: str
    counts: dict[str, int]

    @property
    def indicators(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class KpiReport:
    fiscal_year: int
    lang: Language
    generated_at: datetime
    method: str
    progress: dict[str, ProgressOut]
    sections: list[SectionReport]
    total: StatusGroup
    by_aspect: list[StatusGroup]
    by_goal: list[StatusGroup]
    by_section: list[StatusGroup]


def _group(key: str, label: str, statuses: list[str]) -> StatusGroup:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] += 1
    return StatusGroup(key, label, counts)


async def build_report(session: AsyncSession, fiscal_year: int, lang: Language) -> KpiReport:
    """Every indicator of the plan, graded with the observations up to ``fiscal_year``."""
    check_fiscal_year(fiscal_year)
    indicators = (
        (await session.execute(select(Indicator).order_by(Indicator.position, Indicator.id))).scalars().all()
    )
    ids = [i.id for i in indicators]
    docs = await compute_docs(session, ids, up_to_fiscal_year=fiscal_year)
    breakdowns: dict[str, list[dict[str, str]]] = defaultdict(list)
    for b in await session.execute(
        select(Breakdown.indicator_id, Breakdown.key, Breakdown.name_ja, Breakdown.name_en).order_by(
            Breakdown.indicator_id, Breakdown.position
        )
    ):
        breakdowns[b.indicator_id].append({"key": b.key, "name_ja": b.name_ja, "name_en": b.name_en})
    target_sections = {
        t.id: set(t.sections) for t in await session.execute(select(Target.id, Target.sections))
    }
    goals_of: dict[str, set[int]] = defaultdict(set)
    for link in await session.execute(
        select(IndicatorSdgTarget.indicator_id, SdgTarget.goal_number).join(
            SdgTarget, SdgTarget.code == IndicatorSdgTarget.sdg_target_code
        )
    ):
        goals_of[link.indicator_id].add(link.goal_number)
    goals = (
        await session.execute(
            select(SdgGoal.number, SdgGoal.name_ja, SdgGoal.name_en).order_by(SdgGoal.number)
        )
    ).all()

    progress: dict[str, ProgressOut] = {}
    for indicator in indicators:
        status, doc = docs[indicator.id]
        progress[indicator.id] = to_progress(
            indicator=indicator,
            status=status,
            doc=doc,
            computed_at=None,
            breakdowns=breakdowns[indicator.id],
            lang=lang,
        )

    sections = []
    for section in REPORT_SECTIONS:
        report = SectionReport(section)
        for indicator in indicators:
            if not set(indicator.sections) & set(section.parts):
                continue
            p = progress[indicator.id]
            report.indicator_ids.append(indicator.id)
            for target in p.targets:
                stated = target_sections.get(target.target_id or -1, set()) & set(section.parts)
                if not stated:
                    continue
                report.rows.append(
                    ReportRow(
                        part=min(stated),
                        indicator_id=indicator.id,
                        indicator_name=p.name,
                        breakdown_name=target.breakdown_name,
                        unit=indicator.unit,
                        direction=indicator.direction,
                        owner=indicator.owner,
                        indicator_status=p.status,
                        target=target,
                    )
                )
        report.rows.sort(key=lambda r: (r.part, ids.index(r.indicator_id)))
        if report.rows or section.key != "2(3)-1":  # 2(3)-1 states no KPI in the current plan
            sections.append(report)

    statuses = {i: p.status for i, p in progress.items()}
    aspect_of = {i.id: i.aspect for i in indicators}
    return KpiReport(
        fiscal_year=fiscal_year,
        lang=lang,
        generated_at=now_jst(),
        method=next(iter(progress.values())).method if progress else "",
        progress=progress,
        sections=sections,
        total=_group("all", TOTAL[lang], list(statuses.values())),
        by_aspect=[
            _group(a, ASPECT_NAMES[a][lang], [s for i, s in statuses.items() if aspect_of[i] == a])
            for a in ASPECTS
        ],
        by_goal=[
            _group(
                str(g.number),
                f"{g.number}. {g.name_ja if lang == 'ja' else g.name_en}",
                [s for i, s in statuses.items() if g.number in goals_of[i]],
            )
            for g in goals
        ],
        by_section=[
            _group(
                s.section.key,
                f"{s.section.key} {s.section.title(lang)}",
                [statuses[i] for i in s.indicator_ids],
            )
            for s in sections
        ],
    )


def exact(value: Decimal | None) -> int | Decimal | None:
    """A registry value for a spreadsheet cell: integers stay integers."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value
