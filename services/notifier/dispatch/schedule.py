"""When to try a delivery: retry backoff and quiet hours. Pure functions of their inputs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from shared.jst import JST


def retry_delay_s(
    failed_attempt: int,
    schedule_s: Sequence[float],
    *,
    jitter: float,
    rng: random.Random | None = None,
) -> float:
    """Wait after the ``failed_attempt``-th failure (1-based) of a retry cycle.

    The schedule's n-th entry, multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` so
    that deliveries failing together (a receiver's outage) do not all come back at once. Past the
    end of the schedule its last entry repeats.
    """
    if failed_attempt < 1:
        raise ValueError("failed_attempt is 1-based")
    base = schedule_s[min(failed_attempt, len(schedule_s)) - 1]
    factor = 1.0 + (rng or random).uniform(-jitter, jitter)
    return max(0.0, base * factor)


def in_quiet_hours(moment: datetime, start: time, end: time) -> bool:
    """Whether ``moment`` (aware) falls in the JST window [start, end); the window may cross midnight."""
    if start == end:
        return False
    local = moment.astimezone(JST).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(moment: datetime, start: time, end: time) -> datetime:
    """The first instant at or after ``moment`` outside the quiet window (``moment`` itself if outside)."""
    if not in_quiet_hours(moment, start, end):
        return moment
    local = moment.astimezone(JST)
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def not_before(
    moment: datetime, *, urgent: bool, channel: str, quiet: bool, start: time, end: time
) -> datetime:
    """When a delivery planned for ``moment`` may go out: non-urgent email waits for quiet hours to end.

    Webhooks go to machines and are never held back.
    """
    if urgent or channel != "email" or not quiet:
        return moment
    return quiet_hours_end(moment, start, end)
