"""The injectable "now" of NETSUGEN's API.

Routes take ``now: Now`` instead of calling ``datetime.now()``. Tests (and a demo) set the clock
with ``app.dependency_overrides[get_now] = lambda: datetime(2026, 9, 22, 14, 0, tzinfo=JST)``, so
check-in on a weekday afternoon, a Saturday, a public holiday or after closing is testable without
waiting for one. Services take ``now`` as an argument; jobs and CLI commands pass ``utcnow()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from shared.jst import utcnow


async def get_now() -> datetime:
    """The current instant (timezone-aware, UTC). Override in tests.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, which costs a thread hand-off on every front-desk request."""
    return utcnow()


Now = Annotated[datetime, Depends(get_now)]
