"""NETSUGEN test helpers: a settable clock for the API and small factories.

``clock.set(jst(2026, 9, 22, 14))`` makes the app's ``get_now`` return that instant until the test
ends (see ``services/netsugen_booking/frontdesk_common/clock.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI

from services.netsugen_booking.frontdesk_common.clock import get_now
from shared.jst import JST


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JST)


class Clock:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.now: datetime = jst(2026, 10, 5, 14)  # a Monday afternoon

    def set(self, when: datetime) -> datetime:
        assert when.tzinfo is not None
        self.now = when
        self.app.dependency_overrides[get_now] = lambda: self.now
        return when

    def advance(self, **delta: float) -> datetime:
        return self.set(self.now + timedelta(**delta))


@pytest.fixture
def clock(netsugen_app: FastAPI) -> Iterator[Clock]:
    c = Clock(netsugen_app)
    c.set(c.now)
    yield c
    netsugen_app.dependency_overrides.pop(get_now, None)


@pytest.fixture
def capacity(netsugen_app: FastAPI) -> Iterator[object]:
    """``capacity.set(n)`` changes ``netsugen_capacity`` for this test only."""
    settings = netsugen_app.state.settings
    original = settings.netsugen_capacity

    class _Capacity:
        def set(self, n: int) -> None:
            settings.netsugen_capacity = n

    yield _Capacity()
    settings.netsugen_capacity = original
