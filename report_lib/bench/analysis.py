"""Medians per case and the benchmark's targets, each measured from the rows present.

``summarize`` is the one place where runs become per-case figures: it groups by every key that
defines a case (``CASE_KEYS``), so a figure never mixes two cases; the comparison report and
the Markdown summary both read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from report_lib.bench.plan import CASE_KEYS, PUBLISHED, PUBLISHED_CALL_S
from report_lib.bench.results import TEXT_COLUMNS, text_column

# column -> how the runs of one case are combined
_AGGREGATES: dict[str, str] = {
    "lower_bound_s": "median", "efficiency": "median", "speedup_vs_sequential": "median",
    "speedup_estimated": "max", "cpu_ms_per_call": "median", "peak_rss_mb": "max",
    "requests": "median", "throttled": "median", "retries": "median", "failed": "sum",
    "max_in_flight": "max", "pool_full_warnings": "sum", "throughput_tpm": "median",
    "sustained_tpm": "median", "quota_tpm": "median",
}


def with_labels(results: pd.DataFrame) -> pd.DataFrame:
    """A copy with the text columns as strings and ``label`` = strategy[/variant][/method]."""
    frame = results.copy()
    for col in TEXT_COLUMNS:
        frame[col] = text_column(frame[col]) if col in frame.columns else ""
    if "time_scale" not in frame.columns:
        frame["time_scale"] = 1.0
    frame["label"] = [
        "/".join(part for part in (str(s), v, m) if part)
        for s, v, m in zip(frame["strategy"], frame["variant"], frame["start_method"],
                           strict=True)
    ]
    return frame


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """One row per case: medians over its runs, the makespan's min/max/spread, ``label``."""
    frame = with_labels(results)
    agg: dict[str, tuple[str, Any]] = {
        "repeats": ("makespan_s", "size"),
        "makespan_s": ("makespan_s", "median"),
        "makespan_min_s": ("makespan_s", "min"),
        "makespan_max_s": ("makespan_s", "max"),
    }
    for col, how in _AGGREGATES.items():
        if col in frame.columns:
            agg[col] = (col, how)
    out = frame.groupby([*CASE_KEYS, "label"], sort=False, dropna=False).agg(**agg)
    out = out.reset_index()
    out["spread_pct"] = (out["makespan_max_s"] - out["makespan_min_s"]) / out["makespan_s"] * 100
    return out


@dataclass
class TargetCheck:
    """One target of the benchmark, measured: ``passed`` is None when it is informational."""

    target: str
    scenario: str
    strategy: str
    measured: float
    threshold: float | None
    passed: bool | None
    detail: str


def _median_of(df: pd.DataFrame, column: str, **where: Any) -> float:
    sel = df
    for key, value in where.items():
        sel = sel[sel[key] == value]
    values = sel[column].dropna()
    return float(values.median()) if len(values) else math.nan


def _largest(df: pd.DataFrame, scenario: str) -> int | None:
    sel = df[df["scenario"] == scenario]
    return int(sel["n_jobs"].max()) if len(sel) else None


def check_targets(results: pd.DataFrame) -> list[TargetCheck]:
    """The targets, each measured from the rows present (medians over repeats)."""
    df = with_labels(results)
    checks: list[TargetCheck] = []
    _seed_checks(df, checks)
    _scale_checks(df, checks)
    _throttled_checks(df, checks)
    _process_checks(df, checks)
    _cpu_checks(df, checks)
    return checks


def _seed_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    seed = df[(df["scenario"] == "seed") & (df["n_jobs"] == 3)]
    if seed.empty:
        return
    latency = PUBLISHED_CALL_S * float(seed["time_scale"].iloc[0])
    for strategy in ("thread", "asyncio"):
        m = _median_of(seed, "makespan_s", strategy=strategy)
        if not math.isnan(m):
            checks.append(TargetCheck(
                "makespan ≤ 1.02 × latency", "seed", strategy, m, 1.02 * latency,
                m <= 1.02 * latency, f"{m:.3f} s vs {latency:.3f} s latency ({m / latency:.3f}×)",
            ))
    seq = _median_of(seed, "makespan_s", strategy="sequential")
    thr = _median_of(seed, "makespan_s", strategy="thread")
    if not (math.isnan(seq) or math.isnan(thr)):
        ratio = seq / thr
        published = PUBLISHED["sequential_s"] / PUBLISHED["parallel_s"]
        checks.append(TargetCheck(
            "sequential ≈ 3× thread", "seed", "sequential", ratio, 3.0, 2.85 <= ratio <= 3.15,
            f"{seq:.3f} s / {thr:.3f} s = {ratio:.2f}× (published {PUBLISHED['sequential_s']}"
            f" / {PUBLISHED['parallel_s']} = {published:.2f}×)",
        ))


def _scale_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    n = _largest(df, "scale")
    if n is None:
        return
    scale = df[(df["scenario"] == "scale") & (df["n_jobs"] == n) & (df["concurrency"] == n)]
    original = df[(df["strategy"] == "original") & (df["n_jobs"] == n)]
    for strategy in ("thread", "asyncio"):
        rows = scale[scale["strategy"] == strategy]
        if rows.empty:
            continue
        eff = float(rows["efficiency"].median())
        checks.append(TargetCheck(
            f"efficiency ≥ 0.90 at N={n}, concurrency N", "scale", strategy, eff, 0.90,
            eff >= 0.90, f"median makespan {rows['makespan_s'].median():.3f} s, lower bound "
            f"{rows['lower_bound_s'].median():.3f} s",
        ))
        warnings = rows["pool_full_warnings"].sum()
        checks.append(TargetCheck(
            f"no 'Connection pool is full' at N={n}", "scale", strategy, float(warnings), 0.0,
            bool(warnings == 0), f"{int(warnings)} warnings over {len(rows)} repeats",
        ))
        same_scale = original[original["time_scale"] == rows["time_scale"].iloc[0]]
        if not same_scale.empty:
            ratio = float(same_scale["makespan_s"].median() / rows["makespan_s"].median())
            checks.append(TargetCheck(
                f"≥ 100× faster than original at N={n}", "scale", strategy, ratio, 100.0,
                ratio >= 100.0, f"original {same_scale['makespan_s'].median():.2f} s vs "
                f"{rows['makespan_s'].median():.3f} s",
            ))


def _throttled_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    sel = df[df["scenario"] == "throttled"]
    for (strategy, variant), rows in sel.groupby(["strategy", "variant"], sort=False):
        sustained = float(rows["sustained_tpm"].median())
        quota = float(rows["quota_tpm"].iloc[0])
        failed = int(rows["failed"].sum())
        ratio = sustained / quota if quota else math.nan
        checks.append(TargetCheck(
            f"throughput ≥ 0.90 × quota, no failed report ({variant})", "throttled",
            str(strategy), ratio, 0.90, bool(ratio >= 0.90 and failed == 0),
            f"sustained {sustained:,.0f} of {quota:,.0f} tokens/min; {failed} failed reports in "
            f"{len(rows)} runs of {int(rows['n_jobs'].iloc[0])}; per run "
            f"{rows['throttled'].median():.0f} throttled, {rows['retries'].median():.0f} retries",
        ))


def _process_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    sel = df[df["scenario"] == "scale"]
    for n in (3, 100):
        at_n = sel[(sel["n_jobs"] == n) & (sel["concurrency"] == n)]
        thread = _median_of(at_n, "makespan_s", strategy="thread")
        proc = at_n[at_n["strategy"] == "process"]
        for method, rows in proc.groupby("start_method", sort=False):
            m = float(rows["makespan_s"].median())
            over = m - thread
            checks.append(TargetCheck(
                f"process overhead vs thread at N={n}", "scale", f"process/{method}", over,
                None, None, f"{m:.3f} s vs thread {thread:.3f} s: +{over:.3f} s "
                f"({m / thread:.2f}×)" if thread else "no thread row",
            ))


def _cpu_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    n = _largest(df, "scale")
    scenario = "scale" if n is not None else "seed"
    if n is None:
        n = _largest(df, "seed")
        if n is None:
            return
    sel = df[(df["scenario"] == scenario) & (df["n_jobs"] == n) & (df["concurrency"] == n)]
    for strategy in ("thread", "asyncio"):
        value = _median_of(sel, "cpu_ms_per_call", strategy=strategy)
        if not math.isnan(value):
            checks.append(TargetCheck(
                f"client CPU ≤ 2 ms per call at N={n}", scenario, strategy, value, 2.0,
                value <= 2.0, f"{value:.2f} ms per call, client already built (warm)",
            ))
