"""One head: merge the per-schema branches (KPI, NETSUGEN billing and bookings, notifier, notify triggers).

Revision ID: 0009_merge_heads
Revises: 0004_notifier, 0005_netsugen_billing, 0006_netsugen_bookings, 0007_kpi_notify,
    0008_netsugen_auth_notify
Create Date: 2026-12-03

Until here each schema grew on its own branch, so a newcomer's ``alembic upgrade head`` and
``alembic revision`` failed with "multiple heads". From this revision on the history is one line:
every new migration revises the single head (``tests/test_migrations.py`` pins that).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009_merge_heads"
down_revision: str | Sequence[str] | None = (
    "0004_notifier",
    "0005_netsugen_billing",
    "0006_netsugen_bookings",
    "0007_kpi_notify",
    "0008_netsugen_auth_notify",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
