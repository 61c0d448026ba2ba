"""Medians per case and the benchmark's targets, each measured from the rows present.

``summarize`` is the one place where runs become per-case figures: it groups by every key that
defines a case (``CASE_KEYS``), so a figure never mixes two cases; the comparison report and
the Markdown summary both read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from report_lib.bench.plan import CASE_KEYS, FAR, PUBLISHED, PUBLISHED_CALL_S, QUOTA
from report_lib.bench.result_files import TEXT_COLUMNS, text_column

CPU_SHARE_MAX = 0.05  # client CPU per call above this share of a call's latency: no efficiency
EQUIVALENT_FLOOR = 0.02  # makespans closer than this (relative) are "equivalent"
SCALE_TARGET_N = 30  # efficiency targets from here up (0.80; 0.90 at N = 300)
# The quota scenario's targets per client: (most throttled share, most makespan / bound); no
# report lost. A far cell's auto is held to the same ratio against the run without a limiter.
QUOTA_TARGETS: dict[str, tuple[float, float]] = {"known": (0.05, 1.15), "auto": (0.20, 1.30)}

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
    """One row per case: medians over its runs, the makespan's min/max/spread, ``label``,
    one call's latency and the client's CPU per call as a share of it (``cpu_share``)."""
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
    if "sum_latency_s" in frame.columns:
        frame["call_latency_s"] = frame["sum_latency_s"] / frame["n_jobs"]
        agg["call_latency_s"] = ("call_latency_s", "median")
    keys = [*CASE_KEYS, *(["latency_model"] if "latency_model" in frame.columns else []),
            "label"]
    out = frame.groupby(keys, sort=False, dropna=False).agg(**agg).reset_index()
    out["spread_s"] = out["makespan_max_s"] - out["makespan_min_s"]
    out["spread_pct"] = out["spread_s"] / out["makespan_s"] * 100
    if "call_latency_s" in out.columns and "cpu_ms_per_call" in out.columns:
        out["cpu_share"] = out["cpu_ms_per_call"] / 1000 / out["call_latency_s"]
    else:
        out["cpu_share"] = math.nan
    return out


def efficiency_concludable(case: Mapping[Any, Any]) -> bool:
    """False when the client's CPU per call exceeds CPU_SHARE_MAX of one call's latency: then
    the client's own work, not the strategy, sets the efficiency (a compressed time scale
    shortens the calls but not the client's work)."""
    share = float(case.get("cpu_share", math.nan))
    return not share > CPU_SHARE_MAX


def equivalent(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two cases' median makespans are within the larger of their spreads (max − min over
    repeats) or EQUIVALENT_FLOOR of the faster one, whichever is larger."""
    fast, slow = sorted((float(a["makespan_s"]), float(b["makespan_s"])))
    spreads = [float(x.get("spread_s", 0.0) or 0.0) for x in (a, b)]
    return slow - fast <= max(*spreads, EQUIVALENT_FLOOR * fast)


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


def _pick(cases: pd.DataFrame, **where: Any) -> pd.DataFrame:
    sel = cases
    for key, value in where.items():
        sel = sel[sel[key] == value]
    return sel


def _one(cases: pd.DataFrame, **where: Any) -> dict[str, Any] | None:
    """The one case matching ``where`` (None when absent)."""
    sel = _pick(cases, **where)
    return {str(k): v for k, v in sel.iloc[0].items()} if len(sel) else None


def _case_name(case: Mapping[Any, Any]) -> str:
    return f"{case['label']} N={int(case['n_jobs'])} c={int(case['concurrency'])}"


def check_targets(results: pd.DataFrame) -> list[TargetCheck]:
    """The targets, each measured from one case's medians (never from two cases mixed)."""
    cases = summarize(results)
    checks: list[TargetCheck] = []
    for part in (_seed_checks, _scale_checks, _floor_checks, _throttled_checks, _process_checks,
                 _cpu_checks):
        checks += part(cases)
    return checks + quota_checks(results)


def _seed_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    seed = _pick(cases, scenario="seed", n_jobs=3)
    checks = []
    for variant, factor in (("", 1.02), ("cold", 1.05)):
        for strategy in ("thread", "asyncio"):
            case = _one(seed, strategy=strategy, variant=variant)
            if case is None:
                continue
            m, latency = float(case["makespan_s"]), PUBLISHED_CALL_S * float(case["time_scale"])
            checks.append(TargetCheck(
                f"makespan ≤ {factor:.2f} × latency{' (cold process)' if variant else ''}",
                "seed", str(case["label"]), m, factor * latency, m <= factor * latency,
                f"{m:.3f} s vs {latency:.3f} s latency ({m / latency:.3f}×)",
            ))
    seq, thr = _one(seed, strategy="sequential"), _one(seed, strategy="thread", variant="")
    if seq is not None and thr is not None:
        ratio = float(seq["makespan_s"]) / float(thr["makespan_s"])
        published = PUBLISHED["sequential_s"] / PUBLISHED["parallel_s"]
        checks.append(TargetCheck(
            "sequential ≈ 3× thread", "seed", "sequential", ratio, 3.0, 2.85 <= ratio <= 3.15,
            f"{seq['makespan_s']:.3f} s / {thr['makespan_s']:.3f} s = {ratio:.2f}× (published "
            f"{PUBLISHED['sequential_s']} / {PUBLISHED['parallel_s']} = {published:.2f}×)",
        ))
    return checks


def _efficiency_check(case: Mapping[str, Any], threshold: float) -> TargetCheck:
    n, eff = int(case["n_jobs"]), float(case["efficiency"])
    name = f"efficiency ≥ {threshold:.2f} at N={n}, concurrency N"
    detail = (f"median makespan {case['makespan_s']:.3f} s, lower bound "
              f"{case['lower_bound_s']:.3f} s")
    if not efficiency_concludable(case):
        return TargetCheck(name, "scale", str(case["label"]), eff, threshold, None,
                           f"not concluded: client CPU per call is {case['cpu_share']:.1%} of "
                           f"the {case['call_latency_s']:.3f} s call latency (> "
                           f"{CPU_SHARE_MAX:.0%}); {detail}")
    return TargetCheck(name, "scale", str(case["label"]), eff, threshold, eff >= threshold,
                       detail)


def _scale_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    scale = _pick(cases, scenario="scale", variant="")
    scale = scale[scale["concurrency"] == scale["n_jobs"]]
    checks = []
    for n in sorted({int(v) for v in scale["n_jobs"] if v >= SCALE_TARGET_N}):
        for strategy in ("thread", "asyncio"):
            case = _one(scale, strategy=strategy, n_jobs=n)
            if case is None:
                continue
            checks.append(_efficiency_check(case, 0.90 if n >= 300 else 0.80))
            warnings = float(case["pool_full_warnings"])
            checks.append(TargetCheck(
                f"no 'Connection pool is full' at N={n}", "scale", strategy, warnings, 0.0,
                warnings == 0, f"{warnings:.0f} warnings over {int(case['repeats'])} runs",
            ))
            original = _one(cases, strategy="original", n_jobs=n,
                            time_scale=case["time_scale"])
            if original is not None and n >= 300:
                ratio = float(original["makespan_s"]) / float(case["makespan_s"])
                checks.append(TargetCheck(
                    f"≥ 100× faster than original at N={n}", "scale", strategy, ratio, 100.0,
                    ratio >= 100.0, f"original {original['makespan_s']:.2f} s vs "
                    f"{case['makespan_s']:.3f} s",
                ))
    return checks


def _floor_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    """Our strategies against the bare client (variant ``bare``) of the same N and concurrency."""
    checks = []
    for bare in _pick(cases, variant="bare").to_dict("records"):
        ours = _one(cases, scenario=bare["scenario"], strategy=bare["strategy"], variant="",
                    n_jobs=bare["n_jobs"], concurrency=bare["concurrency"],
                    time_scale=bare["time_scale"])
        if ours is None:
            continue
        ratio = float(ours["makespan_s"]) / float(bare["makespan_s"])
        checks.append(TargetCheck(
            f"overhead ≤ 1.05 × bare client at N={int(bare['n_jobs'])}", str(bare["scenario"]),
            str(ours["label"]), ratio, 1.05, ratio <= 1.05,
            f"{ours['makespan_s']:.3f} s vs bare {bare['strategy']} client "
            f"{bare['makespan_s']:.3f} s; CPU per call {ours['cpu_ms_per_call']:.2f} vs "
            f"{bare['cpu_ms_per_call']:.2f} ms",
        ))
    return checks


def _throttled_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    checks = []
    for case in _pick(cases, scenario="throttled").to_dict("records"):
        quota, failed = float(case["quota_tpm"]), int(case["failed"])
        requests, throttled = float(case["requests"]), float(case["throttled"])
        share = throttled / requests if requests else math.nan
        runs = int(case["repeats"])
        counts = (f"{failed} failed reports in {runs} run{'s' if runs != 1 else ''}; per run "
                  f"{throttled:.0f} of {requests:.0f} requests throttled, "
                  f"{case['retries']:.0f} retries")
        if case["variant"] == "auto":
            bound, m = float(case["lower_bound_s"]), float(case["makespan_s"])
            ok = failed == 0 and share <= 0.20 and m <= 1.3 * bound
            checks.append(TargetCheck(
                "quota found: 0 failed, ≤ 20 % throttled, makespan ≤ 1.3 × quota bound",
                "throttled", _case_name(case), m / bound, 1.3, ok,
                f"{m:.2f} s vs bound {bound:.2f} s ({m / bound:.2f}×); {share:.0%} of requests "
                f"throttled; quota {quota:,.0f} tokens/min (not told); {counts}"))
            continue
        sustained = float(case["sustained_tpm"])
        ratio = sustained / quota if quota else math.nan
        checks.append(TargetCheck(
            "throughput ≥ 0.90 × quota, no failed report", "throttled", _case_name(case),
            ratio, 0.90, bool(ratio >= 0.90 and failed == 0),
            f"sustained {sustained:,.0f} of {quota:,.0f} tokens/min; {counts}",
        ))
    return checks


def _process_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    checks = []
    scale = _pick(cases, scenario="scale", variant="")
    for n in (3, 100):
        at_n = scale[(scale["n_jobs"] == n) & (scale["concurrency"] == n)]
        thread = _one(at_n, strategy="thread")
        for case in _pick(at_n, strategy="process").to_dict("records"):
            if thread is None:
                continue
            m, t = float(case["makespan_s"]), float(thread["makespan_s"])
            checks.append(TargetCheck(
                f"process overhead vs thread at N={n}", "scale", str(case["label"]), m - t,
                None, None, f"{m:.3f} s vs thread {t:.3f} s: {m - t:+.3f} s ({m / t:.2f}×)",
            ))
    return checks


def _cpu_checks(cases: pd.DataFrame) -> list[TargetCheck]:
    for scenario in ("scale", "seed"):
        sel = _pick(cases, scenario=scenario, variant="")
        sel = sel[sel["concurrency"] == sel["n_jobs"]]
        if len(sel):
            n = int(sel["n_jobs"].max())
            break
    else:
        return []
    checks = []
    for strategy in ("thread", "asyncio"):
        case = _one(sel, strategy=strategy, n_jobs=n)
        if case is not None:
            value = float(case["cpu_ms_per_call"])
            checks.append(TargetCheck(
                f"client CPU ≤ 2 ms per call at N={n}", scenario, strategy, value, 2.0,
                value <= 2.0, f"{value:.2f} ms per call, client already built (warm)",
            ))
    return checks


QUOTA_CELL_KEYS = ("n_jobs", "concurrency", "strategy", "quota_minute", "accounting",
                   "time_scale")


def quota_cells(results: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of the quota scenario, from its medians (``summarize``): the quota model
    and client (from the variant ``client/minute/accounting``), reports ``lost`` (summed over
    runs), ``throttled_share`` (throttled / requests, per run), ``ratio`` = makespan / bound,
    and for a far cell the run without a limiter beside it (``unlimited_s``) and
    ``vs_unlimited`` = makespan / that."""
    if "scenario" not in results.columns:
        return pd.DataFrame()
    rows = results[results["scenario"] == QUOTA]
    if rows.empty:
        return pd.DataFrame()
    cells = summarize(rows)
    parts = cells["variant"].str.split("/", n=2, expand=True)
    cells["client"], cells["quota_minute"], cells["accounting"] = parts[0], parts[1], parts[2]
    cells["far"] = cells["client"].str.endswith(FAR)
    cells["runs"] = cells["repeats"].astype(int)
    cells["lost"] = cells["failed"].astype(int)
    cells["throttled_share"] = cells["throttled"] / cells["requests"]
    cells["bound_s"] = cells["lower_bound_s"]
    cells["ratio"] = cells["makespan_s"] / cells["bound_s"]
    unlimited = cells[cells["client"] == "none" + FAR].set_index(list(QUOTA_CELL_KEYS))
    keys = list(zip(*(cells[k] for k in QUOTA_CELL_KEYS), strict=True))
    beside = [unlimited["makespan_s"].get(k, math.nan) if far else math.nan
              for k, far in zip(keys, cells["far"], strict=True)]
    cells["unlimited_s"] = pd.Series(beside, index=cells.index, dtype=float)
    cells["vs_unlimited"] = cells["makespan_s"] / cells["unlimited_s"]
    return cells


def quota_records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``quota_cells`` as dicts with string keys."""
    return [{str(k): v for k, v in r.items()} for r in cells.to_dict("records")]


def quota_verdict(cell: Mapping[str, Any]) -> tuple[bool, list[str]] | None:
    """Whether a quota cell meets its client's target (``QUOTA_TARGETS``) and, if not, what
    missed; None for a client without a target (adaptive, retries, none-far)."""
    client = str(cell["client"])
    target = QUOTA_TARGETS.get(client.removesuffix(FAR))
    if target is None or client == "none" + FAR:
        return None
    most_share, most_ratio = target
    misses = []
    if int(cell["lost"]) > 0:
        misses.append(f"{int(cell['lost'])} lost")
    share = float(cell["throttled_share"])
    if not share <= most_share:
        misses.append(f"{share:.0%} throttled > {most_share:.0%}")
    if bool(cell["far"]) and math.isfinite(float(cell["vs_unlimited"])):
        ratio, against = float(cell["vs_unlimited"]), "the run without a limiter"
    else:
        ratio, against = float(cell["ratio"]), "the bound"
    if not ratio <= most_ratio:
        misses.append(f"{ratio:.2f}x {against} > {most_ratio:.2f}x")
    return not misses, misses


def quota_cell_name(cell: Mapping[str, Any]) -> str:
    """``known sliding/bedrock thread N=40``."""
    return (f"{cell['client']} {cell['quota_minute']}/{cell['accounting']} {cell['strategy']} "
            f"N={int(cell['n_jobs'])}")


def quota_checks(results: pd.DataFrame) -> list[TargetCheck]:
    """The quota scenario's targets, one per cell of a client with a target."""
    checks = []
    for cell in quota_records(quota_cells(results)):
        verdict = quota_verdict(cell)
        if verdict is None:
            continue
        passed, misses = verdict
        most_share, most_ratio = QUOTA_TARGETS[str(cell["client"]).removesuffix(FAR)]
        far = bool(cell["far"])
        against = "the run without a limiter" if far else "the bound"
        measured = float(cell["vs_unlimited"] if far else cell["ratio"])
        detail = (f"{cell['makespan_s']:.2f} s vs bound {cell['bound_s']:.2f} s "
                  f"({cell['ratio']:.2f}x)")
        if far:
            detail += f", without a limiter {cell['unlimited_s']:.2f} s"
        detail += (f"; {cell['throttled']:.0f} of {cell['requests']:.0f} requests throttled; "
                   f"{int(cell['lost'])} lost in {int(cell['runs'])} run"
                   f"{'s' if int(cell['runs']) != 1 else ''}"
                   + (f"; missed: {', '.join(misses)}" if misses else ""))
        checks.append(TargetCheck(
            f"0 lost, <= {most_share:.0%} throttled, makespan <= {most_ratio:.2f}x {against}",
            QUOTA, quota_cell_name(cell), measured, most_ratio, passed, detail))
    return checks
