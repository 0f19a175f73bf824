from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import CommonSettings


class KpiSettings(CommonSettings):
    kpi_api_port: int = Field(default=8001, ge=1, le=65535)


@lru_cache
def get_settings() -> KpiSettings:
    return KpiSettings()
