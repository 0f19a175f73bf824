"""Bulk writes for the invoice run: outbox rows by the thousand and ``COPY`` of invoice lines.

The monthly run writes tens of thousands of rows; one ``INSERT`` per row (or per event) would
make it slow and non-linear in round trips. These helpers write in the caller's transaction, so
everything still commits or rolls back together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import EventData
from shared.jst import utcnow
from shared.logging import request_id_var

BATCH = 5000

_OUTBOX_INSERT = text(
    "INSERT INTO netsugen.outbox (id, event_type, payload, request_id) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), CAST(:payloads AS jsonb[]), "
    "CAST(:request_ids AS text[]))"
)


def event_payload(event_id: uuid.UUID, data: EventData, occurred_at: str) -> dict[str, Any]:
    """The envelope ``shared.events.make_event`` builds, without re-validating known data."""
    return {
        "id": str(event_id),
        "type": data.type,
        "source": data.source,
        "occurred_at": occurred_at,
        "schema_version": 1,
        "data": data.model_dump(mode="json"),
    }


async def emit_many(session: AsyncSession, events: Iterable[EventData]) -> int:
    """Write many events to the netsugen outbox, ``BATCH`` rows per statement.

    The rows are those ``shared.outbox.emit`` writes (id, type, envelope, request id), so the relay
    and the notifier cannot tell the difference. Returns the number of events written.
    """
    request_id = request_id_var.get()
    occurred_at = utcnow().isoformat().replace("+00:00", "Z")
    count = 0
    ids: list[uuid.UUID] = []
    types: list[str] = []
    payloads: list[str] = []

    async def flush() -> None:
        await session.execute(
            _OUTBOX_INSERT,
            {"ids": ids, "types": types, "payloads": payloads, "request_ids": [request_id] * len(ids)},
        )

    for data in events:
        event_id = uuid.uuid4()
        ids.append(event_id)
        types.append(data.type)
        payloads.append(orjson.dumps(event_payload(event_id, data, occurred_at)).decode())
        if len(ids) >= BATCH:
            await flush()
            count += len(ids)
            ids, types, payloads = [], [], []
    if ids:
        await flush()
        count += len(ids)
    return count


async def copy_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """``COPY`` records into ``table`` on the session's connection (same transaction).

    Statement-level triggers (the immutability guards) still run once for the whole copy.
    """
    if not records:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        table.name, schema_name=table.schema, columns=list(columns), records=records
    )
