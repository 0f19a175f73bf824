"""Run one wrk scenario against a service and against its baseline, the same way.

:func:`measure_pair` alternates them in rounds (service, baseline, service, baseline …) so a change
of the machine's load during the benchmark hits both sides; :func:`load_service` /
:func:`load_baseline` run each side once, one after the other.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import profiling
from bench.benchmarks.context import BenchContext, cpu_delta
from bench.report import Row
from bench.wrk import WrkResult, run_wrk


@dataclass
class Scenario:
    key: str  # e.g. "kpi_list_full"
    script: str  # bench/lua/<script>
    args: list[str]
    threads: int = 2
    # wrk args for the baseline when they differ (e.g. its own ETag)
    baseline_args: list[str] | None = None
    # Runs before every wrk invocation (warm-up, measured, profiled), e.g. closing open visits.
    before: Callable[[], None] | None = None

    def wrk(self, url: str, args: list[str], duration_s: int) -> WrkResult:
        if self.before is not None:
            self.before()
        return run_wrk(url, self.script, args, duration_s=duration_s, threads=self.threads)


@dataclass
class Measured:
    service: WrkResult
    baseline: WrkResult | None = None
    cpu_cores: dict[str, float] = field(default_factory=dict)  # per process, during the service run
    baseline_cpu_cores: float | None = None  # the baseline app's process, during its run
    profile: dict[str, Any] = field(default_factory=dict)
    process: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)  # per round: service, baseline, ratio

    def cpu_ms_per_unit(self) -> tuple[float | None, float | None]:
        """CPU time of the serving process per unit of work (ms): a figure that, unlike throughput,
        hardly depends on how busy the rest of the machine is."""
        svc = self.cpu_cores.get(self.process)
        s = round(1000 * svc / self.service.units_per_s, 2) if svc and self.service.units_per_s else None
        b = None
        if self.baseline is not None and self.baseline_cpu_cores and self.baseline.units_per_s:
            b = round(1000 * self.baseline_cpu_cores / self.baseline.units_per_s, 2)
        return s, b

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service.as_dict(),
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "cpu_cores_during_service_run": self.cpu_cores,
            "baseline_cpu_cores": self.baseline_cpu_cores,
            "cpu_ms_per_unit": dict(zip(("service", "baseline"), self.cpu_ms_per_unit(), strict=True)),
            "profile": self.profile,
            "rounds": self.rounds,
        }


def combine(results: Sequence[WrkResult]) -> WrkResult:
    """Several rounds as one: totals over the whole time, the median p50/p90, the worst p99/max."""
    if len(results) == 1:
        return results[0]
    seconds = sum(r.duration_s for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    return WrkResult(
        requests=sum(r.requests for r in results),
        duration_s=round(seconds, 3),
        rps=round(sum(r.requests for r in results) / seconds, 1),
        units_per_s=round(sum(r.units_per_s * r.duration_s for r in results) / seconds, 1),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p90_ms=statistics.median(r.p90_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        max_ms=max(r.max_ms for r in results),
        mean_ms=round(
            sum(r.mean_ms * r.requests for r in results) / max(1, sum(r.requests for r in results)), 3
        ),
        errors=errors,
        bad=sum(r.bad for r in results),
        connections=results[0].connections,
        threads=results[0].threads,
    )


def measure_pair(
    ctx: BenchContext, url: str, baseline_url: str, scenario: Scenario, process: str
) -> Measured:
    """Warm both, then ``ctx.profile.rounds`` rounds of service then baseline, each
    ``duration_s / rounds`` long; the figures are the rounds combined (:func:`combine`). Needs the
    baseline app running. The platform is let go quiet before every round (the outbox, the worker)."""
    rounds = max(1, ctx.profile.rounds)
    seconds = max(1, ctx.profile.duration_s // rounds)
    base_args = scenario.baseline_args if scenario.baseline_args is not None else scenario.args
    scenario.wrk(url, scenario.args, ctx.profile.warmup_s)
    scenario.wrk(baseline_url, base_args, ctx.profile.warmup_s)
    sides: dict[str, list[tuple[WrkResult, dict[str, float]]]] = {"service": [], "baseline": []}
    for _ in range(rounds):
        for side, target, args in (("service", url, scenario.args), ("baseline", baseline_url, base_args)):
            ctx.wait_quiet()
            if scenario.before is not None:
                scenario.before()
            before, t0 = ctx.cpu_snapshot(), time.monotonic()
            result = run_wrk(target, scenario.script, args, duration_s=seconds, threads=scenario.threads)
            sides[side].append((result, cpu_delta(before, ctx.cpu_snapshot(), time.monotonic() - t0)))
            print(
                f"    {side:8} {scenario.key}: {result.units_per_s:,.0f}/s p50 {result.p50_ms:.1f} ms "
                f"p99 {result.p99_ms:.1f} ms bad {result.bad}"
            )
    svc_cores: dict[str, float] = {}
    for _, cores in sides["service"]:
        for k, v in cores.items():
            svc_cores[k] = round(svc_cores.get(k, 0.0) + v / rounds, 2)
    base_cores = [cores.get("baseline") for _, cores in sides["baseline"]]
    measured = Measured(
        combine([r for r, _ in sides["service"]]),
        combine([r for r, _ in sides["baseline"]]),
        cpu_cores=svc_cores,
        baseline_cpu_cores=round(sum(c for c in base_cores if c) / rounds, 2) if any(base_cores) else None,
        process=process,
        rounds=[
            {
                "service": s.units_per_s,
                "baseline": b.units_per_s,
                "ratio": round(s.units_per_s / b.units_per_s, 3) if b.units_per_s else None,
            }
            for (s, _), (b, _) in zip(sides["service"], sides["baseline"], strict=True)
        ],
    )
    print(f"    rounds {scenario.key}: ratios {[r['ratio'] for r in measured.rounds]} cpu {svc_cores}")
    if ctx.profile_services:
        profile_service(ctx, url, scenario, process, measured)
    return measured


def profile_service(
    ctx: BenchContext, url: str, scenario: Scenario, process: str, measured: Measured
) -> None:
    seconds = min(10, ctx.profile.duration_s)
    raw = ctx.artifacts / "profiles" / f"{scenario.key}.{process}.txt"
    spy = profiling.start_record(ctx.stack.child(process).pid, seconds, raw)
    if spy is not None:
        scenario.wrk(url, scenario.args, seconds)
        spy.wait(timeout=60)
        measured.profile = profiling.summarise(raw)
        profiling.print_summary(f"{scenario.key} ({process})", measured.profile)


def load_service(ctx: BenchContext, url: str, scenario: Scenario, process: str) -> Measured:
    """Warm-up, measured run (with per-process CPU use), and optionally a separate profiled run."""
    duration = ctx.profile.duration_s
    scenario.wrk(url, scenario.args, ctx.profile.warmup_s)
    if scenario.before is not None:
        scenario.before()
    before, t0 = ctx.cpu_snapshot(), time.monotonic()
    result = run_wrk(url, scenario.script, scenario.args, duration_s=duration, threads=scenario.threads)
    cores = cpu_delta(before, ctx.cpu_snapshot(), time.monotonic() - t0)
    measured = Measured(result, cpu_cores=cores, process=process)
    print(
        f"    service  {scenario.key}: {result.units_per_s:,.0f}/s p50 {result.p50_ms:.1f} ms "
        f"p99 {result.p99_ms:.1f} ms bad {result.bad} cpu {cores}"
    )
    if ctx.profile_services:
        profile_service(ctx, url, scenario, process, measured)
    return measured


def load_baseline(
    ctx: BenchContext, url: str, scenario: Scenario, measured: Measured | None = None
) -> WrkResult:
    """Warm-up and measured run against the baseline app; fills ``measured.baseline`` (and its CPU)."""
    args = scenario.baseline_args if scenario.baseline_args is not None else scenario.args
    scenario.wrk(url, args, ctx.profile.warmup_s)
    if scenario.before is not None:
        scenario.before()
    before, t0 = ctx.cpu_snapshot(), time.monotonic()
    result = run_wrk(url, scenario.script, args, duration_s=ctx.profile.duration_s, threads=scenario.threads)
    cores = cpu_delta(before, ctx.cpu_snapshot(), time.monotonic() - t0).get("baseline")
    print(
        f"    baseline {scenario.key}: {result.units_per_s:,.0f}/s p50 {result.p50_ms:.1f} ms "
        f"p99 {result.p99_ms:.1f} ms bad {result.bad} cpu {cores}"
    )
    if measured is not None:
        measured.baseline = result
        measured.baseline_cpu_cores = cores
    return result


def throughput_rows(
    benchmark: str,
    label: str,
    m: Measured,
    *,
    unit: str,
    ratio_target: float,
    p99_target_ms: float | None = None,
) -> list[Row]:
    svc, base = m.service, m.baseline
    ratio = round(svc.units_per_s / base.units_per_s, 3) if base and base.units_per_s else None
    errors = svc.error_total
    note = f"{svc.requests:,} requests" + (f", {errors} unexpected" if errors else "")
    rows = [
        Row(
            benchmark,
            f"{label} throughput",
            svc.units_per_s,
            unit,
            baseline=base.units_per_s if base else None,
            ratio=ratio,
            target=f"ratio ≥ {ratio_target}",
            ok=(ratio is not None and ratio >= ratio_target and errors == 0),
            note=note,
        ),
        Row(
            benchmark,
            f"{label} p50",
            svc.p50_ms,
            "ms",
            baseline=base.p50_ms if base else None,
            ratio=round(svc.p50_ms / base.p50_ms, 2) if base and base.p50_ms else None,
        ),
    ]
    rows.append(
        Row(
            benchmark,
            f"{label} p99",
            svc.p99_ms,
            "ms",
            baseline=base.p99_ms if base else None,
            ratio=round(svc.p99_ms / base.p99_ms, 2) if base and base.p99_ms else None,
            target=f"≤ {p99_target_ms:.0f} ms" if p99_target_ms else "",
            ok=(svc.p99_ms <= p99_target_ms) if p99_target_ms else None,
        )
    )
    cpu_svc, cpu_base = m.cpu_ms_per_unit()
    if cpu_svc is not None:
        rows.append(
            Row(
                benchmark,
                f"{label} CPU per {'cycle' if unit == '/s' else 'request'}",
                cpu_svc,
                "ms",
                baseline=cpu_base,
                ratio=round(cpu_svc / cpu_base, 2) if cpu_base else None,
                note="server process CPU time; steadier than req/s on a busy machine",
            )
        )
    return rows
