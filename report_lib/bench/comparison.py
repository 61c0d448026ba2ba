"""The comparison report: figures, tables and sentences computed from benchmark results.

Input is what ``bench.load_results(out_dir)`` returns: the results DataFrame (one row per
scenario, variant, strategy, start method, n_jobs, concurrency and repeat), the per-job
timelines and the metadata. Every number in the conclusions comes from those rows; a scenario
that was not run is named as missing, never described.

A strategy is shown with its variant and start method when it has them (``process/spawn``,
``thread/limiter``). The ``original`` strategy is the original design (a new client per task,
``ThreadPoolExecutor(3)``): it is a baseline, never a winner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker as mticker
from matplotlib.figure import Figure

from report_lib.reports.charts import setup_fonts

SCENARIO_ORDER: tuple[str, ...] = ("seed", "realistic", "scale", "throttled", "original")
STRATEGY_ORDER: tuple[str, ...] = ("sequential", "thread", "process", "asyncio", "dask",
                                   "original")
PUBLISHED = {"sequential_s": 6.01, "parallel_s": 2.01}  # the original's time.sleep(2) claim
ORIGINAL, SEQUENTIAL = "original", "sequential"
THREE_REPORT_SCENARIOS = ("seed", "realistic")  # described at N=3, the original experiment
COLORS = {"sequential": "#7F7F7F", "thread": "#4C78A8", "process": "#F58518",
          "asyncio": "#54A24B", "dask": "#B279A2", "original": "#E45756"}
KEYS = ["scenario", "label", "strategy", "n_jobs", "concurrency", "time_scale"]


# ---------------------------------------------------------------- formatting and ordering
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


def _order(values: Iterable[Any], order: Sequence[str]) -> list[str]:
    """Distinct values, known ones in ``order`` (by their base name), the rest sorted."""
    values = list(dict.fromkeys(str(v) for v in values))
    rank = {name: i for i, name in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v.split("/")[0], len(order)), v))


def _color(label: str) -> str:
    return COLORS.get(label.split("/")[0], "#333333")


def label_rows(results: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``label`` = strategy[/variant][/start method] and the optional columns."""
    frame = results.copy()
    for col in ("variant", "start_method"):
        if col not in frame.columns:
            frame[col] = ""
        frame[col] = frame[col].fillna("").astype(str)
    if "time_scale" not in frame.columns:
        frame["time_scale"] = 1.0
    if "cpu_ms_per_call" not in frame.columns and "cpu_s" in frame.columns:
        frame["cpu_ms_per_call"] = frame["cpu_s"] * 1000 / frame["n_jobs"]
    frame["label"] = [
        "/".join(part for part in (str(s), v, m) if part)
        for s, v, m in zip(frame["strategy"], frame["variant"], frame["start_method"],
                           strict=True)
    ]
    return frame


def medians(results: pd.DataFrame) -> pd.DataFrame:
    """Median (and spread) per scenario, label, n_jobs, concurrency and time scale."""
    frame = label_rows(results)
    agg: dict[str, tuple[str, Any]] = {
        "runs": ("makespan_s", "size"),
        "makespan_s": ("makespan_s", "median"),
        "makespan_min_s": ("makespan_s", "min"),
        "makespan_max_s": ("makespan_s", "max"),
    }
    for col in ("lower_bound_s", "efficiency", "speedup_vs_sequential", "cpu_ms_per_call",
                "peak_rss_mb", "throughput_tpm", "sustained_tpm", "quota_tpm"):
        if col in frame.columns:
            agg[col] = (col, "median")
    for col in ("throttled", "retries", "failed"):
        if col in frame.columns:
            agg[col] = (col, "sum")
    return frame.groupby(KEYS, as_index=False, sort=False, dropna=False).agg(**agg)


def _scales(table: pd.DataFrame) -> dict[str, float]:
    return {str(s): float(g["time_scale"].iloc[0]) for s, g in table.groupby("scenario")}


def _original_makespans(table: pd.DataFrame) -> dict[tuple[int, float], float]:
    """Median makespan of the original design per (N, time scale), from any scenario."""
    rows = table[table["strategy"] == ORIGINAL]
    return {(int(n), float(ts)): float(g["makespan_s"].min())
            for (n, ts), g in rows.groupby(["n_jobs", "time_scale"])}


# ---------------------------------------------------------------- tables
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
    table = medians(results)
    three = table[(table["n_jobs"] == 3) & ((table["scenario"] == "seed")
                                            | (table["strategy"] == ORIGINAL))]
    for scenario in _order(three["scenario"], SCENARIO_ORDER):
        part = three[three["scenario"] == scenario]
        for label in _order(part["label"], STRATEGY_ORDER):
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


# ---------------------------------------------------------------- figures
def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1,
            **kw: Any) -> tuple[Figure, np.ndarray]:
    setup_fonts()
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kw)


def _value_axis(ax: Any, values: np.ndarray, name: str) -> None:
    """Log scale (plain numbers) when values span more than 20×, else linear from 0."""
    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    if positive.size and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:g}"))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_ylabel(f"{name} (log)")
    else:
        ax.set_ylim(0, (positive.max() if positive.size else 1.0) * 1.15)
        ax.set_ylabel(name)


def _panel_rows(frame: pd.DataFrame, scenario: str) -> tuple[int, int, pd.DataFrame]:
    """(N, concurrency, rows) a scenario is shown at: N=3 for the 3-report scenarios, else the
    largest N; the largest concurrency; baselines (sequential, original) at any concurrency."""
    rows = frame[frame["scenario"] == scenario]
    sizes = set(rows["n_jobs"].astype(int))
    n = 3 if scenario in THREE_REPORT_SCENARIOS and 3 in sizes else max(sizes)
    rows = rows[rows["n_jobs"] == n]
    parallel = rows[~rows["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    conc = int(parallel["concurrency"].max()) if len(parallel) else int(rows["concurrency"].max())
    keep = (rows["concurrency"] == conc) | rows["strategy"].isin([SEQUENTIAL, ORIGINAL])
    return n, conc, rows[keep]


def makespan_chart(results: pd.DataFrame) -> Figure:
    """Makespan per strategy with its spread over repeats (box + points), one panel per
    scenario; the original design's rows of the same N and time scale are drawn beside."""
    frame = label_rows(results)
    scenarios = [s for s in _order(frame["scenario"], SCENARIO_ORDER) if s != ORIGINAL]
    scenarios = scenarios or [ORIGINAL]
    fig, axes = _figure(max(4.5, 4.2 * len(scenarios)), 4.4, ncols=len(scenarios))
    originals = frame[(frame["scenario"] == ORIGINAL)]
    rng = np.random.default_rng(0)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        n, conc, rows = _panel_rows(frame, scenario)
        if scenario != ORIGINAL:
            scale = rows["time_scale"].iloc[0]
            rows = pd.concat([rows, originals[(originals["n_jobs"] == n)
                                              & (originals["time_scale"] == scale)]])
        labels = _order(rows["label"], STRATEGY_ORDER)
        data = [rows.loc[rows["label"] == lab, "makespan_s"].astype(float).to_numpy()
                for lab in labels]
        positions = np.arange(1, len(labels) + 1)
        ax.boxplot(data, positions=positions, widths=0.5, showfliers=False)
        for pos, lab, values in zip(positions, labels, data, strict=True):
            ax.scatter(pos + rng.uniform(-0.12, 0.12, len(values)), values, s=18,
                       color=_color(lab), zorder=3)
        ax.set_xticks(positions, labels, rotation=30, ha="right")
        _value_axis(ax, np.concatenate(data), "makespan, s")
        ax.set_title(f"{scenario}: N={n}, concurrency {conc}", fontsize=10)
    fig.suptitle("Makespan per strategy (box and points: spread over repeats)")
    return fig


def scaling_chart(results: pd.DataFrame) -> Figure | None:
    """Speedup over sequential and efficiency against N (log x), a line per strategy: solid at
    concurrency N, dashed at a capped concurrency. None when no scenario has two N values."""
    table = medians(results)
    table = table[~table["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    counts = table.groupby("scenario")["n_jobs"].nunique()
    candidates = [s for s in _order(counts.index, ("scale", *SCENARIO_ORDER)) if counts[s] >= 2]
    if not candidates:
        return None
    scenario = candidates[0]
    rows = table[table["scenario"] == scenario]
    fig, axes = _figure(11.5, 4.4, ncols=2)
    ax_speed, ax_eff = axes[0]
    speeds: list[np.ndarray] = []
    for label in _order(rows["label"], STRATEGY_ORDER):
        mine = rows[rows["label"] == label]
        full = mine[mine["concurrency"] >= mine["n_jobs"]].sort_values("n_jobs")
        series = [("-", full, f"{label}, concurrency N")]
        capped = mine[mine["concurrency"] < mine["n_jobs"]]
        for conc, group in capped.groupby("concurrency"):
            series.append(("--", group.sort_values("n_jobs"), f"{label}, concurrency {conc}"))
        for style, part, name in series:
            if part.empty:
                continue
            kw = {"linestyle": style, "marker": "o", "color": _color(label), "label": name}
            if "speedup_vs_sequential" in part.columns:
                ax_speed.plot(part["n_jobs"], part["speedup_vs_sequential"], **kw)
                speeds.append(part["speedup_vs_sequential"].to_numpy(dtype=float))
            if "efficiency" in part.columns:
                ax_eff.plot(part["n_jobs"], part["efficiency"], **kw)
    for ax in (ax_speed, ax_eff):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:g}"))
        ax.set_xlabel("N calls (log)")
        ax.grid(True, which="both", alpha=0.3)
    _value_axis(ax_speed, np.concatenate(speeds) if speeds else np.array([]),
                "speedup vs sequential")
    ax_speed.set_title(f"{scenario}: speedup (estimated as Σ latencies / makespan "
                       "where sequential did not run)", fontsize=9)
    ax_eff.axhline(1.0, color="#999999", linewidth=0.8)
    ax_eff.set_ylim(0, 1.1)
    ax_eff.set_ylabel("efficiency = lower bound / makespan")
    ax_eff.set_title(f"{scenario}: efficiency", fontsize=10)
    fig.legend(*ax_eff.get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    return fig


def pick_timeline_runs(
    timelines: list[dict[str, Any]], scenario: str | None = None, n_jobs: int | None = None
) -> list[dict[str, Any]]:
    """One recorded run per strategy label for a scenario and N (largest concurrency, first
    repeat). Defaults: the first scenario present (``seed`` first) and its largest N ≤ 100."""
    if not timelines:
        return []
    scenario = scenario or _order((t["scenario"] for t in timelines), SCENARIO_ORDER)[0]
    runs = [t for t in timelines if t["scenario"] == scenario]
    if not runs:
        return []
    if n_jobs is None:
        sizes = sorted({int(t["n_jobs"]) for t in runs})
        n_jobs = max([n for n in sizes if n <= 100] or sizes[:1])
    chosen: dict[str, dict[str, Any]] = {}
    ordered = sorted((t for t in runs if int(t["n_jobs"]) == n_jobs),
                     key=lambda t: (-int(t["concurrency"]), int(t.get("repeat", 0))))
    for run in ordered:
        label = "/".join(str(p) for p in (run["strategy"], run.get("variant"),
                                          run.get("start_method")) if p)
        chosen.setdefault(label, run)
    return [chosen[label] for label in _order(chosen, STRATEGY_ORDER)]


def gantt_chart(
    timelines: list[dict[str, Any]], scenario: str | None = None, n_jobs: int | None = None
) -> Figure | None:
    """Every call as a bar from its start to its end, one panel per strategy on a shared time
    axis (red: failed, orange: retried). None without timelines."""
    runs = pick_timeline_runs(timelines, scenario, n_jobs)
    if not runs:
        return None
    n = int(runs[0]["n_jobs"])
    fig, axes = _figure(10, 0.8 + len(runs) * (0.7 + 0.015 * min(n, 100)), nrows=len(runs),
                        sharex=True)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        jobs = sorted(run["jobs"], key=lambda j: float(j["start_s"]))
        label = "/".join(str(p) for p in (run["strategy"], run.get("variant"),
                                          run.get("start_method")) if p)
        colors = ["#E45756" if j.get("error_type") else
                  "#F58518" if int(j.get("attempts") or 1) > 1 else _color(label) for j in jobs]
        ax.barh(range(len(jobs)), [max(float(j["end_s"]) - float(j["start_s"]), 0.0)
                                   for j in jobs],
                left=[float(j["start_s"]) for j in jobs], color=colors, height=0.8)
        ax.set_yticks([])
        ax.invert_yaxis()
        ax.set_ylabel(f"{label}\nc={run['concurrency']}", rotation=0, ha="right", va="center",
                      fontsize=9)
    axes[-1, 0].set_xlabel("seconds since the run's start")
    fig.suptitle(f"Calls over time: {runs[0]['scenario']}, N={n} (a bar per call; red: failed, "
                 "orange: retried)", fontsize=10)
    return fig


def resources_chart(results: pd.DataFrame) -> Figure:
    """Client CPU per call and peak memory per strategy (medians over every run)."""
    frame = label_rows(results)
    labels = _order(frame["label"], STRATEGY_ORDER)
    per = frame.groupby("label").median(numeric_only=True).reindex(labels)
    fig, axes = _figure(11.5, 4.0, ncols=2)
    ax_cpu, ax_mem = axes[0]
    colors = [_color(lab) for lab in labels]
    if "cpu_ms_per_call" in per.columns:
        bars = ax_cpu.bar(labels, per["cpu_ms_per_call"], color=colors)
        ax_cpu.bar_label(bars, fmt="%.2f", fontsize=8)
    ax_cpu.set_ylabel("client CPU per call, ms")
    ax_cpu.set_title("CPU per call (median over runs)", fontsize=10)
    if "peak_rss_mb" in per.columns:
        bars = ax_mem.bar(labels, per["peak_rss_mb"], color=colors)
        ax_mem.bar_label(bars, fmt="%.0f", fontsize=8)
    ax_mem.set_ylabel("peak RSS, MB")
    ax_mem.set_title("Peak memory of the client (median over runs)", fontsize=10)
    for ax in (ax_cpu, ax_mem):
        ax.tick_params(axis="x", labelrotation=30)
    return fig


def _quota_table(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-label medians of the quota-bound rows and the throughput column to use."""
    if "quota_tpm" not in results.columns:
        return results.iloc[0:0], ""
    rows = results[pd.to_numeric(results["quota_tpm"], errors="coerce") > 0]
    column = next((c for c in ("sustained_tpm", "throughput_tpm")
                   if c in rows.columns and rows[c].notna().any()), "")
    if rows.empty or not column:
        return results.iloc[0:0], ""
    return medians(rows), column


def throttle_chart(results: pd.DataFrame) -> Figure | None:
    """Throughput (tokens/min, sustained after the initial burst when recorded) per strategy
    against the token quota; None when no run had a quota."""
    table, column = _quota_table(results)
    if table.empty:
        return None
    names = [f"{lab}\nN={n}, c={c}" for lab, n, c in
             zip(table["label"], table["n_jobs"], table["concurrency"], strict=True)]
    fig, axes = _figure(max(7.0, 1.4 * len(table)), 4.4)
    ax = axes[0, 0]
    bars = ax.bar(names, table[column], color=[_color(lab) for lab in table["label"]])
    throttled = table["throttled"] if "throttled" in table.columns else [0] * len(table)
    ax.bar_label(bars, labels=[f"{v:,.0f}\n{int(t)} thr." for v, t in
                               zip(table[column], throttled, strict=True)], fontsize=7)
    quota = float(table["quota_tpm"].max())
    ax.axhline(quota, color="#E45756", linestyle="--", label=f"quota {quota:,.0f} tokens/min")
    ax.axhline(0.9 * quota, color="#E45756", linestyle=":", label="90% of the quota")
    ax.set_ylabel(f"tokens per minute ({column.removesuffix('_tpm')})")
    ax.set_title("Throughput under the token quota (thr. = throttled responses)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.margins(y=0.18)
    return fig


# ---------------------------------------------------------------- conclusions
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
    return [(n, int(conc), pd.concat([part, base]))
            for conc, part in sorted(parallel.groupby("concurrency"), key=lambda kv: -kv[0])]


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
    for label in _order(rows["label"], STRATEGY_ORDER):
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
    table, column = _quota_table(results)
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
    frame = label_rows(results)
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
    frame = label_rows(results)
    failed = frame.groupby(["scenario", "label"], sort=False)["failed"].sum()
    failed = failed[failed > 0]
    if failed.empty:
        return "No call failed in any run."
    listed = ", ".join(f"{s} {lab}: {int(v)}" for (s, lab), v in failed.items())
    return f"Failed calls (summed over repeats): {listed}."


def conclusions(
    results: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    expected: Sequence[str] = SCENARIO_ORDER,
) -> list[str]:
    """Sentences computed from the results: who wins where and by how much, what is missing."""
    if results is None or results.empty:
        return ["No benchmark results: run the benchmark notebook (or `report-lib bench`) first."]
    table = medians(results)
    originals = _original_makespans(table)
    present = _order(table["scenario"], SCENARIO_ORDER)
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
