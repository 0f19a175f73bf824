"""Automatic check-out at closing time.

The cron job runs every 15 minutes and closes each open visit whose day has closed, with
``check_out_at`` = that day's closing time and ``auto_checked_out`` = true. Running it twice closes
nothing twice (only open visits are touched, rows locked with ``SKIP LOCKED``). Every closing time
(21:00, 18:00, special hours on the quarter hour) is met within 15 minutes; the visit is closed *at*
the closing time whenever the job runs. Also available as ``gunma netsugen auto-checkout``.
"""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from services.netsugen_booking.visits.service import auto_check_out
from shared.db import session_scope
from shared.jst import utcnow


async def auto_check_out_visits(ctx: dict[str, Any]) -> dict[str, int]:
    async with session_scope(ctx["sessionmaker"]) as session:
        closed = await auto_check_out(session, now=utcnow())
    return {"closed": len(closed)}


FUNCTIONS: list[Any] = [auto_check_out_visits]
CRON_JOBS: list[CronJob] = [
    cron(auto_check_out_visits, minute={0, 15, 30, 45}, unique=True, run_at_startup=True),
]
