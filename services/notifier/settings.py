"""Notifier settings (environment variables; `.env.example` is generated from these descriptions).

The retry schedule, quiet hours and reconciliation figures are documented in
`services/notifier/README.md`; keep the two in step.
"""

from __future__ import annotations

from datetime import time
from email.utils import parseaddr
from functools import lru_cache

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from services.notifier.webhooks.secretbox import SecretBox, parse_keys, resolve_keys
from shared.settings import CommonSettings

#: Waits (seconds) after failed attempt 1, 2, 3 … before the next one: 1 min, 5 min, 30 min, 2 h,
#: 6 h, 12 h, 24 h. Roughly ×4 a step, so a receiver that is down for a weekend still gets its mail.
DEFAULT_RETRY_SCHEDULE_S: tuple[float, ...] = (60, 300, 1800, 7200, 21600, 43200, 86400)


class NotifierSettings(CommonSettings):
    notifier_port: int = Field(default=8003, ge=1, le=65535)

    # ---- SMTP -----------------------------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=51025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=15.0, gt=0, description="SMTP connect and command timeout.")
    smtp_pool_size: int = Field(
        default=4, ge=1, le=64, description="SMTP connections kept open and reused between deliveries."
    )
    mail_from: str = "NETSUGEN <noreply@netsugen.example.jp>"
    public_base_url: str = Field(
        default="http://127.0.0.1:8002",
        max_length=300,
        description="Public origin of netsugen_booking (PUBLIC_BASE_URL); links in mails open its member portal.",
    )

    # ---- Retries --------------------------------------------------------------------------------
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE_S),
        description="Wait (s) after the n-th failed attempt of a delivery; the last entry repeats.",
    )
    retry_jitter: float = Field(
        default=0.2, ge=0, lt=1, description="Each wait is multiplied by a random factor in [1-j, 1+j]."
    )
    max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts before a delivery becomes a dead letter (a manual retry starts a new cycle).",
    )

    # ---- Quiet hours (JST) for non-urgent email ------------------------------------------------
    quiet_hours_enabled: bool = Field(default=True, description="Hold non-urgent email during quiet hours.")
    quiet_hours_start: time = Field(default=time(21, 0), description="Quiet hours start (JST).")
    quiet_hours_end: time = Field(
        default=time(8, 0), description="Quiet hours end (JST): held email goes then."
    )

    # ---- Webhooks -------------------------------------------------------------------------------
    webhook_timeout_s: float = Field(default=15.0, gt=0, description="Timeout of one webhook POST.")
    webhook_rotation_overlap_s: float = Field(
        default=86400.0,
        ge=0,
        description="After a secret rotation the previous secret keeps signing this long.",
    )
    webhook_allow_private_destinations: bool = Field(
        default=False,
        description="DEVELOPMENT AND TESTS ONLY (refused in production): allow webhook URLs on loopback, "
        "private, link-local and other internal addresses.",
    )
    webhook_dns_cache_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long the worker reuses a webhook host's checked DNS answer (0: resolve every connection).",
    )
    webhook_secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys encrypting webhook secrets at rest: the first encrypts, all "
        "decrypt. Required in production; development generates .data/webhook-secret-keys, tests use a fixed key.",
    )

    # ---- Recipients (netsugen_booking contact lookups) -----------------------------------------
    contact_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of a contact lookup.")

    # ---- Worker and reconciliation --------------------------------------------------------------
    worker_max_jobs: int = Field(default=20, ge=1, le=1000, description="Jobs one worker runs at once.")
    worker_job_timeout_s: int = Field(default=90, ge=1, description="arq job timeout.")
    worker_poll_delay_s: float = Field(default=0.5, gt=0, description="arq queue poll interval.")
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Serve the worker's own Prometheus metrics on this port (0: off).",
    )
    sending_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="A delivery 'sending' longer than this lost its worker and is retried (> one attempt's time).",
    )
    reconcile_after_s: float = Field(
        default=300.0,
        ge=0,
        description="A waiting delivery this far past its scheduled time is queued again.",
    )
    ledger_retention_days: int = Field(
        default=400,
        ge=30,
        le=3650,
        description=(
            "Finished deliveries (with their attempts), their inbox events and reconciliation runs older "
            "than this are deleted hourly; deliveries still in flight never are."
        ),
    )
    reconcile_interval_s: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Reconciliation cron interval (s): a divisor of 60, or whole minutes dividing an hour.",
    )
    reconcile_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Deliveries per reconciliation run."
    )
    metrics_refresh_s: float = Field(
        default=15.0, gt=0, description="How often the API refreshes the ledger figures of /metrics."
    )

    @field_validator("retry_schedule_s")
    @classmethod
    def _schedule_positive(cls, value: list[float]) -> list[float]:
        if not value or any(v < 0 for v in value):
            raise ValueError("retry_schedule_s must be a non-empty list of non-negative seconds")
        return value

    @model_validator(mode="after")
    def _interval_fits_cron(self) -> NotifierSettings:
        s = self.reconcile_interval_s
        if not (60 % s == 0 or (s % 60 == 0 and 60 % (s // 60) == 0)):
            raise ValueError("reconcile_interval_s must divide 60, or be whole minutes dividing an hour")
        return self

    @model_validator(mode="after")
    def _webhook_security(self) -> NotifierSettings:
        if self.webhook_secret_keys is not None and self.webhook_secret_keys.get_secret_value().strip():
            parse_keys(self.webhook_secret_keys.get_secret_value())
        elif self.environment == "production":
            raise ValueError(
                "WEBHOOK_SECRET_KEYS is required in production (webhook secrets are stored encrypted with it); "
                "see services/notifier/README.md"
            )
        if self.webhook_allow_private_destinations and self.environment == "production":
            raise ValueError(
                "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS is for development and tests only, not production"
            )
        return self

    _secret_box: SecretBox | None = PrivateAttr(default=None)

    def secret_box(self) -> SecretBox:
        """The webhook secrets' keys (see ``webhooks/secretbox.py`` for the per-environment defaults)."""
        if self._secret_box is None:
            configured = self.webhook_secret_keys.get_secret_value() if self.webhook_secret_keys else None
            self._secret_box = SecretBox(resolve_keys(configured, self.environment))
        return self._secret_box

    @property
    def portal_url(self) -> str:
        """Where links in mails point: the member portal (``/portal/bookings/{id}``, ``/portal/visits`` …)."""
        return f"{self.public_base_url.rstrip('/')}/portal"

    @property
    def mail_domain(self) -> str:
        """The ``Message-ID`` domain: the sender address's."""
        address = parseaddr(self.mail_from)[1]
        return address.rsplit("@", 1)[-1] if "@" in address else "notifier.invalid"


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()
