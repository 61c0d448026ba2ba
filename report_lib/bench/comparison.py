"""The comparison report: tables and sentences computed from benchmark results.

Input is what ``bench.results.load_results(out_dir)`` returns: the results DataFrame (one row
per run), the per-job timelines and the metadata. Every number in the conclusions comes from
those rows; a scenario that was not run is named as missing, never described. The charts are
in ``bench.figures``.

A strategy is shown with its variant and start method when it has them (``process/spawn``,
``thread/limiter``). The ``original`` strategy is the original design (a new client per task,
``ThreadPoolExecutor(3)``): it is a baseline, never a winner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from report_lib.bench.analysis import summarize, with_labels
from report_lib.bench.plan import (
    BENCH_STRATEGIES,
    ORIGINAL,
    PUBLISHED,
    SCENARIOS,
    SEQUENTIAL,
    THREE_REPORT_SCENARIOS,
)


def fmt_seconds(t: float) -> str:
    """3 decimals under 1 s, 2 under 100 s, none above: 0.041 s, 1.07 s, 281 s."""
    if t < 1:
        return f"{t:.3f} s"
    return f"{t:.2f} s" if t < 100 else f"{t:,.0f} s"


def fmt_ratio(x: float) -> str:
    """2 decimals under 10, 1 under 100, none above: 1.02×, 28.5×, 281×."""
    if x < 10:
        return f"{x:.2f}×"
    return f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def order(values: Iterable[Any], order: Sequence[str]) -> list[str]:
    """Distinct values, known ones in ``order`` (by their base name), the rest sorted."""
    values = list(dict.fromkeys(str(v) for v in values))
    rank = {name: i for i, name in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v.split("/")[0], len(order)), v))


def _scales(table: pd.DataFrame) -> dict[str, float]:
    return {str(s): float(g["time_scale"].iloc[0]) for s, g in table.groupby("scenario")}


def _original_makespans(table: pd.DataFrame) -> dict[tuple[int, float], float]:
    """Median makespan of the original design per (N, time scale), from any scenario."""
    rows = table[table["strategy"] == ORIGINAL]
    return {(int(n), float(ts)): float(g["makespan_s"].min())
            for n, ts, g in _by_two(rows, "n_jobs", "time_scale")}


def _by_two(rows: pd.DataFrame, a: str, b: str) -> list[tuple[Any, Any, pd.DataFrame]]:
    """(value of a, value of b, rows) per distinct pair."""
    return [(x, y, rows[(rows[a] == x) & (rows[b] == y)])
            for x, y in rows[[a, b]].drop_duplicates().itertuples(index=False)]


def published_table(results: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
    """The original's published 6.01 s / 2.01 s beside our 3-call measurements (seed scenario
    and the original design). ``per_latency`` = makespan / one call's latency, so runs at any
    time scale compare with the published numbers (whose calls slept 2 s)."""
    published = {**PUBLISHED, **((metadata or {}).get("published") or {})}
    claim = "original, published (time.sleep(2))"
    rows: list[dict[str, Any]] = [
        {"source": claim, "strategy": name, "n_jobs": 3, "median_s": value, "min_s": None,
         "max_s": None, "time_scale": 1.0, "call_latency_s": 2.0, "per_latency": value / 2.0}
        for name, value in (("sequential", published["sequential_s"]),
                            ("ThreadPoolExecutor(3)", published["parallel_s"]))
    ]
    table = summarize(results)
    three = table[(table["n_jobs"] == 3) & ((table["scenario"] == "seed")
                                            | (table["strategy"] == ORIGINAL))]
    for scenario in order(three["scenario"], SCENARIOS):
        part = three[three["scenario"] == scenario]
        for label in order(part["label"], BENCH_STRATEGIES):
            row = part[part["label"] == label].sort_values("makespan_s").iloc[0]
            latency = float(row.get("lower_bound_s", np.nan))
            rows.append({
                "source": f"measured, {scenario} scenario", "strategy": label, "n_jobs": 3,
                "median_s": round(float(row["makespan_s"]), 4),
                "min_s": round(float(row["makespan_min_s"]), 4),
                "max_s": round(float(row["makespan_max_s"]), 4),
                "time_scale": float(row["time_scale"]),
                "call_latency_s": round(latency, 4),
                "per_latency": round(float(row["makespan_s"]) / latency, 3)
                if latency > 0 else np.nan,
            })
    return pd.DataFrame(rows)


def quota_table(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-label medians of the quota-bound rows and the throughput column to use."""
    if "quota_tpm" not in results.columns:
        return results.iloc[0:0], ""
    rows = results[pd.to_numeric(results["quota_tpm"], errors="coerce") > 0]
    column = next((c for c in ("sustained_tpm", "throughput_tpm")
                   if c in rows.columns and rows[c].notna().any()), "")
    if rows.empty or not column:
        return results.iloc[0:0], ""
    return summarize(rows), column


def _groups(table: pd.DataFrame, scenario: str) -> list[tuple[int, int, pd.DataFrame]]:
    """(N, concurrency, rows) described for a scenario: its N (3 for the 3-report scenarios,
    else the largest) at each concurrency level; sequential/original rows join every group."""
    rows = table[table["scenario"] == scenario]
    sizes = set(rows["n_jobs"].astype(int))
    n = 3 if scenario in THREE_REPORT_SCENARIOS and 3 in sizes else max(sizes)
    rows = rows[rows["n_jobs"] == n]
    base = rows[rows["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    parallel = rows[~rows["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    if parallel.empty:
        return [(n, int(rows["concurrency"].max()), rows)]
    levels = sorted({int(c) for c in parallel["concurrency"]}, reverse=True)
    return [(n, conc, pd.concat([parallel[parallel["concurrency"] == conc], base]))
            for conc in levels]


def _winner_sentence(scenario: str, n: int, conc: int, group: pd.DataFrame,
                     originals: dict[tuple[int, float], float]) -> str:
    candidates = group[group["strategy"] != ORIGINAL].sort_values("makespan_s", kind="stable")
    if candidates.empty:
        candidates = group.sort_values("makespan_s", kind="stable")
    best = candidates.iloc[0]
    t = float(best["makespan_s"])
    head = (f"{scenario}: at N={n} with concurrency {conc}, {best['label']} finished in "
            f"{fmt_seconds(t)} median")
    parts = []
    others = candidates[candidates["label"] != best["label"]]
    if not others.empty:
        second = others.iloc[0]
        ratio = float(second["makespan_s"]) / t
        parts.append(f"about as fast as {second['label']} ({fmt_ratio(ratio)})"
                     if fmt_ratio(ratio) == "1.00×"
                     else f"{fmt_ratio(ratio)} faster than {second['label']}")
        seq = others[others["strategy"] == SEQUENTIAL]
        if not seq.empty and second["strategy"] != SEQUENTIAL:
            parts.append(f"{fmt_ratio(float(seq.iloc[0]['makespan_s']) / t)} faster than "
                         "sequential")
    if (best["strategy"] != SEQUENTIAL and not (group["strategy"] == SEQUENTIAL).any()
            and float(best.get("speedup_vs_sequential", np.nan)) > 0):
        parts.append(f"~{fmt_ratio(float(best['speedup_vs_sequential']))} faster than "
                     "sequential (estimated: Σ latencies / makespan)")
    original = originals.get((n, float(best["time_scale"])))
    if original is not None and best["strategy"] != ORIGINAL:
        parts.append(f"{fmt_ratio(original / t)} faster than the original design")
    if not parts:
        return f"{head} (the only strategy run)."
    tail = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"{head}, {tail}."


def _scaling_sentence(table: pd.DataFrame, scenario: str) -> str | None:
    rows = table[(table["scenario"] == scenario)
                 & ~table["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    rows = rows[rows["concurrency"] >= rows["n_jobs"]]
    if rows["n_jobs"].nunique() < 2 or "efficiency" not in rows.columns:
        return None
    lo, hi = int(rows["n_jobs"].min()), int(rows["n_jobs"].max())
    parts = []
    for label in order(rows["label"], BENCH_STRATEGIES):
        mine = rows[rows["label"] == label].set_index("n_jobs")["efficiency"]
        if lo in mine.index and hi in mine.index:
            parts.append(f"{label} {float(mine.loc[lo]):.2f} → {float(mine.loc[hi]):.2f}")
    if not parts:
        return None
    return (f"{scenario}: from N={lo} to N={hi} at concurrency N, efficiency (lower bound / "
            f"makespan) went {'; '.join(parts)}.")


def _seed_sentence(table: pd.DataFrame, metadata: dict[str, Any] | None) -> str | None:
    seed = table[(table["scenario"] == "seed") & (table["n_jobs"] == 3)
                 & (table["strategy"] != ORIGINAL)]
    if seed.empty:
        return None
    published = {**PUBLISHED, **((metadata or {}).get("published") or {})}
    p_seq, p_par = published["sequential_s"], published["parallel_s"]
    best = seed.sort_values("makespan_s", kind="stable").iloc[0]
    latency = float(best["lower_bound_s"]) if "lower_bound_s" in best.index else np.nan

    def measured(row: pd.Series) -> str:
        t = float(row["makespan_s"])
        ratio = f" ({t / latency:.2f}×)" if latency > 0 else ""
        return f"{fmt_seconds(t)}{ratio}"

    text = (f"The original published {p_seq:.2f} s sequential vs {p_par:.2f} s parallel for 3 "
            f"calls faked with time.sleep(2) ({p_seq / 2:.2f}× and {p_par / 2:.2f}× one call's "
            "latency); through the real client stack")
    scale = float(best["time_scale"])
    if latency > 0:
        text += f" at time scale {scale:g} (calls of {fmt_seconds(latency)})"
    seq = seed[seed["strategy"] == SEQUENTIAL]
    if not seq.empty and best["strategy"] != SEQUENTIAL:
        text += f" sequential took {measured(seq.iloc[0])} and {best['label']} {measured(best)}"
    else:
        text += f" {best['label']} took {measured(best)}"
    return text + " median."


def _throttle_sentence(results: pd.DataFrame) -> str | None:
    table, column = quota_table(results)
    if table.empty:
        return None
    best = table.sort_values(column, ascending=False, kind="stable").iloc[0]
    quota, tpm = float(best["quota_tpm"]), float(best[column])
    kind = "sustained " if column == "sustained_tpm" else ""
    text = (f"Under a quota of {quota:,.0f} tokens/min, {best['label']} reached {kind}"
            f"{tpm:,.0f} tokens/min ({tpm / quota:.0%} of the quota)")
    nouns = {"throttled": "throttled responses", "retries": "retries", "failed": "failed calls"}
    counts = [f"{int(best[c])} {noun}" for c, noun in nouns.items() if c in best.index]
    if counts:
        text += " with " + (counts[0] if len(counts) == 1
                            else f"{', '.join(counts[:-1])} and {counts[-1]}")
    return text + "."


def _spread(values: pd.Series, unit: str) -> str:
    low, high = unit.format(values.min()), unit.format(values.max())
    if low == high:
        return f"{low} for every strategy"
    return f"lowest {values.idxmin()} {low}, highest {values.idxmax()} {high}"


def _resources_sentence(results: pd.DataFrame) -> str | None:
    frame = with_labels(results)
    if "cpu_ms_per_call" not in frame.columns:
        return None
    cpu = frame.groupby("label")["cpu_ms_per_call"].median().dropna()
    if len(cpu) < 2:
        return None
    text = "Client CPU per call (median over runs): " + _spread(cpu, "{:.2f} ms")
    if "peak_rss_mb" in frame.columns:
        mem = frame.groupby("label")["peak_rss_mb"].median().dropna()
        if len(mem) >= 2:
            text += "; peak memory: " + _spread(mem, "{:.0f} MB")
    return text + "."


def _failures_sentence(results: pd.DataFrame) -> str | None:
    if "failed" not in results.columns:
        return None
    frame = with_labels(results)
    lost = [(str(s), str(lab), int(g["failed"].sum()))
            for s, lab, g in _by_two(frame, "scenario", "label")]
    lost = [item for item in lost if item[2] > 0]
    if not lost:
        return "No call failed in any run."
    listed = ", ".join(f"{s} {lab}: {v}" for s, lab, v in lost)
    return f"Failed calls (summed over repeats): {listed}."


def conclusions(
    results: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    expected: Sequence[str] = SCENARIOS,
) -> list[str]:
    """Sentences computed from the results: who wins where and by how much, what is missing."""
    if results is None or results.empty:
        return ["No benchmark results: run the benchmark notebook (or `report-lib bench`) first."]
    table = summarize(results)
    originals = _original_makespans(table)
    present = order(table["scenario"], SCENARIOS)
    out = [s for s in [_seed_sentence(table, metadata)] if s]
    for scenario in present:
        if scenario == ORIGINAL:
            continue
        for n, conc, group in _groups(table, scenario):
            out.append(_winner_sentence(scenario, n, conc, group, originals))
        scaling = _scaling_sentence(table, scenario)
        if scaling:
            out.append(scaling)
    for sentence in (_throttle_sentence(results), _resources_sentence(results),
                     _failures_sentence(results)):
        if sentence:
            out.append(sentence)
    scales = _scales(table)
    if any(v != 1 for v in scales.values()):
        listed = ", ".join(f"{s} {scales[s]:g}" for s in present)
        out.append(f"Latencies were scaled ({listed}); makespans are as measured at that scale.")
    missing = [s for s in expected if s not in present]
    if missing:
        out.append(f"Not in these results: {', '.join(missing)}; run the benchmark with "
                   f"scenarios {', '.join(missing)} to cover them.")
    return out
