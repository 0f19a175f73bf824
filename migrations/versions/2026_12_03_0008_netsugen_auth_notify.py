"""NETSUGEN calendar, prices and API tokens: notify listeners when they change.

Revision ID: 0008_netsugen_auth_notify
Revises: 0003_netsugen_core
Create Date: 2026-12-03

The API processes keep today's opening hours and the principals of recently seen tokens in memory
and the price table (shared/pgnotify.py). These triggers tell every process at commit that a
closure, special hours, a price or a token changed (``netsugen_calendar``, ``netsugen_prices``,
``auth_tokens``), so a new closure closes the desk and
a revoked token stops working everywhere at once. ``ENABLE ALWAYS``: they fire under
``session_replication_role = replica`` too (restores, the test suite's fast cleanup).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_netsugen_auth_notify"
down_revision: str | Sequence[str] | None = "0003_netsugen_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (schema, table, function, channel)
TRIGGERS = [
    ("netsugen", "calendar_closure", "netsugen.notify_calendar_changed", "netsugen_calendar"),
    ("netsugen", "calendar_special_hours", "netsugen.notify_calendar_changed", "netsugen_calendar"),
    ("netsugen", "plan_price", "netsugen.notify_prices_changed", "netsugen_prices"),
    ("auth", "api_token", "auth.notify_tokens_changed", "auth_tokens"),
]
FUNCTIONS = {
    "netsugen.notify_calendar_changed": "netsugen_calendar",
    "netsugen.notify_prices_changed": "netsugen_prices",
    "auth.notify_tokens_changed": "auth_tokens",
}


def upgrade() -> None:
    for function, channel in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$"
        )
    for schema, table, function, _channel in TRIGGERS:
        for suffix, events in (("notify", "INSERT OR UPDATE OR DELETE"), ("notify_truncate", "TRUNCATE")):
            name = f"{table}_{suffix}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {events} ON {schema}.{table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
            op.execute(f"ALTER TABLE {schema}.{table} ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    for schema, table, _function, _channel in TRIGGERS:
        for suffix in ("notify", "notify_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {schema}.{table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
