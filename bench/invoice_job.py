"""One invoice run in a fresh process, timed, with its peak memory: `python -m bench.invoice_job 2026-10`.

The run is the service's own ``run_invoices`` (billing/invoice_run.py) in one ``session_scope``, as
the CLI and the scheduled job call it; the time includes the commit. Prints one JSON line.
Environment: ``DATABASE_URL`` (the bench database).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
import tracemalloc
from typing import Any

import psutil  # type: ignore[import-untyped]


async def main(period_text: str, use_tracemalloc: bool) -> dict[str, Any]:
    from services.netsugen_booking.billing.invoice_run import Period, run_invoices, today_jst
    from services.netsugen_booking.settings import NetsugenSettings
    from shared.db import create_engine, make_sessionmaker, session_scope

    settings = NetsugenSettings()
    engine = create_engine(
        os.environ["DATABASE_URL"], pool_size=2, max_overflow=0, application_name="bench-invoice"
    )
    rss_before = psutil.Process().memory_info().rss
    if use_tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            run = await run_invoices(
                session,
                settings,
                period=Period.parse(period_text),
                trigger="cli",
                requested_by="bench",
                today=today_jst(),
            )
            summary = {
                "members_billed": run.members_billed,
                "invoices_created": run.invoices_created,
                "lines_created": run.lines_created,
                "total_yen": run.total_yen,
            }
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    out: dict[str, Any] = {
        "seconds": round(seconds, 3),
        **summary,
        "rss_before_mb": round(rss_before / 1_048_576, 1),
        # ru_maxrss is in KiB on Linux: the process's peak resident set, imports included.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if use_tracemalloc:
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1_048_576, 1)
        tracemalloc.stop()
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    result = asyncio.run(main(args[0], "--tracemalloc" in sys.argv))
    print("BENCH_JSON " + json.dumps(result))
