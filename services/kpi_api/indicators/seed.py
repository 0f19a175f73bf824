"""Loads the reviewed seed files ``services/kpi_api/seed/{sdgs,kpis}.yaml`` (the single source of truth).

Idempotent, entry by entry: each SDG goal, indicator and initiative of the YAML is applied (an
upsert of its row and of its children: breakdowns, SDG links, baselines, targets, KPI links) when
it is new or its text changed since it was last applied. The digest of every applied entry is kept
in ``kpi.seed_record``; an entry whose digest is unchanged is skipped. So:

- running the seed twice changes nothing (the second run writes no row);
- an administrator's later edit of a seeded indicator (through the API) survives restarts, until
  the reviewed YAML entry itself changes;
- the seed never deletes: an entry removed from the YAML is left in the database (delete it
  through the admin API).

Applied indicators get their progress recomputed, and so does stored progress computed by another
method, method version or anticipated method of ``progress/rules.py``, or before the status rule
was stored (after an upgrade). The registry version is bumped
when anything was written.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.http import bump_version
from services.kpi_api.core.vocab import Aspect, Determination, ObservationBasis, Section
from services.kpi_api.indicators.models import (
    Baseline,
    Breakdown,
    Indicator,
    IndicatorSdgTarget,
    SeedRecord,
    Target,
)
from services.kpi_api.initiatives.models import Initiative, InitiativeIndicator
from services.kpi_api.progress import rules
from services.kpi_api.progress.models import IndicatorProgress
from services.kpi_api.progress.rules import Comparator, Direction
from services.kpi_api.progress.service import refresh_progress
from services.kpi_api.sdgs.models import SdgGoal, SdgTarget
from shared.seeding import Progress

SEED_DIR: Final = Path(__file__).resolve().parent.parent / "seed"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedGoal(_Entry):
    number: int = Field(ge=1, le=17)
    name_ja: str
    name_en: str
    targets: list[str]


class SeedLink(_Entry):
    code: str
    determination: Determination
    note: str


class SeedBreakdown(_Entry):
    key: str
    name_ja: str
    name_en: str


class SeedBaseline(_Entry):
    breakdown: str | None
    value: Decimal
    fiscal_year: int


class SeedTarget(_Entry):
    breakdown: str | None
    value: Decimal | None
    fiscal_year: int
    comparator: Comparator
    reference_fiscal_year: int | None = None
    sections: list[Section]


class SeedIndicator(_Entry):
    id: str
    name_ja: str
    name_en: str
    unit: str
    aspect: Aspect
    direction: Direction
    cumulative: bool
    owner: str | None
    observation_basis: ObservationBasis = "running_total"
    headline_total: bool = False
    source: str | None
    sections: list[Section]
    sdg_targets: list[SeedLink]
    breakdowns: list[SeedBreakdown]
    baselines: list[SeedBaseline]
    targets: list[SeedTarget]


class SeedInitiative(_Entry):
    id: str
    name_ja: str
    name_en: str
    section: Section
    kpis: list[str]


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((SEED_DIR / name).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected a mapping at the top level")
    return data


def _digest(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_seed_files() -> tuple[
    list[tuple[SeedGoal, str]], list[tuple[SeedIndicator, str]], list[tuple[SeedInitiative, str]]
]:
    """The parsed entries of both YAML files, each with the digest of its text."""
    sdgs = _load("sdgs.yaml")
    kpis = _load("kpis.yaml")
    goals = [(SeedGoal.model_validate(raw), _digest(raw)) for raw in sdgs.get("goals") or []]
    indicators = [(SeedIndicator.model_validate(raw), _digest(raw)) for raw in kpis.get("indicators") or []]
    initiatives = [
        (SeedInitiative.model_validate(raw), _digest(raw)) for raw in kpis.get("initiatives") or []
    ]
    return goals, indicators, initiatives


def sdg_target_position(code: str) -> int:
    """Order within a goal: 1, 2, … 19, then a, b, c (after every numbered target)."""
    suffix = code.split(".", 1)[1]
    return int(suffix) if suffix.isdigit() else 100 + ord(suffix) - ord("a")


async def _applied(session: AsyncSession) -> dict[tuple[str, str], str]:
    rows = await session.execute(select(SeedRecord.kind, SeedRecord.key, SeedRecord.digest))
    return {(row.kind, row.key): row.digest for row in rows}


async def _record(session: AsyncSession, kind: str, key: str, digest: str) -> None:
    statement = insert(SeedRecord).values(kind=kind, key=key, digest=digest)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SeedRecord.kind, SeedRecord.key],
            set_={"digest": statement.excluded.digest, "applied_at": statement.excluded.applied_at},
        )
    )


async def _apply_goal(session: AsyncSession, goal: SeedGoal) -> None:
    statement = insert(SdgGoal).values(number=goal.number, name_ja=goal.name_ja, name_en=goal.name_en)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SdgGoal.number],
            set_={"name_ja": statement.excluded.name_ja, "name_en": statement.excluded.name_en},
        )
    )
    if goal.targets:
        targets = insert(SdgTarget).values(
            [
                {"code": c, "goal_number": goal.number, "position": sdg_target_position(c)}
                for c in goal.targets
            ]
        )
        await session.execute(
            targets.on_conflict_do_update(
                index_elements=[SdgTarget.code],
                set_={"goal_number": targets.excluded.goal_number, "position": targets.excluded.position},
            )
        )


async def _apply_indicator(session: AsyncSession, entry: SeedIndicator, position: int) -> None:
    values = entry.model_dump(
        include={
            "id",
            "name_ja",
            "name_en",
            "unit",
            "aspect",
            "direction",
            "cumulative",
            "owner",
            "observation_basis",
            "headline_total",
            "source",
            "sections",
        }
    )
    statement = insert(Indicator).values(position=position, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Indicator.id],
            set_={
                **{k: statement.excluded[k] for k in values if k != "id"},
                "position": statement.excluded.position,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    if entry.breakdowns:
        breakdowns = insert(Breakdown).values(
            [
                {
                    "indicator_id": entry.id,
                    "key": b.key,
                    "name_ja": b.name_ja,
                    "name_en": b.name_en,
                    "position": n,
                }
                for n, b in enumerate(entry.breakdowns, start=1)
            ]
        )
        await session.execute(
            breakdowns.on_conflict_do_update(
                index_elements=[Breakdown.indicator_id, Breakdown.key],
                set_={k: breakdowns.excluded[k] for k in ("name_ja", "name_en", "position")},
            )
        )
    if entry.sdg_targets:
        links = insert(IndicatorSdgTarget).values(
            [
                {
                    "indicator_id": entry.id,
                    "sdg_target_code": s.code,
                    "determination": s.determination,
                    "note": s.note,
                }
                for s in entry.sdg_targets
            ]
        )
        await session.execute(
            links.on_conflict_do_update(
                index_elements=[IndicatorSdgTarget.indicator_id, IndicatorSdgTarget.sdg_target_code],
                set_={"determination": links.excluded.determination, "note": links.excluded.note},
            )
        )
    if entry.baselines:
        baselines = insert(Baseline).values(
            [
                {
                    "indicator_id": entry.id,
                    "breakdown_key": b.breakdown,
                    "fiscal_year": b.fiscal_year,
                    "value": b.value,
                }
                for b in entry.baselines
            ]
        )
        await session.execute(
            baselines.on_conflict_do_update(
                constraint="uq_baseline_indicator_id_breakdown_key",
                set_={"fiscal_year": baselines.excluded.fiscal_year, "value": baselines.excluded.value},
            )
        )
    if entry.targets:
        targets = insert(Target).values(
            [
                {
                    "indicator_id": entry.id,
                    "breakdown_key": t.breakdown,
                    "fiscal_year": t.fiscal_year,
                    "comparator": t.comparator,
                    "value": t.value,
                    "reference_fiscal_year": t.reference_fiscal_year,
                    "sections": list(t.sections),
                }
                for t in entry.targets
            ]
        )
        await session.execute(
            targets.on_conflict_do_update(
                constraint="uq_target_indicator_id_breakdown_key_fiscal_year",
                set_={
                    k: targets.excluded[k]
                    for k in ("comparator", "value", "reference_fiscal_year", "sections")
                },
            )
        )


async def _apply_initiative(session: AsyncSession, entry: SeedInitiative, position: int) -> None:
    statement = insert(Initiative).values(
        id=entry.id, position=position, name_ja=entry.name_ja, name_en=entry.name_en, section=entry.section
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Initiative.id],
            set_={
                **{k: statement.excluded[k] for k in ("position", "name_ja", "name_en", "section")},
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    if entry.kpis:
        links = insert(InitiativeIndicator).values(
            [
                {"initiative_id": entry.id, "indicator_id": kpi, "position": n}
                for n, kpi in enumerate(entry.kpis, start=1)
            ]
        )
        await session.execute(
            links.on_conflict_do_update(
                index_elements=[InitiativeIndicator.initiative_id, InitiativeIndicator.indicator_id],
                set_={"position": links.excluded.position},
            )
        )


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    goals, indicators, initiatives = load_seed_files()
    applied = await _applied(session)
    changed = 0
    total = len(goals) + len(indicators) + len(initiatives)
    done = 0

    for goal, digest in goals:
        if applied.get(("sdg_goal", str(goal.number))) != digest:
            await _apply_goal(session, goal)
            await _record(session, "sdg_goal", str(goal.number), digest)
            changed += 1
        done += 1
        progress("kpi: SDGs, indicators, initiatives", done, total)

    changed_indicators: list[str] = []
    for position, (indicator, digest) in enumerate(indicators, start=1):
        if applied.get(("indicator", indicator.id)) != digest:
            await _apply_indicator(session, indicator, position)
            await _record(session, "indicator", indicator.id, digest)
            changed_indicators.append(indicator.id)
        done += 1
        progress("kpi: SDGs, indicators, initiatives", done, total)
    changed += len(changed_indicators)

    for position, (initiative, digest) in enumerate(initiatives, start=1):
        if applied.get(("initiative", initiative.id)) != digest:
            await _apply_initiative(session, initiative, position)
            await _record(session, "initiative", initiative.id, digest)
            changed += 1
        done += 1
        progress("kpi: SDGs, indicators, initiatives", done, total)

    # Stored progress computed by another version of the rules is recomputed too.
    stale = (
        await session.scalars(
            select(IndicatorProgress.indicator_id).where(
                or_(
                    IndicatorProgress.doc["method"].astext != rules.METHOD,
                    IndicatorProgress.doc["method_version"].astext != rules.METHOD_VERSION,
                    IndicatorProgress.doc["anticipated_method"].astext != rules.ANTICIPATED_METHOD,
                    # Stored before indicators rolled up their breakdowns by the worst one (issue 19).
                    ~IndicatorProgress.doc.has_key("status_rule"),
                )
            )
        )
    ).all()
    if changed_indicators or stale:
        await refresh_progress(session, [*changed_indicators, *stale])
    if changed or stale:
        await bump_version(session)
    await session.flush()
    return {
        "sdg_goals": len(goals),
        "sdg_targets": sum(len(g.targets) for g, _ in goals),
        "indicators": len(indicators),
        "breakdowns": sum(len(i.breakdowns) for i, _ in indicators),
        "baselines": sum(len(i.baselines) for i, _ in indicators),
        "targets": sum(len(i.targets) for i, _ in indicators),
        "sdg_links": sum(len(i.sdg_targets) for i, _ in indicators),
        "initiatives": len(initiatives),
        "entries_applied": changed,
        "progress_recomputed": len(stale),
    }
