"""KPI registry: notify listeners when the registry version changes.

Revision ID: 0007_kpi_notify
Revises: 0002_kpi
Create Date: 2026-12-03

Every API process keeps the registry version (the key of its response cache and ETags) in memory
and LISTENs on ``kpi_registry`` (shared/pgnotify.py). The trigger notifies on every change of
``kpi.registry_version`` — by the API, the CLI, a restore or hand-written SQL — at commit.
``ENABLE ALWAYS`` keeps it firing with ``session_replication_role = replica`` (pg_restore
--disable-triggers, the test suite's fast cleanup), which would otherwise skip it silently.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_kpi_notify"
down_revision: str | Sequence[str] | None = "0002_kpi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION kpi.notify_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kpi_registry', '');
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER registry_version_notify AFTER INSERT OR UPDATE OR DELETE ON kpi.registry_version "
        "FOR EACH STATEMENT EXECUTE FUNCTION kpi.notify_registry_changed()"
    )
    op.execute(
        "CREATE TRIGGER registry_version_notify_truncate AFTER TRUNCATE ON kpi.registry_version "
        "FOR EACH STATEMENT EXECUTE FUNCTION kpi.notify_registry_changed()"
    )
    op.execute("ALTER TABLE kpi.registry_version ENABLE ALWAYS TRIGGER registry_version_notify")
    op.execute("ALTER TABLE kpi.registry_version ENABLE ALWAYS TRIGGER registry_version_notify_truncate")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS registry_version_notify_truncate ON kpi.registry_version")
    op.execute("DROP TRIGGER IF EXISTS registry_version_notify ON kpi.registry_version")
    op.execute("DROP FUNCTION IF EXISTS kpi.notify_registry_changed()")
