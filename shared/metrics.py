"""Prometheus metrics. Defined once per process; every metric carries the service name."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route and status", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PENDING = Gauge("outbox_pending_events", "Outbox rows not yet relayed to the queue", ["service"])
#: The lag an operator alerts on: how long the oldest unrelayed event has waited (0 when none waits).
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds", "Age of the oldest outbox row not yet relayed", ["service"]
)
OUTBOX_RELAYED = Counter("outbox_relayed_events_total", "Outbox rows relayed to the queue", ["service"])
OUTBOX_RELAY_ERRORS = Counter("outbox_relay_errors_total", "Failed relay passes (queue down …)", ["service"])
AUTH_FAILURES = Counter("auth_failures_total", "Rejected credentials", ["service"])


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
