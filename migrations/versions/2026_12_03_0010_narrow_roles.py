"""Narrow roles for tokens: coordinator, kpi_editor, accountant, auditor.

Revision ID: 0010_narrow_roles
Revises: 0009_merge_heads
Create Date: 2026-12-03

The closed set of roles in ``auth.api_token.role`` grows by the four least-privilege roles of the
sign-in issue. Downgrading refuses while a token still holds one of them (the old constraint would
not validate); revoke or delete those tokens first.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_narrow_roles"
down_revision: str | Sequence[str] | None = "0009_merge_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "role IN ('admin', 'staff', 'member', 'service')"
NEW = "role IN ('admin', 'staff', 'member', 'service', 'coordinator', 'kpi_editor', 'accountant', 'auditor')"


def upgrade() -> None:
    op.drop_constraint("role", "api_token", schema="auth", type_="check")
    op.create_check_constraint("role", "api_token", NEW, schema="auth")


def downgrade() -> None:
    op.drop_constraint("role", "api_token", schema="auth", type_="check")
    op.create_check_constraint("role", "api_token", OLD, schema="auth")
