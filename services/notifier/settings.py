from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import CommonSettings


class NotifierSettings(CommonSettings):
    notifier_port: int = Field(default=8003, ge=1, le=65535)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=51025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "NETSUGEN <noreply@netsugen.example.jp>"


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()
