"""Retry backoff and quiet hours: pure functions, checked exhaustively where it is cheap."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.dispatch.schedule import in_quiet_hours, not_before, quiet_hours_end, retry_delay_s
from services.notifier.settings import DEFAULT_RETRY_SCHEDULE_S, NotifierSettings
from shared.jst import JST

START, END = time(21, 0), time(8, 0)


def jst(h: int, m: int = 0, day: int = 29) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=JST)


class TestRetrySchedule:
    def test_documented_default(self) -> None:
        assert DEFAULT_RETRY_SCHEDULE_S == (60, 300, 1800, 7200, 21600, 43200, 86400)
        settings = NotifierSettings(database_url="postgresql+asyncpg://x/y", redis_url="redis://x")
        assert settings.retry_schedule_s == list(DEFAULT_RETRY_SCHEDULE_S)
        assert settings.max_attempts == 8 == len(DEFAULT_RETRY_SCHEDULE_S) + 1
        assert settings.retry_jitter == 0.2

    @pytest.mark.parametrize(("failed", "base"), [(1, 60), (2, 300), (3, 1800), (7, 86400), (12, 86400)])
    def test_waits_follow_the_schedule_within_the_jitter(self, failed: int, base: float) -> None:
        rng = random.Random(7)
        waits = [retry_delay_s(failed, DEFAULT_RETRY_SCHEDULE_S, jitter=0.2, rng=rng) for _ in range(500)]
        assert min(waits) >= base * 0.8 and max(waits) <= base * 1.2
        assert max(waits) - min(waits) > base * 0.3  # really spread, not a constant

    def test_no_jitter_is_exact(self) -> None:
        assert retry_delay_s(2, [10, 20], jitter=0) == 20

    def test_attempts_are_one_based(self) -> None:
        with pytest.raises(ValueError, match="1-based"):
            retry_delay_s(0, [1], jitter=0)

    def test_settings_refuse_a_bad_schedule(self) -> None:
        with pytest.raises(ValueError, match="retry_schedule_s"):
            NotifierSettings(retry_schedule_s=[])
        with pytest.raises(ValueError, match="reconcile_interval_s"):
            NotifierSettings(reconcile_interval_s=7)


class TestQuietHours:
    @pytest.mark.parametrize(
        ("moment", "quiet"),
        [
            (jst(20, 59), False),
            (jst(21, 0), True),
            (jst(23, 59), True),
            (jst(0, 0), True),
            (jst(7, 59), True),
            (jst(8, 0), False),
            (jst(12, 0), False),
        ],
    )
    def test_window_21_to_8_jst(self, moment: datetime, quiet: bool) -> None:
        assert in_quiet_hours(moment, START, END) is quiet

    def test_evening_waits_until_next_morning(self) -> None:
        assert quiet_hours_end(jst(22, 15), START, END) == jst(8, 0, day=30)

    def test_early_morning_waits_until_eight_the_same_day(self) -> None:
        assert quiet_hours_end(jst(6, 30), START, END) == jst(8, 0)

    def test_utc_input_is_read_in_jst(self) -> None:
        # 12:30 UTC = 21:30 JST.
        moment = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
        assert in_quiet_hours(moment, START, END)
        assert quiet_hours_end(moment, START, END) == jst(8, 0, day=30)

    def test_daytime_is_unchanged(self) -> None:
        assert quiet_hours_end(jst(10, 0), START, END) == jst(10, 0)

    def test_only_non_urgent_email_waits(self) -> None:
        night = jst(23, 0)
        assert not_before(night, urgent=False, channel="email", quiet=True, start=START, end=END) == jst(
            8, 0, day=30
        )
        assert not_before(night, urgent=True, channel="email", quiet=True, start=START, end=END) == night
        assert not_before(night, urgent=False, channel="webhook", quiet=True, start=START, end=END) == night
        assert not_before(night, urgent=False, channel="email", quiet=False, start=START, end=END) == night

    @given(
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(JST))
    )
    def test_result_is_never_quiet_and_never_earlier(self, moment: datetime) -> None:
        result = quiet_hours_end(moment, START, END)
        assert result >= moment
        assert not in_quiet_hours(result, START, END)
        assert result - moment <= timedelta(hours=11)
