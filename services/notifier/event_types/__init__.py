"""The event types the notifier knows, and the per-type pause switch."""
