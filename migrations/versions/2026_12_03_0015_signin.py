"""Sign-in: accounts, sessions, session tokens and one-time email secrets (schema auth).

Revision ID: 0015_signin
Revises: 0016_audit_trail
Create Date: 2026-12-03

``auth.account`` (staff with Argon2id passwords and optional TOTP; members signed in by email),
``auth.session`` and ``auth.session_token`` (SHA-256 of access and refresh tokens) and
``auth.message`` (one-time sign-in links and codes, password resets, email changes; hashes only,
the clear secret only until the notifier has read it). Every API process caches the principals
of access tokens behind the ``auth_tokens`` channel (shared/pgnotify.py): the triggers below
notify it at commit when what a principal is made of changes (an account's role, name, scope or
activity; a session's revocation or expiry), so a deactivation or a revocation reaches every
process at once. New sessions need no notification (unknown tokens are never cached). ``ENABLE ALWAYS`` as in 0008.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_signin"
down_revision: str | Sequence[str] | None = "0016_audit_trail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = (
    "role IN ('admin', 'staff', 'member', 'service', 'coordinator', 'kpi_editor', 'accountant', 'auditor')"
)
# What changes a cached principal (shared/sessions.py): not the bookkeeping of every sign-in and
# refresh (last_sign_in_at, failed_attempts, last_used_at), which would empty every process's cache
# of API-token principals too, many times a minute.
NOTIFIED = {
    "account": "UPDATE OF kind, name, role, subject, member_id, member_user_id, active OR DELETE",
    "session": "UPDATE OF account_id, expires_at, revoked_at OR DELETE",
}


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(100)),
        sa.Column("member_id", sa.Uuid()),
        sa.Column("member_user_id", sa.Uuid()),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("totp_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("totp_last_step", sa.Integer()),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.CheckConstraint("kind IN ('staff', 'member')", name=op.f("ck_account_kind")),
        sa.CheckConstraint(ROLES, name=op.f("ck_account_role")),
        sa.CheckConstraint(
            "kind <> 'member' OR (role = 'member' AND member_id IS NOT NULL)",
            name=op.f("ck_account_member_shape"),
        ),
        sa.CheckConstraint(
            "kind <> 'staff' OR role NOT IN ('member', 'service')", name=op.f("ck_account_staff_role")
        ),
        sa.CheckConstraint("failed_attempts >= 0", name=op.f("ck_account_failed_attempts")),
        schema="auth",
        comment="People who sign in: staff (password, TOTP) and members (email link)",
    )
    op.create_index(
        "uq_account_staff_email",
        "account",
        [sa.text("lower(email)")],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("kind = 'staff'"),
    )
    op.create_index(
        "uq_account_member",
        "account",
        ["member_id", sa.text("coalesce(member_user_id, '00000000-0000-0000-0000-000000000000'::uuid)")],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("kind = 'member'"),
    )
    op.create_table(
        "session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["auth.account.id"],
            name=op.f("fk_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("method IN ('password', 'email_link')", name=op.f("ck_session_method")),
        schema="auth",
        comment="Sign-in sessions (revoking one ends all its tokens)",
    )
    op.create_index(op.f("ix_session_account_id"), "session", ["account_id"], schema="auth")
    op.create_table(
        "session_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_session_token")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth.session.id"],
            name=op.f("fk_session_token_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("kind IN ('access', 'refresh')", name=op.f("ck_session_token_kind")),
        schema="auth",
        comment="Access and refresh tokens of sessions (SHA-256 only)",
    )
    op.create_index(op.f("ix_session_token_session_id"), "session_token", ["session_id"], schema="auth")
    op.create_table(
        "message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Uuid()),
        sa.Column("member_id", sa.Uuid()),
        sa.Column("member_user_id", sa.Uuid()),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64)),
        sa.Column("secret_clear", sa.String(400)),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_message_token_hash")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["auth.account.id"],
            name=op.f("fk_message_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "purpose IN ('sign_in', 'password_reset', 'email_change')", name=op.f("ck_message_purpose")
        ),
        sa.CheckConstraint("language IN ('ja', 'en')", name=op.f("ck_message_language")),
        schema="auth",
        comment="One-time secrets sent by email (hashes; clear text only until sent)",
    )
    op.create_index("ix_message_email", "message", [sa.text("lower(email)"), "created_at"], schema="auth")
    # auth.notify_tokens_changed() exists since 0008 (it notifies 'auth_tokens').
    for table, changes in NOTIFIED.items():
        for suffix, events in (("notify", changes), ("notify_truncate", "TRUNCATE")):
            name = f"{table}_{suffix}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {events} ON auth.{table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION auth.notify_tokens_changed()"
            )
            op.execute(f"ALTER TABLE auth.{table} ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    op.drop_table("message", schema="auth")
    op.drop_table("session_token", schema="auth")
    op.drop_table("session", schema="auth")
    op.drop_table("account", schema="auth")
