"""`make run` keeps running: a child that dies is restarted with backoff, one that keeps dying stops it.

Real child processes (a Python that exits at once, one that sleeps); the clock is injected so that
the backoff policy is checked without waiting for it.
"""

from __future__ import annotations

import subprocess
import sys

from gunma.platform import RESTART_LIMIT, Child, Supervisor, restart_delay

DIES = [sys.executable, "-c", "import sys; sys.exit(3)"]
LIVES = [sys.executable, "-c", "import time; time.sleep(60)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _spawn(child: Child) -> subprocess.Popen[bytes]:
    return subprocess.Popen(child.argv)


def _wait_exit(child: Child) -> None:
    assert child.process is not None
    child.process.wait(timeout=10)


def test_backoff_doubles_and_is_capped() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_crashed_child_is_restarted_after_its_delay_and_the_others_keep_running() -> None:
    clock, lines = Clock(), []
    worker, api = Child("notifier-worker", DIES), Child("kpi_api", LIVES)
    supervisor = Supervisor([worker, api], _spawn, clock=clock, log=lines.append)
    supervisor.start_all()
    try:
        first_pid = worker.process.pid if worker.process else None
        _wait_exit(worker)
        assert supervisor.poll() is None
        assert worker.restart_at == clock.now + 1
        assert any("notifier-worker exited with 3; restarting in 1 s" in line for line in lines)
        clock.now += 0.5
        assert supervisor.poll() is None
        assert worker.process is not None and worker.process.pid == first_pid  # not yet
        clock.now += 0.6
        assert supervisor.poll() is None
        assert worker.process is not None and worker.process.pid != first_pid  # restarted
        assert api.process is not None and api.process.poll() is None  # never touched
    finally:
        for child in (worker, api):
            if child.process and child.process.poll() is None:
                child.process.kill()
                child.process.wait()


def test_a_child_that_keeps_failing_stops_the_platform() -> None:
    clock, lines = Clock(), []
    worker = Child("notifier-worker", DIES)
    supervisor = Supervisor([worker], _spawn, clock=clock, log=lines.append)
    supervisor.start_all()
    gave_up = None
    for _ in range(RESTART_LIMIT):
        _wait_exit(worker)
        gave_up = supervisor.poll()
        if gave_up:
            break
        assert worker.restart_at is not None
        clock.now = worker.restart_at
        assert supervisor.poll() is None  # restarts it
    assert gave_up == "notifier-worker"
    assert "giving up" in lines[-1]


def test_crashes_outside_the_window_are_forgotten() -> None:
    clock, lines = Clock(), []
    worker = Child("scheduler", DIES)
    supervisor = Supervisor([worker], _spawn, clock=clock, log=lines.append)
    supervisor.start_all()
    for _ in range(RESTART_LIMIT * 2):
        _wait_exit(worker)
        assert supervisor.poll() is None  # one crash every 10 minutes is restarted forever
        assert worker.crashes == [clock.now]
        assert worker.restart_at == clock.now + 1
        clock.now += 600
        assert supervisor.poll() is None
