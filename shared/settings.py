"""Settings read from environment variables (and an optional `.env` file).

Every service subclasses :class:`CommonSettings`; see `.env.example` for every variable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://user:pass@host:5432/db. Unset: make run/make test start embedded PostgreSQL.",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:6379/0. Unset: make run/make test start embedded Redis."
    )
    bootstrap_admin_token: SecretStr | None = Field(
        default=None,
        description="Accepted as an admin token to set up a fresh install. SET-UP ONLY: create real tokens "
        "with `gunma token create`, then unset it.",
    )
    service_token: SecretStr | None = Field(
        default=None,
        description="The `service` token this process presents to the other services "
        "(registered by `gunma setup`; make run issues one itself).",
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="JSON logs (structlog); false for console output.")
    db_pool_size: int = Field(default=5, ge=1, le=100, description="Connections per process (2-core hosts: 5).")
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    db_statement_timeout_ms: int = Field(default=15000, ge=100)
    db_pool_pre_ping: bool = Field(
        default=False,
        description="Test each pooled connection before use (3 extra round trips per request). Off: a "
        "dead connection fails one request with 503 and is replaced.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='JSON list of allowed browser origins, e.g. ["https://dash.example.jp"].'
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger request bodies get 413.")
    outbox_relay_interval_s: float = Field(default=0.25, gt=0, description="Outbox relay poll interval.")
    otel_telemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry instrumentation (needs a configured OpenTelemetry SDK). "
        "Off: the platform's Prometheus metrics and JSON logs cover requests, and the check whether a "
        "provider is configured would otherwise run on every request.",
    )
    notify_startup_wait_s: float = Field(
        default=3.0, ge=0, le=60,
        description="How long start-up waits for the LISTEN connection of the in-process caches "
        "(shared/pgnotify.py); without it the caches stay off until it connects.",
    )
    outbox_relay_enabled: bool = Field(
        default=True, description="Run the outbox relay in this API process (tests switch it off)."
    )
    kpi_api_url: str = "http://127.0.0.1:8001"
    netsugen_url: str = "http://127.0.0.1:8002"
    notifier_url: str = "http://127.0.0.1:8003"
    http_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of calls between services.")
    auth_failure_limit_per_minute: int = Field(
        default=30, ge=1, description="Failed authentications per client address per minute before 429."
    )
    audit_retention_years: int = Field(
        default=7, ge=1, le=100,
        description="Years the audit trail keeps its entries (as invoices); older ones are purged daily.",
    )

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError(
                "DATABASE_URL is not set. Start the platform with `make run` (embedded PostgreSQL) "
                "or set DATABASE_URL=postgresql+asyncpg://user@host:5432/db"
            )
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError(
                "REDIS_URL is not set. Start the platform with `make run` (embedded Redis) "
                "or set REDIS_URL=redis://host:6379/0"
            )
        return self.redis_url


@lru_cache
def common_settings() -> CommonSettings:
    return CommonSettings()
