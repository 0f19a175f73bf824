"""Settings read from environment variables (and an optional `.env` file).

Every service subclasses :class:`CommonSettings`; see `.env.example` for every variable.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: A bootstrap admin token shorter than this is refused at start-up (finding 12 of docs/security.md).
BOOTSTRAP_TOKEN_MIN_LENGTH = 32


class CommonSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's error names the variable and the reason, never the
    # value (a refused BOOTSTRAP_ADMIN_TOKEN, or every secret of the environment, in a start-up log).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

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
        description="Accepted as an admin token to set up a fresh install (at least "
        f"{BOOTSTRAP_TOKEN_MIN_LENGTH} characters). SET-UP ONLY: create real tokens with `gunma token "
        "create`, then unset it. Refused (the service does not start) when ENVIRONMENT=production.",
    )
    service_token: SecretStr | None = Field(
        default=None,
        description="The `service` token this process presents to the other services "
        "(registered by `gunma setup`; make run issues one itself).",
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="JSON logs (structlog); false for console output.")
    db_pool_size: int = Field(
        default=5, ge=1, le=100, description="Connections per process (2-core hosts: 5)."
    )
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    db_statement_timeout_ms: int = Field(default=15000, ge=100)
    db_pool_pre_ping: bool = Field(
        default=False,
        description="Test each pooled connection before use (3 extra round trips per request). Off: a "
        "dead connection fails one request with 503 and is replaced.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='JSON list of allowed browser origins, e.g. ["https://dash.example.jp"].',
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
        default=3.0,
        ge=0,
        le=60,
        description="How long start-up waits for the LISTEN connection of the in-process caches "
        "(shared/pgnotify.py); without it the caches stay off until it connects.",
    )
    outbox_relay_enabled: bool = Field(
        default=True, description="Run the outbox relay in this API process (tests switch it off)."
    )
    outbox_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Relayed outbox rows older than this are deleted by the relay (hourly); unsent rows never.",
    )
    kpi_api_url: str = "http://127.0.0.1:8001"
    netsugen_url: str = "http://127.0.0.1:8002"
    notifier_url: str = "http://127.0.0.1:8003"
    http_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of calls between services.")
    auth_failure_limit_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications per client address, and per presented credential, in any "
        "60 s before 429 (counted in Redis, shared by every process). A valid token is never refused.",
    )
    audit_retention_years: int = Field(
        default=7,
        ge=1,
        le=100,
        description="Years the audit trail keeps its entries (as invoices); older ones are purged daily.",
    )

    api_docs_enabled: bool | None = Field(
        default=None,
        description="Interactive API docs (/docs, Swagger UI) served from pinned local assets under a strict CSP. "
        "Unset: off when ENVIRONMENT=production, on elsewhere. /openapi.json is always served.",
    )

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='JSON list of the reverse proxies\' addresses or CIDRs, e.g. ["10.0.0.0/8"]. X-Forwarded-For '
        "is read only when the direct peer is one of them (then the right-most address that is not a "
        "trusted proxy is the client). Empty (default): the peer address is the client.",
    )
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="Total size of a request's header names and values; larger requests get 431.",
    )

    @field_validator("bootstrap_admin_token", mode="before")
    @classmethod
    def _empty_bootstrap_is_unset(cls, value: object) -> object:
        # docker-compose passes `${BOOTSTRAP_ADMIN_TOKEN:-}`: an empty value means "not set".
        return None if value == "" else value

    @field_validator("bootstrap_admin_token")
    @classmethod
    def _bootstrap_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < BOOTSTRAP_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"BOOTSTRAP_ADMIN_TOKEN must be at least {BOOTSTRAP_TOKEN_MIN_LENGTH} characters "
                "(e.g. `openssl rand -hex 24`)"
            )
        if not (secret.isascii() and secret.isprintable() and " " not in secret):
            raise ValueError("BOOTSTRAP_ADMIN_TOKEN must be printable ASCII without spaces")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from None
        return value

    @model_validator(mode="after")
    def _no_bootstrap_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.bootstrap_admin_token is not None:
            raise ValueError(
                "BOOTSTRAP_ADMIN_TOKEN is refused when ENVIRONMENT=production: create an admin token "
                "with `gunma token create --role admin --name <you>` and unset BOOTSTRAP_ADMIN_TOKEN"
            )
        return self

    def docs_enabled(self) -> bool:
        if self.api_docs_enabled is not None:
            return self.api_docs_enabled
        return self.environment != "production"

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


def command_database_url() -> str:
    """The database a service's administration command works on.

    ``gunma`` resolves it before any ``gunma <service> …`` command runs (``DATABASE_URL``, or the
    embedded server it starts under ``.data/``), so the services need no platform tooling.
    """
    import os

    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: run service commands through `gunma <service> …`")
    return url


def data_dir() -> Path:
    """Where local state of a development run lives (the embedded servers, the mail sink, the
    development webhook key): ``GUNMA_DATA_DIR`` or ``.data/`` in the checkout (git-ignored)."""
    import os

    return Path(os.environ.get("GUNMA_DATA_DIR", Path(__file__).resolve().parent.parent / ".data"))
