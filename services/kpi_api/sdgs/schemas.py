"""API shapes of SDG goals and targets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SdgTargetOut(BaseModel):
    code: str = Field(examples=["8.1"])
    indicator_ids: list[str] = Field(description="Indicators of the plan linked to this target.")


class SdgGoalOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": 8,
                    "name": "働きがいも経済成長も",
                    "name_ja": "働きがいも経済成長も",
                    "name_en": "Decent work and economic growth",
                    "indicator_count": 7,
                    "targets": [
                        {"code": "8.1", "indicator_ids": ["gross-prefectural-product", "per-capita-wage"]}
                    ],
                }
            ]
        }
    )

    number: int
    name: str = Field(description="Name in the requested language.")
    name_ja: str
    name_en: str
    indicator_count: int = Field(description="Distinct indicators linked to any target of the goal.")
    targets: list[SdgTargetOut] = Field(
        description="All targets of the goal in UN order (numbered, then lettered)."
    )


class SdgGoalPage(BaseModel):
    items: list[SdgGoalOut]
    next_cursor: str | None = Field(description="Always null: the 17 goals fit in one page.")
