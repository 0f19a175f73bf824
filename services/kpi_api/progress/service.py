"""Computing and storing each indicator's progress (the pure rules live in ``rules.py``).

:func:`refresh_progress` runs in the transaction of every change to an indicator's observations,
targets, baselines, direction or cumulative flag. It grades every target with
``rules.compute_progress``, rolls the statuses up with ``rules.aggregate_status`` (per breakdown,
and for the indicator), stores the result in ``kpi.indicator_progress`` and emits
``kpi.status_changed`` when the indicator's status changed. Reads never recompute.

Callers lock the indicator row first (``SELECT … FOR NO KEY UPDATE``), so two concurrent writes
to one indicator are serialised and the second recomputes from the first one's committed data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import and_, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.db import outbox
from services.kpi_api.indicators.models import Baseline, Breakdown, Indicator, Target
from services.kpi_api.observations.models import Observation
from services.kpi_api.progress import rules
from services.kpi_api.progress.explain import explain_ja
from services.kpi_api.progress.models import IndicatorProgress
from shared.events import KpiStatusChanged
from shared.outbox import emit

NO_DATA: rules.Status = "no_data"


@dataclass(frozen=True)
class StatusChange:
    """An indicator's status before and after a refresh (``changed`` when they differ)."""

    indicator_id: str
    previous: str
    current: str

    @property
    def changed(self) -> bool:
        return self.previous != self.current


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _point(point: rules.Observation | rules.Baseline | None) -> dict[str, Any] | None:
    if point is None:
        return None
    return {"fiscal_year": point.fiscal_year, "value": str(point.value)}


def grade_target(
    *,
    target_id: int | None,
    breakdown: str | None,
    target: rules.Target,
    direction: rules.Direction,
    cumulative: bool,
    baseline: rules.Baseline | None,
    observations: Sequence[rules.Observation],
    basis: str = "running_total",
) -> dict[str, Any]:
    """One target's progress as stored in ``indicator_progress.doc`` (decimals as exact strings).

    For a cumulative indicator reported per fiscal year (``fiscal_year_count``) the yearly counts
    are added up into the running total first: the total is what the plan's 累計 target measures.
    """
    if cumulative and basis == "fiscal_year_count":
        observations = rules.running_totals(observations)
    result = rules.compute_progress(
        direction=direction,
        cumulative=cumulative,
        baseline=baseline,
        target=target,
        observations=observations,
    )
    return {
        "target_id": target_id,
        "breakdown": breakdown,
        "fiscal_year": target.fiscal_year,
        "comparator": target.comparator,
        "target_value": _text(target.value),
        "reference_fiscal_year": target.reference_fiscal_year,
        "status": result.status,
        "achievement_rate": _text(result.achievement_rate),
        "expected_value": _text(result.expected_value),
        "expected_rate": _text(result.expected_rate),
        "anticipated_value": _text(result.anticipated_value),
        "anticipated_ratio": _text(result.anticipated_ratio),
        "anticipated_fit": result.anticipated_fit,
        "projection_unavailable": result.projection_unavailable,
        "latest": _point(result.latest),
        "baseline": _point(result.baseline_used),
        "baseline_implied": result.baseline_implied,
        "method": result.method,
        "method_version": result.method_version,
        "explanation": {
            "en": result.explanation,
            "ja": explain_ja(result, target=target, direction=direction, observations=observations),
        },
    }


def build_doc(
    *,
    direction: rules.Direction,
    cumulative: bool,
    breakdown_keys: Sequence[str],
    baselines: dict[str | None, rules.Baseline],
    targets: Sequence[tuple[int | None, str | None, rules.Target]],
    observations: dict[str | None, list[rules.Observation]],
    basis: str = "running_total",
) -> tuple[rules.Status, dict[str, Any]]:
    """The indicator's status and stored document, from plain inputs (no I/O).

    Without breakdowns the status is the roll-up of the targets (``rules.aggregate_status``).
    With breakdowns each breakdown (and the headline total, when the plan states one and it has
    targets) gets its own roll-up, and the indicator takes the worst of them
    (``rules.aggregate_breakdowns``): never achieved while one breakdown is not.
    """
    graded = [
        grade_target(
            target_id=target_id,
            breakdown=breakdown,
            target=target,
            direction=direction,
            cumulative=cumulative,
            baseline=baselines.get(breakdown),
            observations=observations.get(breakdown, []),
            basis=basis,
        )
        for target_id, breakdown, target in targets
    ]
    per_breakdown = [
        {
            "breakdown": key,
            "status": rules.aggregate_status(
                [cast(rules.Status, g["status"]) for g in graded if g["breakdown"] == key]
            ),
        }
        for key in breakdown_keys
    ]
    if breakdown_keys:
        series = [cast(rules.Status, b["status"]) for b in per_breakdown]
        headline = [cast(rules.Status, g["status"]) for g in graded if g["breakdown"] is None]
        if headline:
            series.append(rules.aggregate_status(headline))
        status = rules.aggregate_breakdowns(series)
    else:
        status = rules.aggregate_status([cast(rules.Status, g["status"]) for g in graded])
    years = [o.fiscal_year for values in observations.values() for o in values]
    doc = {
        "method": rules.METHOD,
        "method_version": rules.METHOD_VERSION,
        "anticipated_method": rules.ANTICIPATED_METHOD,
        "observation_basis": basis,
        "status_rule": "worst_breakdown" if breakdown_keys else "worst_target",
        "observation_count": len(years),
        "latest_fiscal_year": max(years) if years else None,
        "breakdowns": per_breakdown,
        "targets": graded,
    }
    return status, doc


async def compute_docs(
    session: AsyncSession, indicator_ids: Sequence[str], *, up_to_fiscal_year: int | None = None
) -> dict[str, tuple[rules.Status, dict[str, Any]]]:
    """Status and document for each indicator, from the database (five queries for any number).

    ``up_to_fiscal_year`` grades with the observations of that fiscal year and earlier only (the
    annual report of a past year); the stored progress always uses every observation."""
    ids = list(indicator_ids)
    indicators = (
        await session.execute(
            select(
                Indicator.id,
                Indicator.direction,
                Indicator.cumulative,
                Indicator.observation_basis,
            ).where(Indicator.id.in_(ids))
        )
    ).all()
    breakdowns: dict[str, list[str]] = defaultdict(list)
    for b in await session.execute(
        select(Breakdown.indicator_id, Breakdown.key)
        .where(Breakdown.indicator_id.in_(ids))
        .order_by(Breakdown.indicator_id, Breakdown.position, Breakdown.key)
    ):
        breakdowns[b.indicator_id].append(b.key)
    baselines: dict[str, dict[str | None, rules.Baseline]] = defaultdict(dict)
    for bl in await session.execute(
        select(Baseline.indicator_id, Baseline.breakdown_key, Baseline.fiscal_year, Baseline.value).where(
            Baseline.indicator_id.in_(ids)
        )
    ):
        baselines[bl.indicator_id][bl.breakdown_key] = rules.Baseline(bl.fiscal_year, bl.value)
    targets: dict[str, list[tuple[int | None, str | None, rules.Target]]] = defaultdict(list)
    for t in await session.execute(
        select(
            Target.id,
            Target.indicator_id,
            Target.breakdown_key,
            Target.fiscal_year,
            Target.comparator,
            Target.value,
            Target.reference_fiscal_year,
        )
        .outerjoin(
            Breakdown,
            and_(Breakdown.indicator_id == Target.indicator_id, Breakdown.key == Target.breakdown_key),
        )
        .where(Target.indicator_id.in_(ids))
        .order_by(Target.indicator_id, Breakdown.position.nulls_first(), Target.fiscal_year)
    ):
        targets[t.indicator_id].append(
            (
                t.id,
                t.breakdown_key,
                rules.Target(
                    t.fiscal_year, t.value, cast(rules.Comparator, t.comparator), t.reference_fiscal_year
                ),
            )
        )
    observed: dict[str, dict[str | None, list[rules.Observation]]] = defaultdict(lambda: defaultdict(list))
    for o in await session.execute(
        select(
            Observation.indicator_id, Observation.breakdown_key, Observation.fiscal_year, Observation.value
        )
        .where(
            Observation.indicator_id.in_(ids),
            true() if up_to_fiscal_year is None else Observation.fiscal_year <= up_to_fiscal_year,
        )
        .order_by(Observation.indicator_id, Observation.fiscal_year)
    ):
        observed[o.indicator_id][o.breakdown_key].append(rules.Observation(o.fiscal_year, o.value))

    return {
        row.id: build_doc(
            direction=cast(rules.Direction, row.direction),
            cumulative=row.cumulative,
            breakdown_keys=breakdowns.get(row.id, []),
            baselines=baselines.get(row.id, {}),
            targets=targets.get(row.id, []),
            observations=observed.get(row.id, {}),
            basis=row.observation_basis,
        )
        for row in indicators
    }


async def refresh_progress(session: AsyncSession, indicator_ids: Iterable[str]) -> dict[str, StatusChange]:
    """Recompute and store the progress of these indicators; emit ``kpi.status_changed`` on changes.

    Returns each indicator's status before and after (changed or not).
    """
    ids = sorted(set(indicator_ids))
    if not ids:
        return {}
    docs = await compute_docs(session, ids)
    if not docs:
        return {}
    previous = {
        row.indicator_id: row.status
        for row in await session.execute(
            select(IndicatorProgress.indicator_id, IndicatorProgress.status).where(
                IndicatorProgress.indicator_id.in_(list(docs))
            )
        )
    }
    statement = insert(IndicatorProgress).values(
        [{"indicator_id": i, "status": status, "doc": doc} for i, (status, doc) in docs.items()]
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[IndicatorProgress.indicator_id],
        set_={"status": excluded.status, "doc": excluded.doc, "computed_at": excluded.computed_at},
        # Unchanged progress is not rewritten: computed_at says when it last changed.
        where=tuple_(IndicatorProgress.status, IndicatorProgress.doc).is_distinct_from(
            tuple_(excluded.status, excluded.doc)
        ),
    )
    await session.execute(statement)
    result = {
        indicator_id: StatusChange(indicator_id, previous.get(indicator_id, NO_DATA), status)
        for indicator_id, (status, _) in docs.items()
    }
    for change in result.values():
        if change.changed:
            await emit(
                session,
                outbox,
                KpiStatusChanged(
                    indicator_id=change.indicator_id, previous_status=change.previous, status=change.current
                ),
            )
    return result
