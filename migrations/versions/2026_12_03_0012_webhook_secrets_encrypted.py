"""Webhook secrets encrypted at rest (security finding 12).

Revision ID: 0012_webhook_secrets_encrypted
Revises: 0010_narrow_roles
Create Date: 2026-12-03

``notifier.webhook_endpoint.secret`` and ``previous_secret`` become ``text`` (a Fernet token is
longer than the 100 characters of a ``whsec_`` secret) and every secret still in clear is encrypted
with the first key of ``WEBHOOK_SECRET_KEYS``.

The key: this migration reads it as the notifier does (``WEBHOOK_SECRET_KEYS`` from the environment
or `.env`; with ``ENVIRONMENT=development`` the generated `.data/webhook-secret-keys`; with
``ENVIRONMENT=test`` the fixed test key). When rows need encrypting and no key is configured in
production it stops with a clear message and changes nothing: set ``WEBHOOK_SECRET_KEYS`` for the
migration (the same value as the notifier's) and run it again. A database without endpoints needs
no key.

Downgrade decrypts the secrets back into clear text (same key rules) and narrows the columns again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from services.notifier.webhooks.secretbox import SecretBox

revision: str = "0012_webhook_secrets_encrypted"
down_revision: str | Sequence[str] | None = "0010_narrow_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLEAR_PREFIX = "whsec_"


def _box() -> SecretBox:
    from services.notifier.webhooks.secretbox import MissingKey, box_from_environment

    try:
        return box_from_environment()
    except (MissingKey, ValueError) as exc:
        raise RuntimeError(
            "Migration 0012 must encrypt existing webhook secrets and needs WEBHOOK_SECRET_KEYS (the "
            f"notifier's value): {exc}"
        ) from exc


def _rewrite(convert_clear: bool) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, secret, previous_secret FROM notifier.webhook_endpoint ORDER BY id")
    ).all()

    def needs(value: str | None) -> bool:
        if value is None:
            return False
        return value.startswith(CLEAR_PREFIX) if convert_clear else not value.startswith(CLEAR_PREFIX)

    todo = [r for r in rows if needs(r.secret) or needs(r.previous_secret)]
    if not todo:
        return
    box = _box()

    def convert(value: str | None) -> str | None:
        if not needs(value):
            return value
        assert value is not None
        return box.encrypt(value) if convert_clear else box.decrypt(value)

    for r in todo:
        conn.execute(
            sa.text("UPDATE notifier.webhook_endpoint SET secret = :s, previous_secret = :p WHERE id = :id"),
            {"id": r.id, "s": convert(r.secret), "p": convert(r.previous_secret)},
        )


def upgrade() -> None:
    op.alter_column("webhook_endpoint", "secret", type_=sa.Text(), existing_nullable=False, schema="notifier")
    op.alter_column(
        "webhook_endpoint", "previous_secret", type_=sa.Text(), existing_nullable=True, schema="notifier"
    )
    _rewrite(convert_clear=True)


def downgrade() -> None:
    _rewrite(convert_clear=False)
    op.alter_column(
        "webhook_endpoint", "secret", type_=sa.String(100), existing_nullable=False, schema="notifier"
    )
    op.alter_column(
        "webhook_endpoint", "previous_secret", type_=sa.String(100), existing_nullable=True, schema="notifier"
    )
