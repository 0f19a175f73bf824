"""KPI registry: SDG goals and targets, indicators, breakdowns, baselines, targets, SDG links,
initiatives, observations with revisions, computed progress, the registry version and seed records.

Revision ID: 0002_kpi
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_kpi"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Revisions are history: a correction adds a revision, nothing may rewrite or remove one.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION kpi.observation_revision_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'observation revisions are append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER observation_revision_append_only
BEFORE UPDATE OR DELETE ON kpi.observation_revision
FOR EACH ROW EXECUTE FUNCTION kpi.observation_revision_append_only()
"""

TABLES = (
    "observation_revision",
    "observation",
    "indicator_progress",
    "initiative_indicator",
    "initiative",
    "target",
    "baseline",
    "indicator_sdg_target",
    "breakdown",
    "indicator",
    "sdg_target",
    "sdg_goal",
    "seed_record",
    "registry_version",
)


def upgrade() -> None:
    op.create_table(
        "indicator",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_ja", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=50), nullable=False),
        sa.Column("aspect", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("cumulative", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("sections", sa.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "aspect IN ('economy', 'society', 'environment')", name=op.f("ck_indicator_aspect")
        ),
        sa.CheckConstraint(
            "cardinality(sections) >= 1 AND sections <@ ARRAY['1.1(3)', '1.2(1)', '2(2)①', '2(2)②', '2(2)③', '2(3)-1', '2(3)-2']::varchar[]",
            name=op.f("ck_indicator_sections"),
        ),
        sa.CheckConstraint("direction IN ('increase', 'decrease')", name=op.f("ck_indicator_direction")),
        sa.CheckConstraint("id ~ '^[a-z0-9]+(?:-[a-z0-9]+)*$'", name=op.f("ck_indicator_id_slug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        schema="kpi",
        comment="KPIs of the SDGs Future City Plan",
        info={"reference": True},
    )
    op.create_index("ix_indicator_position_id", "indicator", ["position", "id"], unique=False, schema="kpi")
    op.create_table(
        "initiative",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_ja", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id ~ '^[a-z0-9]+(?:-[a-z0-9]+)*$'", name=op.f("ck_initiative_id_slug")),
        sa.CheckConstraint(
            "section IN ('1.1(3)', '1.2(1)', '2(2)①', '2(2)②', '2(2)③', '2(3)-1', '2(3)-2')",
            name=op.f("ck_initiative_section"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiative")),
        schema="kpi",
        comment="Initiatives (取組) of the plan",
        info={"reference": True},
    )
    op.create_index("ix_initiative_position_id", "initiative", ["position", "id"], unique=False, schema="kpi")
    op.create_table(
        "registry_version",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_version")),
        schema="kpi",
        comment="Registry-wide change counter for ETags",
    )
    op.create_table(
        "sdg_goal",
        sa.Column("number", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("name_ja", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.CheckConstraint("number BETWEEN 1 AND 17", name=op.f("ck_sdg_goal_number")),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_sdg_goal")),
        schema="kpi",
        comment="The 17 Sustainable Development Goals",
        info={"reference": True},
    )
    op.create_table(
        "seed_record",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_seed_record")),
        schema="kpi",
        comment="Seed entries applied (digest of each YAML entry)",
        info={"reference": True},
    )
    op.create_table(
        "breakdown",
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("name_ja", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z0-9_]+$'", name=op.f("ck_breakdown_key_format")),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_breakdown_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "key", name=op.f("pk_breakdown")),
        schema="kpi",
        comment="Breakdowns of an indicator (男性/女性, 小6/中3 …)",
        info={"reference": True},
    )
    op.create_table(
        "indicator_progress",
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("doc", postgresql.JSONB(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('achieved', 'on_track', 'behind', 'regressing', 'baseline_pending', 'no_data')",
            name=op.f("ck_indicator_progress_status"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_indicator_progress_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", name=op.f("pk_indicator_progress")),
        schema="kpi",
        comment="Computed progress and status per indicator (recomputed on every change)",
    )
    op.create_index(
        op.f("ix_indicator_progress_status"), "indicator_progress", ["status"], unique=False, schema="kpi"
    )
    op.create_table(
        "initiative_indicator",
        sa.Column("initiative_id", sa.String(length=100), nullable=False),
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_initiative_indicator_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["kpi.initiative.id"],
            name=op.f("fk_initiative_indicator_initiative_id_initiative"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("initiative_id", "indicator_id", name=op.f("pk_initiative_indicator")),
        schema="kpi",
        comment="KPIs measuring each initiative",
        info={"reference": True},
    )
    op.create_index(
        op.f("ix_initiative_indicator_indicator_id"),
        "initiative_indicator",
        ["indicator_id"],
        unique=False,
        schema="kpi",
    )
    op.create_table(
        "sdg_target",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("goal_number", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("code LIKE goal_number::text || '.%'", name=op.f("ck_sdg_target_code_in_goal")),
        sa.CheckConstraint(
            "code ~ '^(?:[1-9]|1[0-7])\\.(?:[1-9][0-9]?|[a-z])$'", name=op.f("ck_sdg_target_code_format")
        ),
        sa.ForeignKeyConstraint(
            ["goal_number"], ["kpi.sdg_goal.number"], name=op.f("fk_sdg_target_goal_number_sdg_goal")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sdg_target")),
        schema="kpi",
        comment="The 169 SDG targets",
        info={"reference": True},
    )
    op.create_index(
        op.f("ix_sdg_target_goal_number"), "sdg_target", ["goal_number"], unique=False, schema="kpi"
    )
    op.create_table(
        "baseline",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("breakdown_key", sa.String(length=50), nullable=True),
        sa.Column("fiscal_year", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name=op.f("ck_baseline_finite_value")
        ),
        sa.CheckConstraint("fiscal_year BETWEEN 1990 AND 2100", name=op.f("ck_baseline_fiscal_year")),
        sa.ForeignKeyConstraint(
            ["indicator_id", "breakdown_key"],
            ["kpi.breakdown.indicator_id", "kpi.breakdown.key"],
            name=op.f("fk_baseline_indicator_id_breakdown"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_baseline_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline")),
        sa.UniqueConstraint(
            "indicator_id",
            "breakdown_key",
            name=op.f("uq_baseline_indicator_id_breakdown_key"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="kpi",
        comment="Baselines (基準値) per indicator and breakdown",
        info={"reference": True},
    )
    op.create_table(
        "indicator_sdg_target",
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("sdg_target_code", sa.String(length=8), nullable=False),
        sa.Column("determination", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "determination IN ('as_written', 'inferred')", name=op.f("ck_indicator_sdg_target_determination")
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_indicator_sdg_target_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sdg_target_code"],
            ["kpi.sdg_target.code"],
            name=op.f("fk_indicator_sdg_target_sdg_target_code_sdg_target"),
        ),
        sa.PrimaryKeyConstraint("indicator_id", "sdg_target_code", name=op.f("pk_indicator_sdg_target")),
        schema="kpi",
        comment="Links from indicators to SDG targets, with how each was determined",
        info={"reference": True},
    )
    op.create_index(
        op.f("ix_indicator_sdg_target_sdg_target_code"),
        "indicator_sdg_target",
        ["sdg_target_code"],
        unique=False,
        schema="kpi",
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("breakdown_key", sa.String(length=50), nullable=True),
        sa.Column("fiscal_year", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name=op.f("ck_observation_finite_value")
        ),
        sa.CheckConstraint("fiscal_year BETWEEN 1990 AND 2100", name=op.f("ck_observation_fiscal_year")),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_observation_revision")),
        sa.ForeignKeyConstraint(
            ["indicator_id", "breakdown_key"],
            ["kpi.breakdown.indicator_id", "kpi.breakdown.key"],
            name=op.f("fk_observation_indicator_id_breakdown"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_observation_indicator_id_indicator"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
        sa.UniqueConstraint(
            "indicator_id",
            "breakdown_key",
            "fiscal_year",
            name=op.f("uq_observation_indicator_id_breakdown_key_fiscal_year"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="kpi",
        comment="Observed values per indicator, breakdown and fiscal year (current revision)",
    )
    op.create_table(
        "target",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("indicator_id", sa.String(length=100), nullable=False),
        sa.Column("breakdown_key", sa.String(length=50), nullable=True),
        sa.Column("fiscal_year", sa.SmallInteger(), nullable=False),
        sa.Column("comparator", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=True),
        sa.Column("reference_fiscal_year", sa.SmallInteger(), nullable=True),
        sa.Column("sections", sa.ARRAY(sa.String(length=16)), nullable=False),
        sa.CheckConstraint(
            "(comparator = 'increase_from_baseline') = (value IS NULL)",
            name=op.f("ck_target_value_iff_comparator"),
        ),
        sa.CheckConstraint(
            "cardinality(sections) >= 1 AND sections <@ ARRAY['1.1(3)', '1.2(1)', '2(2)①', '2(2)②', '2(2)③', '2(3)-1', '2(3)-2']::varchar[]",
            name=op.f("ck_target_sections"),
        ),
        sa.CheckConstraint(
            "comparator IN ('eq', 'gte', 'lte', 'increase_from_baseline')", name=op.f("ck_target_comparator")
        ),
        sa.CheckConstraint(
            "reference_fiscal_year IS NULL OR (comparator = 'increase_from_baseline' AND reference_fiscal_year BETWEEN 1990 AND 2100)",
            name=op.f("ck_target_reference_fiscal_year"),
        ),
        sa.CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name=op.f("ck_target_finite_value")
        ),
        sa.CheckConstraint("fiscal_year BETWEEN 1990 AND 2100", name=op.f("ck_target_fiscal_year")),
        sa.ForeignKeyConstraint(
            ["indicator_id", "breakdown_key"],
            ["kpi.breakdown.indicator_id", "kpi.breakdown.key"],
            name=op.f("fk_target_indicator_id_breakdown"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi.indicator.id"],
            name=op.f("fk_target_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target")),
        sa.UniqueConstraint(
            "indicator_id",
            "breakdown_key",
            "fiscal_year",
            name=op.f("uq_target_indicator_id_breakdown_key_fiscal_year"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="kpi",
        comment="Dated targets (目標値) per indicator and breakdown",
        info={"reference": True},
    )
    op.create_table(
        "observation_revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("observation_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("correction", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_role", sa.String(length=16), nullable=False),
        sa.Column("recorded_by_token_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "value NOT IN ('NaN', 'Infinity', '-Infinity')", name=op.f("ck_observation_revision_finite_value")
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_observation_revision_revision")),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["kpi.observation.id"],
            name=op.f("fk_observation_revision_observation_id_observation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_revision")),
        sa.UniqueConstraint(
            "observation_id", "revision", name=op.f("uq_observation_revision_observation_id_revision")
        ),
        schema="kpi",
        comment="Every revision of every observation (append-only)",
    )

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS observation_revision_append_only ON kpi.observation_revision")
    op.execute("DROP FUNCTION IF EXISTS kpi.observation_revision_append_only()")
    for table in TABLES:
        op.drop_table(table, schema="kpi")
