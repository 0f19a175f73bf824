"""Recording observations: first values, corrections as new revisions, idempotent replays.

For one indicator, breakdown and fiscal year:
- no value yet → revision 1 (``created``);
- the same value, source and note as the current revision → nothing is written (``unchanged``),
  so a retried request or a re-imported file is harmless;
- anything different → 409, unless sent with ``correction: true``: then revision n+1 becomes the
  current value (``corrected``) and every earlier revision stays readable.

Each created or corrected value emits ``kpi.observation_recorded``; the indicator's progress is
recomputed in the same transaction and ``kpi.status_changed`` is emitted when its status changed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import ColumnElement, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.exceptions import IndicatorNotFound, RegistryConflict
from services.kpi_api.core.http import bump_version
from services.kpi_api.core.numbers import json_number
from services.kpi_api.db import outbox
from services.kpi_api.indicators.models import Indicator
from services.kpi_api.indicators.service import LockedIndicator, check_breakdown, lock_indicator
from services.kpi_api.observations.models import Observation, ObservationRevision
from services.kpi_api.observations.schemas import ObservationIn, ObservationOut, Outcome, RevisionOut
from services.kpi_api.progress.models import IndicatorProgress
from services.kpi_api.progress.service import StatusChange, refresh_progress
from shared.audit import record_audit_many
from shared.auth import Principal
from shared.errors import Unprocessable
from shared.events import EventData, KpiObservationRecorded, make_event
from shared.logging import request_id_var
from shared.outbox import emit
from shared.pagination import paginate
from shared.permissions import authorize_indicators

# Core tables: bulk writes go through executemany (insertmanyvalues), without ORM overhead.
OBSERVATION = typing_cast(Table, Observation.__table__)
REVISION = typing_cast(Table, ObservationRevision.__table__)


class ObservationExists(RegistryConflict):
    slug, title = "observation-exists", "Observation already recorded"

    def __init__(self, *, fiscal_year: int, breakdown: str | None, current: Decimal, revision: int) -> None:
        which = f" ({breakdown})" if breakdown else ""
        super().__init__(
            f"FY{fiscal_year}{which} already has the value {current} (revision {revision}). "
            'To replace it, send the new value with "correction": true; the earlier value is kept in the history.',
            detail_ja=f"{fiscal_year}年度{which}には既に値 {current}(版 {revision})があります。"
            '置き換えるには "correction": true を付けて送信してください。以前の値は履歴に残ります。',
            fiscal_year=fiscal_year,
            breakdown=breakdown,
            current_value=json_number(current),
            current_revision=revision,
        )


class CumulativeDecrease(RegistryConflict):
    slug, title = "cumulative-decrease", "A cumulative value went down"

    def __init__(
        self, *, fiscal_year: int, breakdown: str | None, value: Decimal, other_year: int, other: Decimal
    ) -> None:
        which = f" ({breakdown})" if breakdown else ""
        super().__init__(
            f"A cumulative (running) total cannot go down: FY{fiscal_year}{which} {value} is below "
            f"FY{other_year}'s {other} (or FY{other_year} is later and lower). If the earlier figures were "
            'revised, send it again with "correction": true and a "note" saying why; the note is kept '
            "in the history.",
            detail_ja=f"累計値は減りません: {fiscal_year}年度{which}の {value} は{other_year}年度の {other} と"
            '矛盾します。過去の値の見直しによる場合は "correction": true と理由("note")を付けて送信してください。'
            "理由は履歴に残ります。",
            fiscal_year=fiscal_year,
            breakdown=breakdown,
            other_fiscal_year=other_year,
            other_value=json_number(other),
        )


class NegativeCount(Unprocessable):
    slug, title = "negative-count", "A yearly count cannot be negative"

    def __init__(self, value: Decimal) -> None:
        super().__init__(
            f"This indicator is reported as each fiscal year's own count; {value} is negative.",
            detail_ja=f"この指標は年度ごとの件数で報告されます。{value} は負の値です。",
            errors=[{"loc": ["body", "value"], "msg": "must be at least 0", "type": "negative_count"}],
        )


async def check_cumulative(session: AsyncSession, locked: LockedIndicator, write: Write) -> None:
    """A running total (累計, ``running_total``) never goes down from one fiscal year to a later one.

    A value below the nearest earlier year's (or above the nearest later year's) is refused with
    409 ``cumulative-decrease`` unless it is sent with ``correction: true`` and a ``note`` giving
    the reason, which the revision keeps. A ``fiscal_year_count`` value (the year's own count,
    which the registry adds up) must not be negative (422).
    """
    if not locked.cumulative:
        return
    if locked.observation_basis == "fiscal_year_count":
        if write.value < 0:
            raise NegativeCount(write.value)
        return
    if write.correction and write.note:
        return
    same = breakdown_is(Observation.breakdown_key, write.breakdown)
    base = select(Observation.fiscal_year, Observation.value).where(
        Observation.indicator_id == write.indicator_id, same
    )
    before = (
        await session.execute(
            base.where(Observation.fiscal_year < write.fiscal_year)
            .order_by(Observation.fiscal_year.desc())
            .limit(1)
        )
    ).first()
    if before is not None and write.value < before.value:
        raise CumulativeDecrease(
            fiscal_year=write.fiscal_year,
            breakdown=write.breakdown,
            value=write.value,
            other_year=before.fiscal_year,
            other=before.value,
        )
    after = (
        await session.execute(
            base.where(Observation.fiscal_year > write.fiscal_year).order_by(Observation.fiscal_year).limit(1)
        )
    ).first()
    if after is not None and write.value > after.value:
        raise CumulativeDecrease(
            fiscal_year=write.fiscal_year,
            breakdown=write.breakdown,
            value=write.value,
            other_year=after.fiscal_year,
            other=after.value,
        )


@dataclass(frozen=True)
class Current:
    """The recorded state of one (indicator, breakdown, fiscal year)."""

    observation_id: uuid.UUID
    revision: int
    value: Decimal
    source: str | None
    note: str | None

    def same_as(self, value: Decimal, source: str | None, note: str | None) -> bool:
        return self.value == value and self.source == source and self.note == note


@dataclass(frozen=True)
class Recorded:
    outcome: Outcome
    observation_id: uuid.UUID
    status: StatusChange


def breakdown_is(column: Any, breakdown: str | None) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = column.is_(None) if breakdown is None else column == breakdown
    return clause


async def current_values(
    session: AsyncSession, indicator_ids: Sequence[str]
) -> dict[tuple[str, str | None, int], Current]:
    """Current revision of every observation of these indicators, keyed by (indicator, breakdown, FY)."""
    rows = await session.execute(
        select(
            Observation.indicator_id,
            Observation.breakdown_key,
            Observation.fiscal_year,
            Observation.id,
            Observation.revision,
            Observation.value,
            ObservationRevision.source,
            ObservationRevision.note,
        )
        .join(
            ObservationRevision,
            (ObservationRevision.observation_id == Observation.id)
            & (ObservationRevision.revision == Observation.revision),
        )
        .where(Observation.indicator_id.in_(list(indicator_ids)))
    )
    return {
        (r.indicator_id, r.breakdown_key, r.fiscal_year): Current(r.id, r.revision, r.value, r.source, r.note)
        for r in rows
    }


async def emit_all(session: AsyncSession, events: Sequence[EventData]) -> None:
    """``shared.outbox.emit`` for each event; a bulk import writes its rows in one batched statement."""
    if len(events) <= 1:
        for data in events:
            await emit(session, outbox, data)
        return
    request_id = request_id_var.get()
    rows = []
    for data in events:
        event = make_event(data)
        rows.append(
            {
                "id": event.id,
                "event_type": event.type,
                "payload": event.model_dump(mode="json"),
                "request_id": request_id,
            }
        )
    await session.execute(outbox.insert(), rows)


@dataclass(frozen=True)
class Write:
    """One value to record (validated), from the API or a CSV line."""

    indicator_id: str
    breakdown: str | None
    fiscal_year: int
    value: Decimal
    source: str | None
    note: str | None
    correction: bool


async def apply_writes(
    session: AsyncSession,
    writes: Sequence[tuple[Write, Current | None]],
    principal: Principal,
) -> list[tuple[Outcome, uuid.UUID]]:
    """Write validated values (conflicts already refused). Returns each write's outcome and observation id."""
    await authorize_indicators(session, principal, [write.indicator_id for write, _ in writes])
    outcomes: list[tuple[Outcome, uuid.UUID]] = []
    new_observations: list[dict[str, Any]] = []
    corrections: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    recorded_by = {
        "recorded_by": principal.name,
        "recorded_by_role": principal.role,
        "recorded_by_token_id": uuid.UUID(principal.token_id) if principal.token_id else None,
        "request_id": request_id_var.get(),
    }
    for write, current in writes:
        if current is not None and current.same_as(write.value, write.source, write.note):
            outcomes.append(("unchanged", current.observation_id))
            continue
        if current is None:
            observation_id = uuid.uuid4()
            revision = 1
            new_observations.append(
                {
                    "id": observation_id,
                    "indicator_id": write.indicator_id,
                    "breakdown_key": write.breakdown,
                    "fiscal_year": write.fiscal_year,
                    "value": write.value,
                    "revision": 1,
                }
            )
            outcomes.append(("created", observation_id))
        else:
            observation_id = current.observation_id
            revision = current.revision + 1
            corrections.append({"oid": observation_id, "new_value": write.value, "new_revision": revision})
            outcomes.append(("corrected", observation_id))
        revisions.append(
            {
                "id": uuid.uuid4(),
                "observation_id": observation_id,
                "revision": revision,
                "value": write.value,
                "source": write.source,
                "note": write.note,
                "correction": current is not None,
                **recorded_by,
            }
        )
    if new_observations:
        await session.execute(OBSERVATION.insert(), new_observations)
    if corrections:
        await session.execute(
            update(OBSERVATION)
            .where(OBSERVATION.c.id == bindparam("oid"))
            .values(value=bindparam("new_value"), revision=bindparam("new_revision"), updated_at=func.now()),
            corrections,
        )
    if revisions:
        await session.execute(REVISION.insert(), revisions)
    await record_audit_many(
        session,
        changes=[
            (
                "kpi.observation",
                observation_id,
                None if current is None else {"value": current.value, "revision": current.revision},
                {
                    "indicator_id": write.indicator_id,
                    "fiscal_year": write.fiscal_year,
                    "breakdown": write.breakdown,
                    "value": write.value,
                    "revision": 1 if current is None else current.revision + 1,
                },
            )
            for (write, current), (outcome, observation_id) in zip(writes, outcomes, strict=True)
            if outcome != "unchanged"
        ],
    )
    await emit_all(
        session,
        [
            KpiObservationRecorded(
                indicator_id=write.indicator_id,
                observation_id=observation_id,
                fiscal_year=write.fiscal_year,
                breakdown=write.breakdown,
            )
            for (write, _), (outcome, observation_id) in zip(writes, outcomes, strict=True)
            if outcome != "unchanged"
        ],
    )
    return outcomes


async def record_observation(
    session: AsyncSession, indicator_id: str, body: ObservationIn, principal: Principal
) -> Recorded:
    locked = await lock_indicator(session, indicator_id)
    check_breakdown(
        indicator_id,
        body.breakdown,
        locked.breakdown_keys,
        loc=["body", "breakdown"],
        headline=locked.headline_total,
    )
    write = Write(
        indicator_id=indicator_id,
        breakdown=body.breakdown,
        fiscal_year=body.fiscal_year,
        value=body.value,
        source=body.source,
        note=body.note,
        correction=body.correction,
    )
    row = (
        await session.execute(
            select(
                Observation.id,
                Observation.revision,
                Observation.value,
                ObservationRevision.source,
                ObservationRevision.note,
            )
            .join(
                ObservationRevision,
                (ObservationRevision.observation_id == Observation.id)
                & (ObservationRevision.revision == Observation.revision),
            )
            .where(
                Observation.indicator_id == indicator_id,
                Observation.fiscal_year == body.fiscal_year,
                breakdown_is(Observation.breakdown_key, body.breakdown),
            )
        )
    ).first()
    current = Current(row.id, row.revision, row.value, row.source, row.note) if row is not None else None
    if current is None or not current.same_as(body.value, body.source, body.note):
        await check_cumulative(session, locked, write)
    if (
        current is not None
        and not body.correction
        and not current.same_as(body.value, body.source, body.note)
    ):
        raise ObservationExists(
            fiscal_year=body.fiscal_year,
            breakdown=body.breakdown,
            current=current.value,
            revision=current.revision,
        )
    [(outcome, observation_id)] = await apply_writes(session, [(write, current)], principal)
    if outcome == "unchanged":
        previous = await _stored_status(session, indicator_id)
        return Recorded(outcome, observation_id, StatusChange(indicator_id, previous, previous))
    changes = await refresh_progress(session, [indicator_id])
    await bump_version(session)
    return Recorded(outcome, observation_id, changes[indicator_id])


async def _stored_status(session: AsyncSession, indicator_id: str) -> str:
    status = await session.scalar(
        select(IndicatorProgress.status).where(IndicatorProgress.indicator_id == indicator_id)
    )
    return status or "no_data"


# ---- reads --------------------------------------------------------------------------------------
def _revisions_json() -> Any:
    r = ObservationRevision
    return (
        select(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_object(
                        "revision",
                        r.revision,
                        "value",
                        cast(r.value, Text),
                        "source",
                        r.source,
                        "note",
                        r.note,
                        "correction",
                        r.correction,
                        "recorded_by",
                        r.recorded_by,
                        "recorded_by_role",
                        r.recorded_by_role,
                        "recorded_at",
                        r.recorded_at,
                    ),
                    r.revision,
                ),
                type_=JSONB,
            )
        )
        .where(r.observation_id == Observation.id)
        .scalar_subquery()
        .label("revisions")
    )


def _to_out(row: Any) -> ObservationOut:
    obs: Observation = row.Observation
    return ObservationOut(
        id=obs.id,
        indicator_id=obs.indicator_id,
        breakdown=obs.breakdown_key,
        fiscal_year=obs.fiscal_year,
        value=obs.value,
        revision=obs.revision,
        created_at=obs.created_at,
        updated_at=obs.updated_at,
        revisions=[RevisionOut(**{**r, "value": Decimal(r["value"])}) for r in row.revisions or []],
    )


async def get_observation(session: AsyncSession, observation_id: uuid.UUID) -> ObservationOut:
    row = (
        await session.execute(select(Observation, _revisions_json()).where(Observation.id == observation_id))
    ).one()
    return _to_out(row)


async def list_observations(
    session: AsyncSession,
    indicator_id: str,
    *,
    breakdown: str | None,
    fiscal_year: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ObservationOut], str | None]:
    exists = await session.scalar(select(Indicator.id).where(Indicator.id == indicator_id))
    if exists is None:
        raise IndicatorNotFound(indicator_id)
    sort_key = func.coalesce(Observation.breakdown_key, "")
    statement = select(Observation, _revisions_json()).where(Observation.indicator_id == indicator_id)
    if breakdown is not None:
        statement = statement.where(Observation.breakdown_key == breakdown)
    if fiscal_year is not None:
        statement = statement.where(Observation.fiscal_year == fiscal_year)
    rows, next_cursor = await paginate(
        session,
        statement,
        (Observation.fiscal_year, sort_key),
        limit=limit,
        cursor=cursor,
        key=lambda row: (row.Observation.fiscal_year, row.Observation.breakdown_key or ""),
    )
    return [_to_out(r) for r in rows], next_cursor


def group_by_indicator(writes: Sequence[Write]) -> dict[str, list[Write]]:
    grouped: dict[str, list[Write]] = defaultdict(list)
    for write in writes:
        grouped[write.indicator_id].append(write)
    return grouped
