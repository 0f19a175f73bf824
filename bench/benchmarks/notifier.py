"""Notifier: 10,000 events from a service's outbox to delivered e-mails in the SMTP sink.

Set-up: 10,000 members (SQL), then 10,000 `member.registered` events written straight into
``netsugen.outbox`` in one transaction, exactly as ``shared.outbox.emit`` writes them. The clock
starts at that commit; the platform does the rest with its shipped settings: the netsugen API's
outbox relay → arq queue → notifier worker (inbox, recipient lookup over HTTP at netsugen_booking
with the service token, Jinja2 rendering, SMTP to the sink on :28025, ledger). It stops when the
ledger (``notifier.delivery``) has 10,000 deliveries `delivered`.

Baseline: bench/baselines/arq_noop.py — a bare arq worker with the notifier worker's default settings
running a no-op job; 10,000 jobs enqueued by the harness, timed from the first enqueue to the last
job done. Targets: deliveries/s ≥ 0.3 × baseline jobs/s, and ≥ 300 deliveries/s.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import asyncpg
import orjson

from bench import profiling
from bench.baselines import arq_noop
from bench.benchmarks.context import BenchContext, cpu_delta
from bench.config import TARGETS
from bench.data import create_members
from bench.report import Row
from shared.events import MemberRegistered, make_event

TITLE = "notifier"
TIMEOUT_S = 300.0  # a slower notifier is reported from what it delivered by then


def missing(ctx: BenchContext) -> str | None:
    for svc in ("netsugen_booking", "notifier"):
        if not ctx.stack.ready.get(svc):
            return f"{svc} is not running"
    try:
        from services.notifier.dispatch import tasks  # noqa: F401
    except Exception as exc:
        return f"notifier worker jobs not importable ({type(exc).__name__})"
    return None


async def write_events(dsn: str, member_ids: list[str], count: int) -> float:
    rows = []
    for i in range(count):
        event = make_event(MemberRegistered(member_id=member_ids[i % len(member_ids)]))  # type: ignore[arg-type]
        rows.append(
            (event.id, event.type, orjson.dumps(event.model_dump(mode="json")).decode(), f"bench-{i}")
        )
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO netsugen.outbox (id, event_type, payload, request_id) VALUES ($1, $2, $3::jsonb, $4)",
                rows,
            )
        return time.monotonic()  # the commit: the events exist from now on
    finally:
        await conn.close()


STATUSES_SQL = "SELECT status, count(*) AS n FROM notifier.delivery WHERE event_type = 'member.registered' GROUP BY status"


async def statuses(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["status"]: int(r["n"]) for r in await conn.fetch(STATUSES_SQL)}
    finally:
        await conn.close()


async def wait_delivered(dsn: str, count: int, since: float, already: int) -> tuple[float, dict[str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            found = {r["status"]: int(r["n"]) for r in await conn.fetch(STATUSES_SQL)}
            if found.get("delivered", 0) - already >= count or time.monotonic() - since > TIMEOUT_S:
                return time.monotonic(), found
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def backlog(dsn: str, redis_url: str) -> dict[str, int]:
    """Work the platform still has in hand: unsent outbox rows, queued jobs, unfinished deliveries."""
    from redis.asyncio import Redis

    from shared.outbox import NOTIFIER_QUEUE

    conn = await asyncpg.connect(dsn)
    redis = Redis.from_url(redis_url)
    try:
        out = {}
        for schema in ("kpi", "netsugen", "notifier"):
            out[f"{schema}.outbox"] = int(
                await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
            )
        out["queued_jobs"] = int(await redis.zcard(NOTIFIER_QUEUE))
        out["unfinished_deliveries"] = int(
            await conn.fetchval(
                "SELECT count(*) FROM notifier.delivery WHERE status IN ('queued', 'sending')"
            )
        )
        return out
    finally:
        await conn.close()
        await redis.aclose()


def drain(ctx: BenchContext, max_s: float = 120.0) -> dict[str, int]:
    """Let the platform finish earlier work (other benchmarks' events) before the clock starts."""
    deadline = time.monotonic() + max_s
    while True:
        left = asyncio.run(backlog(ctx.stack.dsn, ctx.stack.redis_url))
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(1.0)


async def timings(dsn: str) -> dict[str, Any]:
    """Where a delivery's time goes, from the ledger: relay lag (outbox → queue), attempt duration
    (contact lookup + rendering + SMTP), and the rate the worker accepted events at."""
    conn = await asyncpg.connect(dsn)
    try:
        relay = await conn.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) AS p50, "
            "max(extract(epoch FROM sent_at - created_at)) AS max FROM netsugen.outbox "
            "WHERE event_type = 'member.registered'"
        )
        attempt = await conn.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50, "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY a.duration_ms) AS p90 "
            "FROM notifier.delivery_attempt AS a JOIN notifier.delivery AS d ON d.id = a.delivery_id "
            "WHERE d.event_type = 'member.registered'"
        )
        queue_to_done = await conn.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - i.received_at)) "
            "AS p50 FROM notifier.delivery AS d JOIN notifier.inbox AS i ON i.id = d.inbox_id "
            "WHERE d.event_type = 'member.registered' AND d.status = 'delivered'"
        )
        return {
            "relay_lag_s": {"p50": _round(relay["p50"]), "max": _round(relay["max"])},
            "attempt_ms": {"p50": _round(attempt["p50"]), "p90": _round(attempt["p90"])},
            "received_to_delivered_s_p50": _round(queue_to_done["p50"]),
        }
    finally:
        await conn.close()


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def service_run(ctx: BenchContext, count: int) -> dict[str, Any]:
    members = asyncio.run(create_members(ctx.stack.dsn, count, label="通知ベンチ会員"))
    ids = [m for m, _ in members]
    left = drain(ctx)
    already = asyncio.run(statuses(ctx.stack.dsn)).get("delivered", 0)
    before = ctx.cpu_snapshot()
    spy = None
    raw = ctx.artifacts / "profiles" / "notifier.notifier-worker.txt"
    if ctx.profile_services:  # py-spy on the worker for the first 20 s of the run
        spy = profiling.start_record(ctx.stack.child("notifier-worker").pid, 20, raw)
    started = asyncio.run(write_events(ctx.stack.dsn, ids, count))
    finished, found = asyncio.run(wait_delivered(ctx.stack.dsn, count, started, already))
    profile: dict[str, Any] = {}
    if spy is not None:
        spy.wait(timeout=60)
        profile = profiling.summarise(raw)
        profiling.print_summary("notifier-worker", profile)
    seconds = finished - started
    delivered = found.get("delivered", 0) - already
    return {
        "events": count,
        "delivered": delivered,
        "seconds": round(seconds, 2),
        "per_s": round(delivered / seconds, 1) if seconds > 0 else 0.0,
        "statuses": found,
        "backlog_before": left,
        "timed_out": delivered < count,
        "cpu_cores": cpu_delta(before, ctx.cpu_snapshot(), seconds),
        "mails_in_sink": len(list((ctx.artifacts / "mail").glob("*.eml"))),
        "profile": profile,
        "timings": asyncio.run(timings(ctx.stack.dsn)),
    }


async def _enqueue_and_wait(redis_url: str, count: int) -> tuple[float, float, int]:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await pool.delete(arq_noop.DONE_KEY)
        started = time.monotonic()
        for n in range(count):
            await pool.enqueue_job(arq_noop.JOB, n, _queue_name=arq_noop.QUEUE)
        while True:
            done = int(await pool.get(arq_noop.DONE_KEY) or 0)
            if done >= count or time.monotonic() - started > TIMEOUT_S:
                return started, time.monotonic(), done
            await asyncio.sleep(0.05)
    finally:
        await pool.aclose()


def baseline_run(ctx: BenchContext, count: int) -> dict[str, Any]:
    env = dict(ctx.stack.env)
    env["BASELINE_REDIS_URL"] = ctx.stack.redis_url
    worker = ctx.stack.start_child(
        "baseline-arq", [sys.executable, "-m", "arq", "bench.baselines.arq_noop.WorkerSettings"], env=env
    )
    try:
        deadline = time.monotonic() + 30
        while "Starting worker" not in worker.log_path.read_text(errors="replace"):
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"arq no-op worker did not start; see {worker.log_path}")
            time.sleep(0.1)
        cpu_before = worker.cpu_s()
        started, finished, done = asyncio.run(_enqueue_and_wait(ctx.stack.redis_url, count))
        cpu = worker.cpu_s() - cpu_before
    finally:
        ctx.stack.stop_child(worker)
    seconds = finished - started
    return {
        "jobs": count,
        "done": done,
        "seconds": round(seconds, 2),
        "per_s": round(done / seconds, 1),
        "cpu_ms_per_job": round(1000 * cpu / done, 2) if done else None,
    }


async def purge(dsn: str, redis_url: str) -> int:
    """After a timeout: drop the rest (queued jobs, unfinished bench deliveries marked `suppressed`) so
    the check-in benchmark that follows does not share the machine with this backlog."""
    from redis.asyncio import Redis

    from shared.outbox import NOTIFIER_QUEUE

    redis = Redis.from_url(redis_url)
    conn = await asyncpg.connect(dsn)
    try:
        await redis.delete(NOTIFIER_QUEUE)
        await conn.execute("UPDATE netsugen.outbox SET sent_at = now() WHERE sent_at IS NULL")
        status = await conn.execute(
            "UPDATE notifier.delivery SET status = 'suppressed', reason = 'bench: purged after the timeout' "
            "WHERE event_type = 'member.registered' AND status IN ('queued', 'failed_temporary')"
        )
        return int(status.split()[-1])
    finally:
        await conn.close()
        await redis.aclose()


def run(ctx: BenchContext) -> None:
    count = ctx.profile.notifier_events
    svc = service_run(ctx, count)
    if svc["timed_out"]:
        svc["purged"] = asyncio.run(purge(ctx.stack.dsn, ctx.stack.redis_url))
    print(
        f"    service: {svc['delivered']:,}/{count:,} delivered in {svc['seconds']} s = {svc['per_s']}/s; "
        f"cpu {svc['cpu_cores']}; ledger {svc['statuses']}; {svc['timings']}"
    )
    ctx.wait_quiet(max_s=30)
    base = baseline_run(ctx, count)
    print(f"    baseline: {base['done']:,} no-op jobs in {base['seconds']} s = {base['per_s']}/s")
    ctx.report.details["notifier"] = {"service": svc, "baseline": base}
    ratio = round(svc["per_s"] / base["per_s"], 3) if base["per_s"] else None
    note = f"{svc['delivered']:,} of {count:,} delivered in {svc['seconds']} s; {svc['mails_in_sink']:,} mails in sink"
    if svc["timed_out"]:
        note += f"; TIMED OUT after {TIMEOUT_S:.0f} s"
    worker_cores = svc["cpu_cores"].get("notifier-worker", 0.0)
    svc["cpu_ms_per_delivery"] = round(1000 * worker_cores / svc["per_s"], 2) if svc["per_s"] else None
    cpu_base = base.get("cpu_ms_per_job")
    ctx.report.add(
        Row(
            TITLE,
            f"{count:,} events → e-mails",
            svc["per_s"],
            "/s",
            baseline=base["per_s"],
            ratio=ratio,
            target=f"ratio ≥ {TARGETS['notifier_ratio']}",
            ok=ratio is not None and ratio >= TARGETS["notifier_ratio"] and not svc["timed_out"],
            note=note,
        ),
        Row(
            TITLE,
            "deliveries per second",
            svc["per_s"],
            "/s",
            target=f"≥ {TARGETS['notifier_per_s']:.0f}/s",
            ok=svc["per_s"] >= TARGETS["notifier_per_s"],
        ),
    )
    ctx.report.add(
        Row(
            TITLE,
            "worker CPU per delivery",
            svc["cpu_ms_per_delivery"],
            "ms",
            baseline=cpu_base,
            ratio=round(svc["cpu_ms_per_delivery"] / cpu_base, 1)
            if cpu_base and svc["cpu_ms_per_delivery"]
            else None,
            note="notifier-worker process vs the no-op arq worker",
        ),
    )
