"""arq jobs of the service: each listed domain's ``tasks.py`` exposes ``FUNCTIONS`` and/or ``CRON_JOBS``.

Wired by hand, here and only here (``tests/test_structure.py`` fails when a domain's ``tasks.py``
is missing from this list).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from arq.cron import CronJob

from services.netsugen_booking.accounts import tasks as accounts_tasks
from services.netsugen_booking.audit import tasks as audit_tasks
from services.netsugen_booking.billing import tasks as billing_tasks
from services.netsugen_booking.bookings import tasks as bookings_tasks
from services.netsugen_booking.consultations import tasks as consultations_tasks
from services.netsugen_booking.frontdesk_common import tasks as frontdesk_common_tasks
from services.netsugen_booking.kpi_reporting import tasks as kpi_reporting_tasks
from services.netsugen_booking.programs import tasks as programs_tasks
from services.netsugen_booking.visits import tasks as visits_tasks

TASK_MODULES: tuple[ModuleType, ...] = (
    accounts_tasks,
    audit_tasks,
    billing_tasks,
    bookings_tasks,
    consultations_tasks,
    frontdesk_common_tasks,
    kpi_reporting_tasks,
    programs_tasks,
    visits_tasks,
)
FUNCTIONS: list[Any] = [f for m in TASK_MODULES for f in getattr(m, "FUNCTIONS", [])]
CRON_JOBS: list[CronJob] = [c for m in TASK_MODULES for c in getattr(m, "CRON_JOBS", [])]
