"""Webhook endpoints registered by administrators, and Standard Webhooks signing."""
