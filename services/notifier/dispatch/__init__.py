"""The delivery engine run by the arq worker: planning, sending, retries and reconciliation."""
