"""arq jobs of the service: each listed domain's ``tasks.py`` exposes ``FUNCTIONS`` and/or ``CRON_JOBS``.

Wired by hand, here and only here (``tests/test_structure.py`` fails when a domain's ``tasks.py``
is missing from this list).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from arq.cron import CronJob

from services.notifier.dispatch import tasks as dispatch_tasks
from services.notifier.retention import tasks as retention_tasks

TASK_MODULES: tuple[ModuleType, ...] = (dispatch_tasks, retention_tasks)
FUNCTIONS: list[Any] = [f for m in TASK_MODULES for f in getattr(m, "FUNCTIONS", [])]
CRON_JOBS: list[CronJob] = [c for m in TASK_MODULES for c in getattr(m, "CRON_JOBS", [])]
