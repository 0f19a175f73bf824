from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.netsugen_booking.calendar.models import CalendarClosure, CalendarSpecialHours
from services.netsugen_booking.calendar.rules import DayHours
from shared.jst import to_jst


def hhmm(t: time | None) -> str | None:
    return None if t is None else t.strftime("%H:%M")


class DayOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-09-22",
                    "open": True,
                    "opens_at": "10:00",
                    "closes_at": "18:00",
                    "reason": "国民の休日",
                    "kind": "holiday",
                },
                {
                    "date": "2026-12-30",
                    "open": False,
                    "opens_at": None,
                    "closes_at": None,
                    "reason": "年末年始休館",
                    "kind": "closure",
                },
            ]
        }
    )

    date: date
    open: bool
    opens_at: str | None = Field(description="Opening time, HH:MM JST; null when closed.")
    closes_at: str | None = Field(description="Closing time, HH:MM JST; null when closed.")
    reason: str | None = Field(
        description="Holiday name, closure or special-hours reason (request language)."
    )
    kind: Literal["weekday", "weekend", "holiday", "closure", "special"]

    @classmethod
    def of(cls, d: DayHours) -> DayOut:
        return cls(
            date=d.date,
            open=d.open,
            opens_at=hhmm(d.opens_at),
            closes_at=hhmm(d.closes_at),
            reason=d.reason,
            kind=d.kind,
        )


class CalendarOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    days: list[DayOut]


def _naive(t: time) -> time:
    if t.tzinfo is not None:
        raise ValueError("give a JST wall-clock time such as 10:00, without an offset")
    return t


class ClosureCreate(BaseModel):
    """Close the space on every day from ``start_date`` to ``end_date`` (inclusive)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "start_date": "2026-12-29",
                    "end_date": "2027-01-03",
                    "reason_ja": "年末年始休館",
                    "reason_en": "Year-end holidays",
                }
            ]
        },
    )

    start_date: date
    end_date: date | None = Field(default=None, description="Inclusive; defaults to start_date.")
    reason_ja: str = Field(min_length=1, max_length=200)
    reason_en: str | None = Field(default=None, min_length=1, max_length=200)


class ClosureUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"end_date": "2027-01-04"}]})

    start_date: date | None = None
    end_date: date | None = None
    reason_ja: str | None = Field(default=None, min_length=1, max_length=200)
    reason_en: str | None = Field(default=None, min_length=1, max_length=200)


class ClosureOut(BaseModel):
    id: uuid.UUID
    start_date: date
    end_date: date
    reason_ja: str
    reason_en: str
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: CalendarClosure) -> ClosureOut:
        return cls(
            id=r.id,
            start_date=r.start_date,
            end_date=r.end_date,
            reason_ja=r.reason_ja,
            reason_en=r.reason_en,
            created_by=r.created_by,
            created_at=to_jst(r.created_at),
        )


class ClosureList(BaseModel):
    items: list[ClosureOut]


class SpecialHoursCreate(BaseModel):
    """Open with non-regular hours (JST) on every day from ``start_date`` to ``end_date``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "start_date": "2026-12-28",
                    "end_date": "2026-12-28",
                    "opens_at": "10:00",
                    "closes_at": "15:00",
                    "reason_ja": "仕事納め",
                    "reason_en": "Last working day",
                }
            ]
        },
    )

    start_date: date
    end_date: date | None = Field(default=None, description="Inclusive; defaults to start_date.")
    opens_at: time = Field(description="HH:MM JST")
    closes_at: time = Field(description="HH:MM JST")
    reason_ja: str = Field(min_length=1, max_length=200)
    reason_en: str | None = Field(default=None, min_length=1, max_length=200)

    _naive_times = field_validator("opens_at", "closes_at")(_naive)


class SpecialHoursUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"closes_at": "16:00"}]})

    start_date: date | None = None
    end_date: date | None = None
    opens_at: time | None = None
    closes_at: time | None = None
    reason_ja: str | None = Field(default=None, min_length=1, max_length=200)
    reason_en: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _times_naive(self) -> SpecialHoursUpdate:
        for t in (self.opens_at, self.closes_at):
            if t is not None:
                _naive(t)
        return self


class SpecialHoursOut(BaseModel):
    id: uuid.UUID
    start_date: date
    end_date: date
    opens_at: str
    closes_at: str
    reason_ja: str
    reason_en: str
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: CalendarSpecialHours) -> SpecialHoursOut:
        return cls(
            id=r.id,
            start_date=r.start_date,
            end_date=r.end_date,
            opens_at=r.opens_at.strftime("%H:%M"),
            closes_at=r.closes_at.strftime("%H:%M"),
            reason_ja=r.reason_ja,
            reason_en=r.reason_en,
            created_by=r.created_by,
            created_at=to_jst(r.created_at),
        )


class SpecialHoursList(BaseModel):
    items: list[SpecialHoursOut]
