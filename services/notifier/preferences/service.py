"""Opt-outs per member and category."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.preferences.exceptions import TransactionalRequired
from services.notifier.preferences.models import OPTIONAL_CATEGORIES, Preference
from services.notifier.preferences.schemas import (
    CategorySwitches,
    PreferencesOut,
    PreferencesPatch,
    PreferencesUpdate,
)


def _out(member_id: uuid.UUID, pref: Preference | None) -> PreferencesOut:
    opted_out = sorted(c for c in pref.opted_out if c in OPTIONAL_CATEGORIES) if pref else []
    switches = {c: c not in opted_out for c in OPTIONAL_CATEGORIES}
    return PreferencesOut(
        member_id=member_id,
        categories=CategorySwitches(transactional=True, **switches),
        opted_out=opted_out,
        updated_at=pref.updated_at if pref else None,
    )


async def get_preferences(session: AsyncSession, member_id: uuid.UUID) -> PreferencesOut:
    return _out(member_id, await session.get(Preference, member_id))


def _transactional_required() -> TransactionalRequired:
    return TransactionalRequired(
        "Transactional mail (invoices, booking confirmations and cancellations) cannot be turned off.",
        detail_ja="請求書や予約の確定・キャンセルなどの重要なお知らせは、配信を停止できません。",
    )


async def patch_preferences(
    session: AsyncSession, member_id: uuid.UUID, body: PreferencesPatch, *, by: str
) -> PreferencesOut:
    """Change only the categories given; the row is locked so two concurrent changes both count."""
    if body.transactional is False:
        raise _transactional_required()
    await session.execute(
        insert(Preference).values(member_id=member_id, updated_by=by).on_conflict_do_nothing()
    )
    pref = (
        await session.scalars(
            select(Preference)
            .where(Preference.member_id == member_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    current = {c for c in pref.opted_out if c in OPTIONAL_CATEGORIES}
    for category in OPTIONAL_CATEGORIES:
        wanted = getattr(body, category)
        if wanted is True:
            current.discard(category)
        elif wanted is False:
            current.add(category)
    pref.opted_out = [c for c in OPTIONAL_CATEGORIES if c in current]
    pref.updated_by = by
    pref.updated_at = func.now()
    await session.flush()
    await session.refresh(pref)
    return _out(member_id, pref)


async def put_preferences(
    session: AsyncSession, member_id: uuid.UUID, body: PreferencesUpdate, *, by: str
) -> PreferencesOut:
    if not body.transactional:
        raise _transactional_required()
    opted_out = [c for c in OPTIONAL_CATEGORIES if not getattr(body, c)]
    statement = (
        insert(Preference)
        .values(member_id=member_id, opted_out=opted_out, updated_by=by)
        .on_conflict_do_update(
            index_elements=[Preference.member_id],
            set_={"opted_out": opted_out, "updated_by": by, "updated_at": func.now()},
        )
    )
    await session.execute(statement)
    pref = (
        await session.scalars(
            select(Preference)
            .where(Preference.member_id == member_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return _out(member_id, pref)
