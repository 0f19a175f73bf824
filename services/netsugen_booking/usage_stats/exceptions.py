from __future__ import annotations

from shared.errors import Unprocessable


class InvalidPeriod(Unprocessable):
    slug, title = "invalid-period", "Invalid statistics period"
