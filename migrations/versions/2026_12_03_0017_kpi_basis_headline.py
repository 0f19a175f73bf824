"""KPI indicators: how observations are reported (running total or the fiscal year's own count), and
whether an indicator with breakdowns also has a plan-stated total (headline) series.

Revision ID: 0017_kpi_basis_headline
Revises: 0013_guest_double_opt_in
Create Date: 2026-12-03

- ``kpi.indicator.observation_basis``: ``running_total`` (the value is the 累計 itself, as the plan
  writes it) or ``fiscal_year_count`` (the value is that fiscal year's own count, as NETSUGEN's
  attendance reports send it; the registry adds the years up for a cumulative indicator).
- ``kpi.indicator.headline_total``: observations, baselines and targets without a breakdown are
  allowed for an indicator with breakdowns (the total the plan states); exported as Open SDG
  headline rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_kpi_basis_headline"
down_revision: str | Sequence[str] | None = "0013_guest_double_opt_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "indicator",
        sa.Column("observation_basis", sa.String(24), server_default="running_total", nullable=False),
        schema="kpi",
    )
    op.add_column(
        "indicator",
        sa.Column("headline_total", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="kpi",
    )
    op.create_check_constraint(
        "observation_basis",
        "indicator",
        "observation_basis IN ('running_total', 'fiscal_year_count')",
        schema="kpi",
    )


def downgrade() -> None:
    op.drop_constraint("observation_basis", "indicator", schema="kpi", type_="check")
    op.drop_column("indicator", "headline_total", schema="kpi")
    op.drop_column("indicator", "observation_basis", schema="kpi")
