"""API shapes of notification preferences."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.jst import JstDatetime


class CategorySwitches(BaseModel):
    """`true`: the member receives mail of the category."""

    transactional: bool = Field(
        description="Invoices, booking confirmations and cancellations, registrations: always `true`."
    )
    activity: bool = Field(description="Check-in, check-out and daily-cap notices.")
    reminders: bool = Field(description="Day-before reminders of bookings, events and consultations.")


class PreferencesUpdate(BaseModel):
    """The full set (PUT): a category left out is switched on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"activity": False, "reminders": True}]},
    )

    transactional: bool = Field(default=True, description="Must stay `true` (422 otherwise).")
    activity: bool = True
    reminders: bool = True


class PreferencesPatch(BaseModel):
    """A partial change (PATCH): only the categories given change; the others stay as they were."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reminders": False}]})

    transactional: bool | None = Field(default=None, description="Only `true` is accepted (422 otherwise).")
    activity: bool | None = None
    reminders: bool | None = None


class PreferencesOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
                    "categories": {"transactional": True, "activity": False, "reminders": True},
                    "opted_out": ["activity"],
                    "updated_at": "2026-11-29T10:00:00+09:00",
                }
            ]
        }
    )

    member_id: uuid.UUID
    categories: CategorySwitches
    opted_out: list[str]
    updated_at: JstDatetime | None = Field(description="Null while the member never changed anything.")
