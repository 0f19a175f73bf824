"""Administrators' changes to indicators, breakdowns, baselines, SDG links and targets.

Every change locks the indicator row, recomputes its progress when grading inputs changed, and
bumps the registry version (so ETags change), all in the request's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.exceptions import (
    IndicatorNotFound,
    InvalidRegistryData,
    RegistryConflict,
    UnknownBreakdown,
    UnknownSdgTarget,
)
from services.kpi_api.core.http import bump_version
from services.kpi_api.indicators.models import Baseline, Breakdown, Indicator, IndicatorSdgTarget, Target
from services.kpi_api.indicators.schemas import (
    BaselineIn,
    BreakdownIn,
    IndicatorCreate,
    IndicatorUpdate,
    SdgLinkIn,
    TargetIn,
)
from services.kpi_api.observations.models import Observation
from services.kpi_api.progress.service import StatusChange, refresh_progress
from services.kpi_api.sdgs.models import SdgTarget
from shared.errors import NotFound


@dataclass(frozen=True)
class LockedIndicator:
    id: str
    direction: str
    cumulative: bool
    breakdown_keys: tuple[str, ...]
    observation_basis: str = "running_total"
    headline_total: bool = False


async def lock_indicator(session: AsyncSession, indicator_id: str) -> LockedIndicator:
    """Lock the indicator row for this transaction (serialises writes to one indicator) or 404."""
    row = (
        await session.execute(
            select(
                Indicator.id,
                Indicator.direction,
                Indicator.cumulative,
                Indicator.observation_basis,
                Indicator.headline_total,
            )
            .where(Indicator.id == indicator_id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: foreign-key checks still pass
        )
    ).first()
    if row is None:
        raise IndicatorNotFound(indicator_id)
    keys = (
        await session.scalars(
            select(Breakdown.key).where(Breakdown.indicator_id == indicator_id).order_by(Breakdown.position)
        )
    ).all()
    return LockedIndicator(
        row.id, row.direction, row.cumulative, tuple(keys), row.observation_basis, row.headline_total
    )


def check_breakdown(
    indicator_id: str,
    breakdown: str | None,
    known: Sequence[str],
    *,
    loc: list[str],
    headline: bool = False,
) -> None:
    """A breakdown is required when the indicator has breakdowns, and must be one of them; else absent.

    ``headline``: the indicator also has a plan-stated total, so "no breakdown" (the headline) is
    allowed beside its breakdowns.
    """
    if (breakdown is None and known and not headline) or (breakdown is not None and breakdown not in known):
        raise UnknownBreakdown(indicator_id, breakdown, known, loc=loc)


async def check_sdg_codes(session: AsyncSession, links: Sequence[SdgLinkIn], *, loc: list[str]) -> None:
    codes = {link.code for link in links}
    if not codes:
        return
    found = set((await session.scalars(select(SdgTarget.code).where(SdgTarget.code.in_(codes)))).all())
    missing = codes - found
    if missing:
        raise UnknownSdgTarget(missing, loc=loc)


def _check_children(
    indicator_id: str,
    keys: Sequence[str],
    baselines: Iterable[BaselineIn],
    targets: Iterable[TargetIn],
    *,
    headline: bool = False,
) -> None:
    for n, baseline in enumerate(baselines):
        check_breakdown(
            indicator_id,
            baseline.breakdown,
            keys,
            loc=["body", "baselines", str(n), "breakdown"],
            headline=headline,
        )
    for n, target in enumerate(targets):
        check_breakdown(
            indicator_id,
            target.breakdown,
            keys,
            loc=["body", "targets", str(n), "breakdown"],
            headline=headline,
        )


async def _replace_links(session: AsyncSession, indicator_id: str, links: Sequence[SdgLinkIn]) -> None:
    await session.execute(delete(IndicatorSdgTarget).where(IndicatorSdgTarget.indicator_id == indicator_id))
    if links:
        await session.execute(
            insert(IndicatorSdgTarget).values(
                [
                    {
                        "indicator_id": indicator_id,
                        "sdg_target_code": s.code,
                        "determination": s.determination,
                        "note": s.note,
                    }
                    for s in links
                ]
            )
        )


async def _replace_baselines(
    session: AsyncSession, indicator_id: str, baselines: Sequence[BaselineIn]
) -> None:
    await session.execute(delete(Baseline).where(Baseline.indicator_id == indicator_id))
    if baselines:
        await session.execute(
            insert(Baseline).values(
                [
                    {
                        "indicator_id": indicator_id,
                        "breakdown_key": b.breakdown,
                        "fiscal_year": b.fiscal_year,
                        "value": b.value,
                    }
                    for b in baselines
                ]
            )
        )


def _target_row(indicator_id: str, target: TargetIn) -> dict[str, object]:
    return {
        "indicator_id": indicator_id,
        "breakdown_key": target.breakdown,
        "fiscal_year": target.fiscal_year,
        "comparator": target.comparator,
        "value": target.value,
        "reference_fiscal_year": target.reference_fiscal_year,
        "sections": list(target.sections),
    }


async def create_indicator(session: AsyncSession, body: IndicatorCreate) -> dict[str, StatusChange]:
    keys = [b.key for b in body.breakdowns]
    _check_children(body.id, keys, body.baselines, body.targets, headline=body.headline_total)
    await check_sdg_codes(session, body.sdg_targets, loc=["body", "sdg_targets"])
    exists = await session.scalar(select(Indicator.id).where(Indicator.id == body.id))
    if exists is not None:
        raise RegistryConflict(
            f"An indicator with id '{body.id}' already exists.",
            detail_ja=f"指標 '{body.id}' は既に存在します。",
        )
    position = (await session.scalar(select(func.coalesce(func.max(Indicator.position), 0)))) or 0
    session.add(
        Indicator(
            id=body.id,
            position=position + 1,
            name_ja=body.name_ja,
            name_en=body.name_en,
            unit=body.unit,
            aspect=body.aspect,
            direction=body.direction,
            cumulative=body.cumulative,
            owner=body.owner,
            observation_basis=body.observation_basis,
            headline_total=body.headline_total,
            source=body.source,
            sections=list(body.sections),
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        raise RegistryConflict(
            f"An indicator with id '{body.id}' already exists.",
            detail_ja=f"指標 '{body.id}' は既に存在します。",
        ) from None
    if body.breakdowns:
        await session.execute(
            insert(Breakdown).values(
                [
                    {
                        "indicator_id": body.id,
                        "key": b.key,
                        "name_ja": b.name_ja,
                        "name_en": b.name_en,
                        "position": n,
                    }
                    for n, b in enumerate(body.breakdowns, start=1)
                ]
            )
        )
    await _replace_links(session, body.id, body.sdg_targets)
    await _replace_baselines(session, body.id, body.baselines)
    if body.targets:
        await session.execute(insert(Target).values([_target_row(body.id, t) for t in body.targets]))
    changes = await refresh_progress(session, [body.id])
    await bump_version(session)
    return changes


async def _replace_breakdowns(
    session: AsyncSession, indicator_id: str, breakdowns: Sequence[BreakdownIn], *, headline: bool
) -> None:
    """Replace the breakdown list; refused (409) while a removed key, or "no breakdown", is still in use.

    Baselines being replaced in the same request are deleted before this runs.
    """
    new_keys = {b.key for b in breakdowns}
    in_use: dict[str | None, int] = {}
    for model in (Baseline, Target, Observation):
        for key, count in await session.execute(
            select(model.breakdown_key, func.count())
            .where(model.indicator_id == indicator_id)
            .group_by(model.breakdown_key)
        ):
            in_use[key] = in_use.get(key, 0) + count
    removed_in_use = {key for key in in_use if key is not None} - new_keys
    if removed_in_use:
        names = ", ".join(sorted(removed_in_use))
        raise RegistryConflict(
            f"Breakdowns {names} still have targets, baselines or observations; they cannot be removed.",
            detail_ja=f"内訳 {names} には目標値・基準値・実績値があるため削除できません。",
        )
    if new_keys and None in in_use and not headline:
        raise RegistryConflict(
            "The indicator has baselines, targets or observations without a breakdown; "
            "it cannot be split into breakdowns.",
            detail_ja="内訳なしの基準値・目標値・実績値があるため、内訳を設定できません。",
        )
    await session.execute(
        delete(Breakdown).where(Breakdown.indicator_id == indicator_id, Breakdown.key.not_in(new_keys))
    )
    if breakdowns:
        statement = insert(Breakdown).values(
            [
                {
                    "indicator_id": indicator_id,
                    "key": b.key,
                    "name_ja": b.name_ja,
                    "name_en": b.name_en,
                    "position": n,
                }
                for n, b in enumerate(breakdowns, start=1)
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Breakdown.indicator_id, Breakdown.key],
                set_={k: statement.excluded[k] for k in ("name_ja", "name_en", "position")},
            )
        )


async def update_indicator(
    session: AsyncSession, indicator_id: str, body: IndicatorUpdate
) -> dict[str, StatusChange]:
    locked = await lock_indicator(session, indicator_id)
    fields = body.model_fields_set
    keys: Sequence[str] = locked.breakdown_keys
    if body.breakdowns is not None:
        keys = [b.key for b in body.breakdowns]
    headline = body.headline_total if body.headline_total is not None else locked.headline_total
    if body.baselines is not None:
        _check_children(indicator_id, keys, body.baselines, [], headline=headline)
    if body.sdg_targets is not None:
        await check_sdg_codes(session, body.sdg_targets, loc=["body", "sdg_targets"])

    values: dict[str, object] = {
        name: getattr(body, name)
        for name in (
            "name_ja",
            "name_en",
            "unit",
            "aspect",
            "direction",
            "cumulative",
            "owner",
            "source",
            "observation_basis",
            "headline_total",
        )
        if name in fields
    }
    if body.sections is not None:
        values["sections"] = list(body.sections)
    await session.execute(
        update(Indicator).where(Indicator.id == indicator_id).values(**values, updated_at=func.now())
    )

    if body.baselines is not None:
        # Baselines go first so that breakdowns they no longer name can be removed.
        await session.execute(delete(Baseline).where(Baseline.indicator_id == indicator_id))
    if body.breakdowns is not None:
        await _replace_breakdowns(session, indicator_id, body.breakdowns, headline=headline)
    if body.baselines is not None:
        await _replace_baselines(session, indicator_id, body.baselines)
    if body.sdg_targets is not None:
        await _replace_links(session, indicator_id, body.sdg_targets)
    changes = await refresh_progress(session, [indicator_id])
    await bump_version(session)
    return changes


async def delete_indicator(session: AsyncSession, indicator_id: str) -> None:
    await lock_indicator(session, indicator_id)
    observed = await session.scalar(
        select(func.count()).select_from(Observation).where(Observation.indicator_id == indicator_id)
    )
    if observed:
        raise RegistryConflict(
            f"Indicator '{indicator_id}' has {observed} observation(s); an indicator with data cannot be deleted.",
            detail_ja=f"指標 '{indicator_id}' には実績値が {observed} 件あるため削除できません。",
        )
    await session.execute(delete(Indicator).where(Indicator.id == indicator_id))
    await bump_version(session)


# ---- targets ------------------------------------------------------------------------------------
class TargetNotFound(NotFound):
    slug, title = "target-not-found", "Target not found"

    def __init__(self, indicator_id: str, target_id: int) -> None:
        super().__init__(
            f"Indicator '{indicator_id}' has no target {target_id}.",
            detail_ja=f"指標 '{indicator_id}' に目標 {target_id} はありません。",
        )


def _duplicate_target(target: TargetIn) -> RegistryConflict:
    which = f"breakdown {target.breakdown}, " if target.breakdown else ""
    return RegistryConflict(
        f"A target for {which}FY{target.fiscal_year} already exists; change that one instead.",
        detail_ja=f"{target.fiscal_year}年度の目標値は既にあります。既存の目標を変更してください。",
    )


async def _target_clash(
    session: AsyncSession, indicator_id: str, body: TargetIn, exclude_id: int | None
) -> bool:
    statement = select(Target.id).where(
        Target.indicator_id == indicator_id,
        Target.fiscal_year == body.fiscal_year,
        Target.breakdown_key.is_(None) if body.breakdown is None else Target.breakdown_key == body.breakdown,
    )
    if exclude_id is not None:
        statement = statement.where(Target.id != exclude_id)
    return (await session.scalar(statement)) is not None


def _check_reference(body: TargetIn) -> None:
    if body.reference_fiscal_year is not None and body.reference_fiscal_year >= body.fiscal_year:
        raise InvalidRegistryData(
            "reference_fiscal_year must be before the target's fiscal_year.",
            "reference_fiscal_year は目標年度より前にしてください。",
            loc=["body", "reference_fiscal_year"],
        )


async def create_target(
    session: AsyncSession, indicator_id: str, body: TargetIn
) -> tuple[Target, dict[str, StatusChange]]:
    locked = await lock_indicator(session, indicator_id)
    check_breakdown(
        indicator_id,
        body.breakdown,
        locked.breakdown_keys,
        loc=["body", "breakdown"],
        headline=locked.headline_total,
    )
    _check_reference(body)
    if await _target_clash(session, indicator_id, body, None):
        raise _duplicate_target(body)
    target = Target(**_target_row(indicator_id, body))
    session.add(target)
    await session.flush()
    changes = await refresh_progress(session, [indicator_id])
    await bump_version(session)
    return target, changes


async def replace_target(
    session: AsyncSession, indicator_id: str, target_id: int, body: TargetIn
) -> tuple[Target, dict[str, StatusChange]]:
    locked = await lock_indicator(session, indicator_id)
    target = await session.scalar(
        select(Target).where(Target.id == target_id, Target.indicator_id == indicator_id)
    )
    if target is None:
        raise TargetNotFound(indicator_id, target_id)
    check_breakdown(
        indicator_id,
        body.breakdown,
        locked.breakdown_keys,
        loc=["body", "breakdown"],
        headline=locked.headline_total,
    )
    _check_reference(body)
    if await _target_clash(session, indicator_id, body, target_id):
        raise _duplicate_target(body)
    for key, value in _target_row(indicator_id, body).items():
        setattr(target, key, value)
    await session.flush()
    changes = await refresh_progress(session, [indicator_id])
    await bump_version(session)
    return target, changes


async def delete_target(session: AsyncSession, indicator_id: str, target_id: int) -> dict[str, StatusChange]:
    await lock_indicator(session, indicator_id)
    result = await session.execute(
        delete(Target).where(Target.id == target_id, Target.indicator_id == indicator_id).returning(Target.id)
    )
    if result.first() is None:
        raise TargetNotFound(indicator_id, target_id)
    changes = await refresh_progress(session, [indicator_id])
    await bump_version(session)
    return changes
