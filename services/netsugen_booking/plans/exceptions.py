from __future__ import annotations

from shared.errors import Conflict, NotFound, Unprocessable


class PlanNotFound(NotFound):
    slug, title = "plan-not-found", "Unknown plan"


class PriceInPast(Unprocessable):
    slug, title = "price-in-past", "A price change must start in the future"


class PriceExists(Conflict):
    slug, title = "price-exists", "A price already starts on that date"


class PriceIncomplete(Unprocessable):
    slug, title = "price-incomplete", "The price does not fit the plan"
