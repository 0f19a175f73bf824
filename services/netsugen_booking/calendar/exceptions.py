from __future__ import annotations

from shared.errors import Conflict, NotFound, Unprocessable


class ClosureNotFound(NotFound):
    slug, title = "closure-not-found", "Unknown closure"


class SpecialHoursNotFound(NotFound):
    slug, title = "special-hours-not-found", "Unknown special hours"


class SpecialHoursOverlap(Conflict):
    slug, title = "special-hours-overlap", "Special hours already cover one of these days"


class InvalidDateRange(Unprocessable):
    slug, title = "invalid-date-range", "Invalid date range"
