"""What every benchmark gets: the running stack, the profile, the report and a few helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import Profile
from bench.report import Report
from bench.stack import BenchStack


@dataclass
class BenchContext:
    stack: BenchStack
    profile: Profile
    report: Report
    artifacts: Path
    profile_services: bool = False  # py-spy the service during its measured run
    tokens: dict[str, str] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)

    def cpu_snapshot(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for child in self.stack.children:
            try:
                out[child.name] = child.cpu_s()
            except Exception:  # a process that just exited
                continue
        return out

    def wait_quiet(self, *, max_s: float = 60.0, threshold_cpu_s: float = 0.15) -> float:
        """Wait until the platform's processes are idle again (outbox drained, worker done)."""
        started = time.monotonic()
        before = self.cpu_snapshot()
        while time.monotonic() - started < max_s:
            time.sleep(1.0)
            now = self.cpu_snapshot()
            busy = sum(max(0.0, now.get(k, 0.0) - v) for k, v in before.items())
            if busy < threshold_cpu_s:
                break
            before = now
        return time.monotonic() - started


def cpu_delta(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """CPU use of each process during a run, in cores (1.0 = one core busy the whole time)."""
    return {k: round((after.get(k, v) - v) / seconds, 2) for k, v in before.items() if seconds > 0}
