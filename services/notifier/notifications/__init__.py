"""Submitting events over HTTP (instead of a service's outbox and the queue)."""
