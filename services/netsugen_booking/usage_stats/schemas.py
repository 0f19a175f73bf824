"""API shapes of the usage statistics (GET /v1/usage-stats)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.netsugen_booking.usage_stats.rules import PeriodKind, RevenueKind


class PeriodOut(BaseModel):
    kind: PeriodKind
    key: str = Field(description="`2026-11` or `FY2026`.", examples=["2026-11"])
    start: date
    end: date = Field(description="Inclusive.")
    fiscal_year: int


class CountByPlan(BaseModel):
    plan_code: str
    name: str
    count: int


class VisitsByMonth(BaseModel):
    month: str = Field(examples=["2026-11"])
    visits: int
    unique_visitors: int


class VisitsOut(BaseModel):
    visits: int = Field(description="Visits checked in during the period (JST).")
    unique_visitors: int = Field(
        description="Distinct people: an individual member, or one named user of a corporate member."
    )
    unique_members: int = Field(description="Distinct members (a company counts once).")
    visitor_hours: float = Field(
        description="Hours spent in the space by those visits (open visits up to now)."
    )
    by_plan: list[CountByPlan] = Field(description="Visits by the plan the desk recorded on the visit.")
    by_month: list[VisitsByMonth]


class MembersMonthOut(BaseModel):
    month: str
    as_of: date = Field(description="The month's last day, or today for the current month.")
    by_plan: list[CountByPlan] = Field(description="Members whose plan assignment covers `as_of`.")
    total: int
    new_members: int = Field(description="Members registered in the month.")
    leaving_members: int = Field(description="Members who left in the month.")


class MembersOut(BaseModel):
    new_members: int
    leaving_members: int
    by_month: list[MembersMonthOut]


class OccupancyOut(BaseModel):
    weekdays: list[int] = Field(description="ISO weekdays of the rows: 1 = Monday … 7 = Sunday.")
    hours: list[int] = Field(description="Hours of the columns, 0–23 (JST).")
    person_minutes: list[list[int]] = Field(
        description="Minutes spent in the space by everyone, per weekday (row) and hour of day (column)."
    )
    average_present: list[list[float]] = Field(
        description="Average number of people present: person-minutes / (60 × that weekday's days in the period)."
    )
    days_per_weekday: list[int] = Field(description="How many of each weekday the period has (the divisor).")


class RoomOut(BaseModel):
    resource_id: str
    slug: str
    name: str
    kind: str
    bookings: int = Field(description="Confirmed member bookings starting in the period.")
    booked_hours: float = Field(description="Hours held by confirmed bookings (members and events).")
    event_hours: float = Field(description="Of which held for events.")
    open_hours: float = Field(description="Opening hours of the period (calendar, holidays, closures).")
    utilisation: float | None = Field(description="booked_hours / open_hours (0–1); null when never open.")


class EventCategoryOut(BaseModel):
    category: str
    name: str
    held: int
    attendance: int


class EventsOut(BaseModel):
    held: int = Field(description="Events that started in the period and have ended.")
    attendance: int = Field(
        description="Attendance: the count reported when the event closed, else the checked-in registrations."
    )
    registrations: int = Field(description="Confirmed registrations of those events.")
    by_category: list[EventCategoryOut]


class ConsultationsOut(BaseModel):
    held: int = Field(description="Completed consultations whose slot started in the period.")
    no_show: int
    cancelled: int
    booked: int = Field(description="Still confirmed (not yet recorded).")


class RevenueByKind(BaseModel):
    kind: RevenueKind
    name: str
    invoiced_yen: int
    credited_yen: int = Field(description="Credit notes, as a negative amount.")
    net_yen: int


class RevenueByPlan(BaseModel):
    plan_code: str | None
    name: str
    invoiced_yen: int
    credited_yen: int
    net_yen: int


class RevenueByMonth(BaseModel):
    month: str
    invoiced_yen: int
    credited_yen: int
    net_yen: int


class RevenueOut(BaseModel):
    invoiced_yen: int = Field(description="Lines of issued invoices whose billing month is in the period.")
    credited_yen: int = Field(description="Lines of credit notes for those months (negative).")
    net_yen: int
    invoices: int
    credit_notes: int
    by_kind: list[RevenueByKind]
    by_plan: list[RevenueByPlan]
    by_month: list[RevenueByMonth]


class UsageStatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": {
                        "kind": "month",
                        "key": "2026-11",
                        "start": "2026-11-01",
                        "end": "2026-11-30",
                        "fiscal_year": 2026,
                    },
                    "generated_at": "2026-12-03T10:00:00+09:00",
                    "visits": {
                        "visits": 412,
                        "unique_visitors": 96,
                        "unique_members": 88,
                        "visitor_hours": 1530.5,
                        "by_plan": [{"plan_code": "dropin", "name": "ドロップイン", "count": 170}],
                        "by_month": [{"month": "2026-11", "visits": 412, "unique_visitors": 96}],
                    },
                    "members": {
                        "new_members": 7,
                        "leaving_members": 2,
                        "by_month": [
                            {
                                "month": "2026-11",
                                "as_of": "2026-11-30",
                                "by_plan": [
                                    {"plan_code": "individual_monthly", "name": "個人月額", "count": 61}
                                ],
                                "total": 256,
                                "new_members": 7,
                                "leaving_members": 2,
                            }
                        ],
                    },
                    "occupancy": {
                        "weekdays": [1, 2, 3, 4, 5, 6, 7],
                        "hours": list(range(24)),
                        "person_minutes": [[0] * 24] * 7,
                        "average_present": [[0.0] * 24] * 7,
                        "days_per_weekday": [5, 4, 4, 4, 4, 4, 5],
                    },
                    "rooms": [
                        {
                            "resource_id": "0b3f6a52-3c1e-5d0e-9a51-6f1f2f6c8a11",
                            "slug": "meeting-room-a",
                            "name": "会議室A",
                            "kind": "meeting_room",
                            "bookings": 31,
                            "booked_hours": 52.5,
                            "event_hours": 0.0,
                            "open_hours": 268.0,
                            "utilisation": 0.1959,
                        }
                    ],
                    "events": {
                        "held": 6,
                        "attendance": 214,
                        "registrations": 240,
                        "by_category": [
                            {"category": "seminar", "name": "セミナー", "held": 3, "attendance": 120}
                        ],
                    },
                    "consultations": {"held": 18, "no_show": 1, "cancelled": 2, "booked": 0},
                    "revenue": {
                        "invoiced_yen": 1876500,
                        "credited_yen": -1750,
                        "net_yen": 1874750,
                        "invoices": 140,
                        "credit_notes": 1,
                        "by_kind": [
                            {
                                "kind": "dropin",
                                "name": "ドロップイン",
                                "invoiced_yen": 86500,
                                "credited_yen": -1750,
                                "net_yen": 84750,
                            }
                        ],
                        "by_plan": [],
                        "by_month": [
                            {
                                "month": "2026-11",
                                "invoiced_yen": 1876500,
                                "credited_yen": -1750,
                                "net_yen": 1874750,
                            }
                        ],
                    },
                }
            ]
        }
    )

    period: PeriodOut
    generated_at: datetime = Field(description="When the figures were read (JST).")
    visits: VisitsOut
    members: MembersOut
    occupancy: OccupancyOut
    rooms: list[RoomOut]
    events: EventsOut
    consultations: ConsultationsOut
    revenue: RevenueOut
