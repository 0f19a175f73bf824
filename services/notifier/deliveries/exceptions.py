"""Problems of the delivery ledger API."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class DeliveryNotFound(NotFound):
    slug, title = "delivery-not-found", "Delivery not found"


class DeliveryNotRetryable(Conflict):
    slug, title = "delivery-not-retryable", "Delivery is not a dead letter"
