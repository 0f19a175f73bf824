"""Re-encrypt every stored webhook secret with the first key of ``WEBHOOK_SECRET_KEYS``
(``gunma notifier rotate-webhook-key``; the procedure is in services/notifier/README.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.webhooks.secretbox import SecretBox

BATCH = 200

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationResult:
    endpoints: int
    rotated: int
    already_current: int


async def rotate_all(engine: AsyncEngine, box: SecretBox, progress: Progress | None = None) -> RotationResult:
    """Every endpoint's ``secret`` and ``previous_secret`` re-encrypted with ``box``'s first key,
    a batch of rows per transaction (rows locked while rewritten, so a concurrent secret rotation
    is not lost). Raises :class:`UndecryptableSecret` when no configured key opens a secret: add
    the old key back (after the new one) and run again; nothing already done is undone."""
    async with engine.connect() as conn:
        ids = [
            r.id
            for r in (await conn.execute(text("SELECT id FROM notifier.webhook_endpoint ORDER BY id"))).all()
        ]
    rotated = current = 0
    if progress:
        progress(0, len(ids))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, secret, previous_secret FROM notifier.webhook_endpoint "
                        "WHERE id = ANY(CAST(:ids AS uuid[])) FOR UPDATE"
                    ),
                    {"ids": batch},
                )
            ).all()
            for r in rows:
                values = [r.secret, r.previous_secret]
                if all(v is None or box.is_current(v) for v in values):
                    current += 1
                    continue
                new_secret, new_previous = (None if v is None else box.rotate(v) for v in values)
                await conn.execute(
                    text(
                        "UPDATE notifier.webhook_endpoint SET secret = :s, previous_secret = :p, "
                        "updated_at = now() WHERE id = :id"
                    ),
                    {"id": r.id, "s": new_secret, "p": new_previous},
                )
                rotated += 1
        if progress:
            progress(min(start + BATCH, len(ids)), len(ids))
    return RotationResult(endpoints=len(ids), rotated=rotated, already_current=current)
