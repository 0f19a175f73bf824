"""Problems of the preferences API."""

from __future__ import annotations

from shared.errors import Unprocessable


class TransactionalRequired(Unprocessable):
    slug, title = "transactional-required", "Transactional mail cannot be turned off"
