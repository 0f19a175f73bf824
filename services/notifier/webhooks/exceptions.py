"""Problems of the webhook endpoint API."""

from __future__ import annotations

from shared.errors import NotFound, Unprocessable


class EndpointNotFound(NotFound):
    slug, title = "webhook-endpoint-not-found", "Webhook endpoint not found"


class UnknownEventType(Unprocessable):
    slug, title = "unknown-event-type", "Unknown event type"


class UnusableWebhookUrl(Unprocessable):
    slug, title = "unusable-webhook-url", "The webhook URL cannot be used"


class WebhookDestinationRefused(Unprocessable):
    slug, title = "webhook-destination-refused", "Webhook destination not allowed"
