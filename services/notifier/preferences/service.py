"""Opt-outs per member and category."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.preferences.exceptions import TransactionalRequired
from services.notifier.preferences.models import OPTIONAL_CATEGORIES, Preference
from services.notifier.preferences.schemas import CategorySwitches, PreferencesOut, PreferencesUpdate


def _out(member_id: uuid.UUID, pref: Preference | None) -> PreferencesOut:
    opted_out = sorted(pref.opted_out) if pref else []
    switches = {c: c not in opted_out for c in OPTIONAL_CATEGORIES}
    return PreferencesOut(
        member_id=member_id,
        categories=CategorySwitches(transactional=True, **switches),
        opted_out=opted_out,
        updated_at=pref.updated_at if pref else None,
    )


async def get_preferences(session: AsyncSession, member_id: uuid.UUID) -> PreferencesOut:
    return _out(member_id, await session.get(Preference, member_id))


async def put_preferences(
    session: AsyncSession, member_id: uuid.UUID, body: PreferencesUpdate, *, by: str
) -> PreferencesOut:
    if not body.transactional:
        raise TransactionalRequired(
            "Transactional mail (invoices, booking confirmations and cancellations) cannot be turned off.",
            detail_ja="請求書や予約の確定・キャンセルなどの重要なお知らせは、配信を停止できません。",
        )
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
            select(Preference).where(Preference.member_id == member_id).execution_options(populate_existing=True)
        )
    ).one()
    return _out(member_id, pref)
