"""One results row per measured run: makespan, its lower bound, efficiency, counters.

Lower bound: ``max(max_i L_i, quota term)`` with ``L_i`` the emulator's target latency of job i
(fixed models: exactly the fixed latency × scale; Sonnet/Haiku: the jitter-free median for the
job's output tokens, so ``realistic`` efficiencies are relative to the median draw). The
emulator's token bucket starts full (``tpm`` tokens), so the quota term is
``max(0, Σ charged − tpm) / Q + min_i L_i`` with Q = tpm per scaled minute and Σ charged the
tokens the emulator settled for the run (Bedrock's accounting: output × the burndown rate).
The quota scenario's bound is what a client knowing its quota model exactly would take
(bench.quota_cells). Against an external endpoint the latencies are unknown: the bound is the
slowest job's own client-measured latency (``lower_bound_kind = measured``).
docs/LATENCY.md derives it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from report_lib.bench.plan import SEQUENTIAL, Case
from report_lib.emulator.latency import parse_latency_model
from report_lib.records import ReportResult

COLUMNS: tuple[str, ...] = (
    "scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency", "repeat",
    "makespan_s", "lower_bound_s", "lower_bound_kind", "efficiency", "speedup_vs_sequential",
    "speedup_estimated", "sum_latency_s", "cpu_s", "cpu_ms_per_call", "peak_rss_mb",
    "requests", "throttled", "retries", "failed", "server_failed", "rejected", "max_in_flight",
    "pool_full_warnings", "tokens", "throughput_tpm", "sustained_tpm", "quota_tpm",
    "latency_model", "time_scale", "backend", "first_call_s", "quota_minute", "accounting",
    "client",
)  # fmt: skip
TIMELINE_KEYS = ("scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency",
                 "repeat", "makespan_s")


@dataclass(frozen=True)
class Measured:
    """What one run produced besides its results: time, client resources, server counters."""

    makespan_s: float
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    pool_full: int | None = None
    stats: Mapping[str, Any] | None = None
    bound_s: float | None = None  # the quota scenario's bound (bench.quota_cells.cell_bound)


def _latencies(case: Case, results: Sequence[ReportResult], time_scale: float,
               external: bool) -> list[float]:
    ok = [r for r in results if r.ok]
    if external:
        return [r.seconds for r in ok]
    model = parse_latency_model(case.latency_model, time_scale)
    return [model.median_s(r.output_tokens) for r in ok]


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


def _charged_tokens(stats: Mapping[str, Any] | None, tokens: int) -> int:
    """The tokens the quota charged for the run: the emulator's settled total (its counters are
    reset before each run; with Bedrock's accounting output counts × the model's burndown), else
    the tokens used (an external endpoint, or no quota)."""
    quota = (stats or {}).get("quota")
    if isinstance(quota, Mapping) and quota.get("settled_tokens"):
        return int(quota["settled_tokens"])
    return tokens


def _bounds(case: Case, latencies: list[float], tokens: int, makespan: float, minute: float,
            external: bool) -> tuple[float, str, float]:
    """(lower bound, its kind, sustained tokens/min after the initial burst)."""
    lower = max(latencies) if latencies else math.nan
    kind = "measured" if external else "latency"
    sustained = math.nan
    if case.tpm and latencies:
        rate = case.tpm / minute  # tokens per second
        quota_bound = max(0.0, tokens - case.tpm) / rate + min(latencies)
        if quota_bound > lower:
            lower, kind = quota_bound, "quota"
        busy = makespan - min(latencies)
        if busy > 0:
            sustained = max(0.0, tokens - case.tpm) / busy * minute
    return lower, kind, sustained


def make_row(case: Case, repeat: int, results: Sequence[ReportResult], measured: Measured, *,
             time_scale: float, external: bool, backend: str) -> dict[str, Any]:
    """One results.csv row from a measured run (speedups are filled in afterwards)."""
    latencies = _latencies(case, results, time_scale, external)
    tokens = sum(r.input_tokens + r.output_tokens for r in results if r.ok)
    makespan, minute = measured.makespan_s, 60.0 * time_scale
    charged = _charged_tokens(measured.stats, tokens)
    lower, kind, sustained = _bounds(case, latencies, charged, makespan, minute, external)
    if measured.bound_s is not None:  # what a client knowing the quota model exactly takes
        lower, kind = measured.bound_s, "latency" if case.far else "quota model"
    stats = measured.stats or {}
    n = len(results)
    return {
        "scenario": case.scenario,
        "variant": case.variant,
        "strategy": case.strategy,
        "start_method": case.start_method or "",
        "n_jobs": n,
        "concurrency": case.concurrency,
        "repeat": repeat,
        "makespan_s": makespan,
        "lower_bound_s": lower,
        "lower_bound_kind": kind,
        "efficiency": lower / makespan if makespan > 0 else math.nan,
        "speedup_vs_sequential": math.nan,
        "speedup_estimated": True,
        "sum_latency_s": sum(latencies) if latencies else math.nan,
        "cpu_s": measured.cpu_s,
        "cpu_ms_per_call": measured.cpu_s / n * 1000 if n else math.nan,
        "peak_rss_mb": measured.peak_rss_mb,
        "requests": _nan_if_none(stats.get("requests")),
        "throttled": _nan_if_none(stats.get("throttled")),
        "retries": sum(max(0, r.attempts - 1) for r in results),
        "failed": sum(1 for r in results if not r.ok),
        "server_failed": _nan_if_none(stats.get("failed")),
        "rejected": _nan_if_none(stats.get("rejected")),
        "max_in_flight": _nan_if_none(stats.get("max_in_flight")),
        "pool_full_warnings": _nan_if_none(measured.pool_full),
        "tokens": tokens,
        "throughput_tpm": tokens / makespan * minute if makespan > 0 else math.nan,
        "sustained_tpm": sustained,
        "quota_tpm": _nan_if_none(case.tpm),
        "latency_model": "external" if external else case.latency_model,
        "time_scale": time_scale,
        "backend": backend,
        "quota_minute": case.quota_minute,
        "accounting": case.accounting,
        "client": case.client,
    }


def timeline(row: Mapping[str, Any], results: Sequence[ReportResult]) -> dict[str, Any]:
    """Every call of a run with its start and end (for the Gantt chart)."""
    return {
        **{k: row[k] for k in TIMELINE_KEYS},
        "jobs": [
            {"key": r.key, "start_s": round(r.start_s, 4), "end_s": round(r.end_s, 4),
             "attempts": r.attempts, "worker": r.worker, "error_type": r.error_type}
            for r in results
        ],
    }


def fill_speedups(rows: list[dict[str, Any]]) -> None:
    """Measured speedup where a sequential row of the same group exists, else Σ L_i / makespan."""
    group = ("scenario", "variant", "n_jobs", "time_scale", "latency_model")
    sequential: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        if row["strategy"] == SEQUENTIAL:
            sequential.setdefault(tuple(row[k] for k in group), []).append(row["makespan_s"])
    for row in rows:
        base = sequential.get(tuple(row[k] for k in group))
        if base:
            row["speedup_vs_sequential"] = statistics.median(base) / row["makespan_s"]
            row["speedup_estimated"] = False
        else:
            row["speedup_vs_sequential"] = row["sum_latency_s"] / row["makespan_s"]
            row["speedup_estimated"] = True
