"""arq jobs of the service: each domain folder's `tasks.py` may expose `FUNCTIONS` and `CRON_JOBS`."""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob

from shared.discovery import discover

_TASKS = discover("services.netsugen_booking", "tasks")
FUNCTIONS: list[Any] = [f for m in _TASKS for f in getattr(m, "FUNCTIONS", [])]
CRON_JOBS: list[CronJob] = [c for m in _TASKS for c in getattr(m, "CRON_JOBS", [])]
