"""Helpers shared by NETSUGEN's domains: the injectable clock, cursors, idempotency keys, DB errors."""
