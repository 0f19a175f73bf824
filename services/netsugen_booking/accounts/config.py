"""Sign-in settings, mixed into ``NetsugenSettings`` (environment variables ``AUTH_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class AuthSettings(BaseSettings):
    # Lifetime of an access token (minutes). Short: a stolen one is soon useless.
    auth_access_ttl_minutes: int = Field(default=15, ge=1, le=120)
    # A refresh token expires this long after it was issued (each use issues a new one).
    auth_refresh_ttl_hours: int = Field(default=24 * 14, ge=1, le=24 * 90)
    # A session ends this long after sign-in, however often it is refreshed.
    auth_session_max_days: int = Field(default=30, ge=1, le=365)
    # Email sign-in links and codes, password resets and email changes expire after this (minutes).
    auth_email_link_ttl_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Wrong codes accepted per emailed message before it is spent.
    auth_email_code_max_attempts: int = Field(default=5, ge=1, le=20)
    # Emails one address may be sent per purpose in a link's lifetime (the rest are silently dropped).
    auth_email_max_per_window: int = Field(default=5, ge=1, le=100)
    # Where the links in sign-in, reset and email-change emails point (the member portal's origin).
    auth_public_base_url: str = Field(default="http://127.0.0.1:8002", max_length=300)
    # Administrators must use TOTP two-factor authentication (they enrol at their first sign-in).
    auth_require_totp_for_admins: bool = False
    # Minimum password length (NIST SP 800-63B: at least 8; 15 for single-factor). Admins: the larger.
    auth_password_min_length: int = Field(default=8, ge=8, le=64)
    auth_admin_password_min_length: int = Field(default=15, ge=8, le=64)
    # Consecutive failed sign-ins before an account is locked; the lock then doubles per failure.
    auth_lockout_threshold: int = Field(default=5, ge=1, le=100)
    auth_lockout_base_seconds: int = Field(default=60, ge=1)
    auth_lockout_max_seconds: int = Field(default=3600, ge=1)
    # The front-desk console signs out after this many minutes without a key press or click.
    frontdesk_idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
