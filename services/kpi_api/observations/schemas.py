"""API shapes of observations, their revisions and CSV imports."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.kpi_api.core.numbers import Num, Value
from services.kpi_api.indicators.schemas import FiscalYear
from services.kpi_api.progress.rules import Status
from shared.jst import JstDatetime


class ObservationIn(BaseModel):
    """One fiscal year's value. A second, different value for the same year and breakdown is refused
    (409) unless ``correction`` is true; then it becomes a new revision and the history is kept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"fiscal_year": 2022, "value": 4420000, "source": "毎月勤労統計調査", "note": "速報値"},
                {
                    "fiscal_year": 2022,
                    "value": 4431000,
                    "source": "毎月勤労統計調査",
                    "note": "確報値",
                    "correction": True,
                },
                {"fiscal_year": 2022, "breakdown": "male", "value": 72.5},
            ]
        },
    )

    fiscal_year: FiscalYear
    value: Value
    breakdown: str | None = Field(
        default=None,
        max_length=50,
        description="Breakdown key (male/female, grade6/grade9 …): required exactly when the indicator has breakdowns.",
    )
    source: str | None = Field(default=None, max_length=500, description="Where the value comes from.")
    note: str | None = Field(default=None, max_length=2000)
    correction: bool = Field(
        default=False,
        description="Send true to replace an existing value for this fiscal year and breakdown with a new revision.",
    )


class RevisionOut(BaseModel):
    revision: int
    value: Num
    source: str | None
    note: str | None
    correction: bool
    recorded_by: str = Field(description="Name of the token that recorded it.")
    recorded_by_role: str
    recorded_at: JstDatetime


class ObservationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8c7e4a4e-3f1b-4f6e-9f5e-2b8f0f7f3a11",
                    "indicator_id": "per-capita-wage",
                    "breakdown": None,
                    "fiscal_year": 2022,
                    "value": 4431000,
                    "revision": 2,
                    "created_at": "2026-11-29T12:00:00+09:00",
                    "updated_at": "2026-11-29T13:00:00+09:00",
                    "revisions": [
                        {
                            "revision": 1,
                            "value": 4420000,
                            "source": "毎月勤労統計調査",
                            "note": "速報値",
                            "correction": False,
                            "recorded_by": "statistics-import",
                            "recorded_by_role": "service",
                            "recorded_at": "2026-11-29T12:00:00+09:00",
                        },
                        {
                            "revision": 2,
                            "value": 4431000,
                            "source": "毎月勤労統計調査",
                            "note": "確報値",
                            "correction": True,
                            "recorded_by": "kpi-admin",
                            "recorded_by_role": "admin",
                            "recorded_at": "2026-11-29T13:00:00+09:00",
                        },
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    indicator_id: str
    breakdown: str | None
    fiscal_year: int
    value: Num = Field(description="The current value (latest revision).")
    revision: int
    created_at: JstDatetime
    updated_at: JstDatetime
    revisions: list[RevisionOut] = Field(description="Every revision, oldest first.")


class ObservationPage(BaseModel):
    items: list[ObservationOut]
    next_cursor: str | None


Outcome = Literal["created", "corrected", "unchanged"]


class ObservationRecorded(BaseModel):
    outcome: Outcome = Field(
        description="created: first value for the year; corrected: a new revision; "
        "unchanged: the same value, source and note were already recorded (nothing written)."
    )
    observation: ObservationOut
    status: Status = Field(description="The indicator's status after this observation.")
    previous_status: Status
    status_changed: bool


class StatusChangeOut(BaseModel):
    indicator_id: str
    previous_status: Status
    status: Status


class ImportResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": 3,
                    "created": 2,
                    "corrected": 1,
                    "unchanged": 0,
                    "status_changes": [
                        {"indicator_id": "ghg-emissions", "previous_status": "no_data", "status": "on_track"}
                    ],
                }
            ]
        }
    )

    rows: int
    created: int
    corrected: int
    unchanged: int = Field(description="Rows identical to what is recorded: nothing written (re-imports).")
    status_changes: list[StatusChangeOut]


class CsvErrorOut(BaseModel):
    line: int | None = Field(
        description="Line of the file (the header is line 1); null for file-level errors."
    )
    column: str | None
    code: str = Field(examples=["not_numeric"])
    message: str
