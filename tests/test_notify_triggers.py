"""Every channel an in-process cache trusts is notified by a trigger in the migrated database.

A :class:`shared.pgnotify.NotifiedCache` keeps a value while its channel stays quiet; a channel that
no trigger notifies would keep a stale value forever in every other process. So: every cache's
channel and every model's ``__notify_channel__`` has a trigger that runs ``pg_notify('<channel>'``
(enabled ALWAYS, so a replica or a session with ``session_replication_role = replica`` fires it too),
every model with a channel has such a trigger on its own table, and every cache's channel is one a
service's watcher listens to (else the cache would silently never hold anything).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase

from migrations.metadata import all_metadata
from services.kpi_api.core.http import registry_state
from shared.pgnotify import NotifiedCache

TRIGGERS = text(
    """
    SELECT n.nspname || '.' || c.relname AS table_name, t.tgenabled::text AS enabled, p.prosrc AS source
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_proc p ON p.oid = t.tgfoid
    WHERE NOT t.tgisinternal
    """
)
NOTIFY = re.compile(r"pg_notify\(\s*'([a-z0-9_]+)'")


def _mapped_classes() -> list[Any]:
    all_metadata()  # imports every model module
    seen: list[Any] = []
    stack = list(DeclarativeBase.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "__table__" in cls.__dict__ or hasattr(cls, "__table__"):
            seen.append(cls)
    return seen


async def _notifying_triggers(engine) -> dict[str, set[str]]:
    """channel → tables with an ALWAYS-enabled trigger that notifies it."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    async with engine.connect() as conn:
        for row in (await conn.execute(TRIGGERS)).all():
            if row.enabled != "A":
                continue
            for channel in NOTIFY.findall(row.source):
                by_channel[channel].add(row.table_name)
    return by_channel


async def test_every_cache_and_model_channel_has_its_trigger(
    engine, kpi_app, netsugen_app, notifier_app
) -> None:
    registry_state(kpi_app)  # the KPI registry's cache lives on the app
    triggers = await _notifying_triggers(engine)

    models = {
        cls: cls.__notify_channel__ for cls in _mapped_classes() if getattr(cls, "__notify_channel__", None)
    }
    assert models, "no model declares __notify_channel__ (the scan found nothing)"
    for cls, channel in models.items():
        table = f"{cls.__table__.schema}.{cls.__table__.name}"
        assert table in triggers.get(channel, set()), (
            f"{cls.__name__} ({table}) has no trigger notifying {channel}"
        )

    cache_channels = set(NotifiedCache.channels)
    assert {"auth_tokens", "netsugen_calendar", "netsugen_prices", "kpi_registry"} <= cache_channels
    for channel in cache_channels | set(models.values()):
        assert triggers.get(channel), f"no trigger notifies {channel!r}"

    listened = set()
    for app in (kpi_app, netsugen_app, notifier_app):
        watcher = getattr(app.state, "pg_watcher", None)
        if watcher is not None:
            listened.update(watcher.channels)
    assert cache_channels <= listened, (
        f"caches on channels no watcher listens to: {cache_channels - listened}"
    )


async def test_the_check_sees_a_missing_trigger(engine) -> None:
    """The query finds triggers by their function's source: a trigger dropped in a transaction is missed."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            await conn.execute(text("DROP TRIGGER plan_price_notify ON netsugen.plan_price"))
            await conn.execute(text("DROP TRIGGER plan_price_notify_truncate ON netsugen.plan_price"))
            rows = (await conn.execute(TRIGGERS)).all()
        finally:
            await trans.rollback()
    tables = {r.table_name for r in rows if r.enabled == "A" and "pg_notify('netsugen_prices'" in r.source}
    assert "netsugen.plan_price" not in tables
    assert "netsugen.plan_price" in (await _notifying_triggers(engine))["netsugen_prices"]
