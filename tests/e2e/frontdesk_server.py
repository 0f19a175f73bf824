"""The real netsugen_booking app for the browser test, with a clock the test can move.

Started as ``uvicorn --factory tests.e2e.frontdesk_server:create_app``. The service reads "now"
through the ``get_now`` dependency (services/netsugen_booking/frontdesk_common/clock.py), which
in-process tests override directly; a separate process cannot be reached that way, so this factory
overrides it with the real clock shifted by an offset read from the file named in
``NETSUGEN_TEST_CLOCK_FILE`` (seconds, a float; re-read on every request). The test thereby puts the
service on a weekday afternoon, and moves time forward 30 minutes to check a visitor out, without
waiting. Everything else is the unchanged service.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from services.netsugen_booking.frontdesk_common.clock import get_now
from services.netsugen_booking.main import create_app as create_service_app
from shared.jst import utcnow

CLOCK_FILE_ENV = "NETSUGEN_TEST_CLOCK_FILE"


def write_offset(path: Path, target: datetime) -> float:
    """Set the service's clock so that it reads ``target`` now; returns the offset in seconds."""
    offset = (target - utcnow()).total_seconds()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(offset))
    tmp.replace(path)  # atomic: a request never reads a half-written file
    return offset


def shifted_clock(path: Path) -> datetime:
    try:
        offset = float(path.read_text())
    except (OSError, ValueError):
        offset = 0.0
    return utcnow() + timedelta(seconds=offset)


def create_app() -> FastAPI:
    app = create_service_app()
    path = Path(os.environ[CLOCK_FILE_ENV])
    app.dependency_overrides[get_now] = lambda: shifted_clock(path)
    return app
