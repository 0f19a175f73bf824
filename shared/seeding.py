"""The seed contract of the services: each service's ``seeder.py`` exposes
``async def run_seed(session, progress: Progress) -> dict[str, int]``, idempotent.

Running the seeds (which services, in which order) is the platform's job: ``gunma/seeding.py``.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(label, done, total)``: what a seed reports while it works (the CLI draws a bar).
Progress = Callable[[str, int, int], None]


def no_progress(label: str, done: int, total: int) -> None:
    return None
