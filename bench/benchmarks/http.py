"""Run one wrk scenario against a service and against its baseline, the same way, one after the other."""

from __future__ import annotations

import time
from collections.abc import Callable
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
        }


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
    print(f"    service  {scenario.key}: {result.units_per_s:,.0f}/s p50 {result.p50_ms:.1f} ms "
          f"p99 {result.p99_ms:.1f} ms bad {result.bad} cpu {cores}")
    if ctx.profile_services:
        seconds = min(10, duration)
        raw = ctx.artifacts / "profiles" / f"{scenario.key}.{process}.txt"
        spy = profiling.start_record(ctx.stack.child(process).pid, seconds, raw)
        if spy is not None:
            scenario.wrk(url, scenario.args, seconds)
            spy.wait(timeout=60)
            measured.profile = profiling.summarise(raw)
            profiling.print_summary(f"{scenario.key} ({process})", measured.profile)
    return measured


def load_baseline(ctx: BenchContext, url: str, scenario: Scenario, measured: Measured | None = None) -> WrkResult:
    """Warm-up and measured run against the baseline app; fills ``measured.baseline`` (and its CPU)."""
    args = scenario.baseline_args if scenario.baseline_args is not None else scenario.args
    scenario.wrk(url, args, ctx.profile.warmup_s)
    if scenario.before is not None:
        scenario.before()
    before, t0 = ctx.cpu_snapshot(), time.monotonic()
    result = run_wrk(url, scenario.script, args, duration_s=ctx.profile.duration_s, threads=scenario.threads)
    cores = cpu_delta(before, ctx.cpu_snapshot(), time.monotonic() - t0).get("baseline")
    print(f"    baseline {scenario.key}: {result.units_per_s:,.0f}/s p50 {result.p50_ms:.1f} ms "
          f"p99 {result.p99_ms:.1f} ms bad {result.bad} cpu {cores}")
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
        Row(benchmark, f"{label} throughput", svc.units_per_s, unit,
            baseline=base.units_per_s if base else None, ratio=ratio, target=f"ratio ≥ {ratio_target}",
            ok=(ratio is not None and ratio >= ratio_target and errors == 0), note=note),
        Row(benchmark, f"{label} p50", svc.p50_ms, "ms", baseline=base.p50_ms if base else None,
            ratio=round(svc.p50_ms / base.p50_ms, 2) if base and base.p50_ms else None),
    ]
    rows.append(Row(
        benchmark, f"{label} p99", svc.p99_ms, "ms", baseline=base.p99_ms if base else None,
        ratio=round(svc.p99_ms / base.p99_ms, 2) if base and base.p99_ms else None,
        target=f"≤ {p99_target_ms:.0f} ms" if p99_target_ms else "",
        ok=(svc.p99_ms <= p99_target_ms) if p99_target_ms else None,
    ))
    cpu_svc, cpu_base = m.cpu_ms_per_unit()
    if cpu_svc is not None:
        rows.append(Row(benchmark, f"{label} CPU per {'cycle' if unit == '/s' else 'request'}", cpu_svc, "ms",
                        baseline=cpu_base, ratio=round(cpu_svc / cpu_base, 2) if cpu_base else None,
                        note="server process CPU time; steadier than req/s on a busy machine"))
    return rows
