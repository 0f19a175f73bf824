"""API shapes of initiatives (取組)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.kpi_api.core.vocab import Section
from services.kpi_api.indicators.schemas import IndicatorId


class InitiativeKpi(BaseModel):
    id: str
    name: str


class InitiativeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "manufacturing-dx",
                    "name": "ものづくり産業のDX推進",
                    "name_ja": "ものづくり産業のDX推進",
                    "name_en": "DX of manufacturing industry",
                    "section": "1.2(1)",
                    "kpis": [
                        {"id": "5g-technology-support-cases", "name": "5G適用可能技術導入支援件数(累計)"}
                    ],
                }
            ]
        }
    )

    id: str
    name: str = Field(description="Name in the requested language.")
    name_ja: str
    name_en: str
    section: str
    kpis: list[InitiativeKpi] = Field(description="The indicators measuring the initiative.")


class InitiativePage(BaseModel):
    items: list[InitiativeOut]
    next_cursor: str | None


def _no_repeats(kpis: list[str] | None) -> None:
    if kpis is not None and len(set(kpis)) != len(kpis):
        raise ValueError("kpis must not repeat")


class InitiativeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "hydrogen-buses",
                    "name_ja": "水素バスの導入",
                    "name_en": "Introducing hydrogen buses",
                    "section": "1.2(1)",
                    "kpis": ["ghg-emissions"],
                }
            ]
        },
    )

    id: IndicatorId
    name_ja: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    section: Section
    kpis: list[IndicatorId] = Field(
        default_factory=list, max_length=100, description="Indicator ids (must exist)."
    )

    @model_validator(mode="after")
    def _checks(self) -> InitiativeCreate:
        _no_repeats(self.kpis)
        return self


class InitiativeUpdate(BaseModel):
    """Fields to change; `kpis`, when sent, replaces the whole list."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kpis": ["ghg-emissions", "in-migrants"]}]}
    )

    name_ja: str | None = Field(default=None, min_length=1, max_length=300)
    name_en: str | None = Field(default=None, min_length=1, max_length=300)
    section: Section | None = None
    kpis: list[IndicatorId] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _checks(self) -> InitiativeUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        _no_repeats(self.kpis)
        return self
