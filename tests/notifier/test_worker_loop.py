"""The supervised worker's queue loop (``NotifierWorker``): it starts the next job as soon as a slot
frees instead of sleeping out arq's poll delay, and still runs every job exactly once."""

from __future__ import annotations

import time
from typing import Any

from arq import Worker

from services.notifier.worker import NotifierWorker, worker_options
from shared.events import MemberRegistered
from tests.notifier.conftest import attempts_of, ledger

POLL_DELAY_S = 1.5
EVENTS = 8


async def drain_with(worker_cls: type[Worker], settings: Any) -> float:
    options = worker_options(settings)
    options.update(cron_jobs=[], burst=True, handle_signals=False, poll_delay=POLL_DELAY_S, max_jobs=2)
    worker = worker_cls(**options)
    started = time.monotonic()
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return time.monotonic() - started


async def emit_batch(world: Any, emit_event: Any, relay: Any) -> list[Any]:
    members = [world.add_member() for _ in range(EVENTS)]
    for member_id in members:
        await emit_event(MemberRegistered(member_id=member_id))
    assert await relay.relay_once() == EVENTS
    return members


async def test_slots_are_refilled_without_waiting_for_the_next_poll(
    emit_event, relay, make_settings, arq_pool, smtp, world, engine
) -> None:
    members = await emit_batch(world, emit_event, relay)
    elapsed = await drain_with(NotifierWorker, make_settings())
    # Eight jobs through two slots: arq's loop needs four polls (three poll delays, see below).
    assert elapsed < 2.5 * POLL_DELAY_S
    assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == sorted(world.email_of(m) for m in members)
    deliveries = await ledger(engine)
    assert [d.status for d in deliveries] == ["delivered"] * EVENTS
    for d in deliveries:  # every job ran once: one attempt each
        assert [a.number for a in await attempts_of(engine, d.id)] == [1]


async def test_arq_loop_waits_for_the_poll_delay(
    emit_event, relay, make_settings, arq_pool, smtp, world, engine
) -> None:
    """The behaviour NotifierWorker changes, so the test above measures something."""
    await emit_batch(world, emit_event, relay)
    elapsed = await drain_with(Worker, make_settings())
    assert elapsed >= 3 * POLL_DELAY_S
    assert len(smtp.messages) == EVENTS
