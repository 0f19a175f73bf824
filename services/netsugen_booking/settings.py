from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import CommonSettings


class NetsugenSettings(CommonSettings):
    netsugen_port: int = Field(default=8002, ge=1, le=65535)


@lru_cache
def get_settings() -> NetsugenSettings:
    return NetsugenSettings()
