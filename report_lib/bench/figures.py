"""The comparison report's charts, drawn from benchmark results (see bench.comparison).

Every chart is a matplotlib Figure not attached to pyplot (safe in threads and notebooks), drawn
``CHART_WIDTH_IN`` wide with its panels stacked and its text readable on a 400 px screen
(render.charts.readable).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker as mticker
from matplotlib.figure import Figure

from report_lib.bench import against
from report_lib.bench.analysis import summarize, with_labels
from report_lib.bench.comparison import order, quota_table
from report_lib.bench.plan import (
    BENCH_STRATEGIES,
    ORIGINAL,
    SCENARIO_NAMES,
    SEQUENTIAL,
    THREE_REPORT_SCENARIOS,
)
from report_lib.bench.quota_report import without_quota
from report_lib.render.charts import CHART_WIDTH_IN, new_figure, readable, wrap

COLORS = {"sequential": "#7F7F7F", "thread": "#4C78A8", "process": "#F58518",
          "asyncio": "#54A24B", "dask": "#B279A2", "original": "#E45756"}


def _color(label: str) -> str:
    return COLORS.get(label.split("/")[0], "#333333")


def _rotation(n_labels: int) -> int:
    """How much a row of strategy names under bars is turned: upright past 6 names."""
    return 30 if n_labels <= 6 else 90


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
    frame = with_labels(without_quota(results))  # the quota scenario: bench.quota_report
    scenarios = [s for s in order(frame["scenario"], SCENARIO_NAMES) if s != ORIGINAL]
    scenarios = scenarios or [ORIGINAL]
    fig, axes = new_figure(CHART_WIDTH_IN, 0.8 + 3.6 * len(scenarios), nrows=len(scenarios))
    originals = frame[(frame["scenario"] == ORIGINAL)]
    rng = np.random.default_rng(0)
    for ax, scenario in zip(axes[:, 0], scenarios, strict=True):
        n, conc, rows = _panel_rows(frame, scenario)
        if scenario != ORIGINAL:
            scale = rows["time_scale"].iloc[0]
            rows = pd.concat([rows, originals[(originals["n_jobs"] == n)
                                              & (originals["time_scale"] == scale)]])
        labels = order(rows["label"], BENCH_STRATEGIES)
        data = [rows.loc[rows["label"] == lab, "makespan_s"].astype(float).to_numpy()
                for lab in labels]
        positions = np.arange(1, len(labels) + 1)
        ax.boxplot(data, positions=positions, widths=0.5, showfliers=False)
        for pos, lab, values in zip(positions, labels, data, strict=True):
            ax.scatter(pos + rng.uniform(-0.12, 0.12, len(values)), values, s=18,
                       color=_color(lab), zorder=3)
        turned = _rotation(len(labels))
        ax.set_xticks(positions, labels, rotation=turned, ha="right" if turned < 90 else "center")
        _value_axis(ax, np.concatenate(data), "makespan, s")
        ax.set_title(f"{scenario}: N={n}, concurrency {conc}")
    fig.suptitle(wrap("Makespan per strategy (box and points: spread over repeats)"))
    return readable(fig)


def scaling_chart(results: pd.DataFrame) -> Figure | None:
    """Speedup over sequential and efficiency against N (log x), a line per strategy: solid at
    concurrency N, dashed at a capped concurrency. None when no scenario has two N values."""
    table = summarize(without_quota(results))
    table = table[~table["strategy"].isin([SEQUENTIAL, ORIGINAL])]
    counts = table.groupby("scenario")["n_jobs"].nunique()
    candidates = [s for s in order(counts.index, ("scale", *SCENARIO_NAMES)) if counts[s] >= 2]
    if not candidates:
        return None
    scenario = candidates[0]
    rows = table[table["scenario"] == scenario]
    fig, axes = new_figure(CHART_WIDTH_IN, 8.5, nrows=2)
    ax_speed, ax_eff = axes[:, 0]
    speeds: list[np.ndarray] = []
    for label in order(rows["label"], BENCH_STRATEGIES):
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
    ax_speed.set_title(wrap(f"{scenario}: speedup (estimated as Σ latencies / makespan "
                            "where sequential did not run)"))
    ax_eff.axhline(1.0, color="#999999", linewidth=0.8)
    ax_eff.set_ylim(0, 1.1)
    ax_eff.set_ylabel("efficiency")
    ax_eff.set_title(f"{scenario}: efficiency = lower bound / makespan")
    fig.legend(*ax_eff.get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return readable(fig)


def pick_timeline_runs(
    timelines: list[dict[str, Any]], scenario: str | None = None, n_jobs: int | None = None
) -> list[dict[str, Any]]:
    """One recorded run per strategy label for a scenario and N (largest concurrency, first
    repeat). Defaults: the first scenario present (``seed`` first) and its largest N ≤ 100."""
    if not timelines:
        return []
    scenario = scenario or order((t["scenario"] for t in timelines), SCENARIO_NAMES)[0]
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
    return [chosen[label] for label in order(chosen, BENCH_STRATEGIES)]


def gantt_chart(
    timelines: list[dict[str, Any]], scenario: str | None = None, n_jobs: int | None = None
) -> Figure | None:
    """Every call as a bar from its start to its end, one panel per strategy on a shared time
    axis (red: failed, orange: retried). None without timelines."""
    runs = pick_timeline_runs(timelines, scenario, n_jobs)
    if not runs:
        return None
    n = int(runs[0]["n_jobs"])
    fig, axes = new_figure(CHART_WIDTH_IN, 1.2 + len(runs) * (0.8 + 0.015 * min(n, 100)),
                           nrows=len(runs), sharex=True)
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
        ax.set_ylabel(f"{label}\nc={run['concurrency']}", rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("seconds since the run's start")
    fig.suptitle(wrap(f"Calls over time: {runs[0]['scenario']}, N={n} (a bar per call; red: "
                      "failed, orange: retried)"))
    return readable(fig)


def resources_chart(results: pd.DataFrame) -> Figure:
    """Client CPU per call and peak memory per strategy (medians over every run)."""
    frame = with_labels(without_quota(results))
    labels = order(frame["label"], BENCH_STRATEGIES)
    per = frame.groupby("label").median(numeric_only=True).reindex(labels)
    fig, axes = new_figure(CHART_WIDTH_IN, 8.0, nrows=2)
    ax_cpu, ax_mem = axes[:, 0]
    colors = [_color(lab) for lab in labels]
    if "cpu_ms_per_call" in per.columns:
        bars = ax_cpu.bar(labels, per["cpu_ms_per_call"], color=colors)
        ax_cpu.bar_label(bars, fmt="%.2f")
    ax_cpu.set_ylabel("client CPU per call, ms")
    ax_cpu.set_title("CPU per call (median over runs)")
    if "peak_rss_mb" in per.columns:
        bars = ax_mem.bar(labels, per["peak_rss_mb"], color=colors)
        ax_mem.bar_label(bars, fmt="%.0f")
    ax_mem.set_ylabel("peak RSS, MB")
    ax_mem.set_title("Peak memory of the client (median over runs)")
    for ax in (ax_cpu, ax_mem):
        ax.tick_params(axis="x", labelrotation=_rotation(len(labels)))
        ax.margins(y=0.15)
    return readable(fig)


def throttle_chart(results: pd.DataFrame) -> Figure | None:
    """Throughput (tokens/min, sustained after the initial burst when recorded) per case, each
    bar with its own quota (dashed) and 90 % of it (dotted); None when no run had a quota."""
    table, column = quota_table(results)
    if table.empty:
        return None
    names = [f"{lab}\nN={n}, c={c}" for lab, n, c in
             zip(table["label"], table["n_jobs"], table["concurrency"], strict=True)]
    fig, axes = new_figure(CHART_WIDTH_IN, 1.8 + 1.0 * len(table))
    ax = axes[0, 0]
    y = np.arange(len(table))
    ax.barh(y, table[column], height=0.6, color=[_color(lab) for lab in table["label"]])
    quotas = table["quota_tpm"].astype(float).to_numpy()
    ax.vlines(quotas, y - 0.4, y + 0.4, colors="#E45756", linestyles="--",
              label="its quota, tokens/min")
    ax.vlines(0.9 * quotas, y - 0.4, y + 0.4, colors="#E45756", linestyles=":",
              label="90 % of its quota")
    for at, v, q, t in zip(y, table[column], quotas, table["throttled"], strict=True):
        ax.annotate(f"{v / q:.0%} of {q:,.0f}\n{t:.0f} thr./run", (max(v, q), at),
                    xytext=(6, 0), textcoords="offset points", va="center")  # past the quota
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, float(max(quotas.max(), table[column].max())) * 1.6)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(4))
    ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(f"tokens per minute ({column.removesuffix('_tpm')}), from 0")
    ax.set_title(wrap("Throughput under each case's token quota (thr. = throttled responses)"))
    fig.legend(loc="outside lower center", ncols=2)
    return readable(fig)


def peers_chart(results: pd.DataFrame) -> Figure | None:
    """Ours / the best peer per situation of the peers scenario: a bar at the ratio of the
    median makespans, a line over its range across repeats, the parity line at 1 (left of it:
    ours faster). Green where ours holds (faster or equivalent), red where a peer wins. None
    without a situation where both sides delivered every report."""
    rows = []
    for sit in against.situations(results):
        ours, peer = sit.best_ours, sit.best_peer
        if ours is not None and peer is not None:
            rows.append((sit, ours, peer, *against.ratio_range(ours, peer)))
    if not rows:
        return None
    fig, axes = new_figure(CHART_WIDTH_IN, 1.8 + 0.9 * len(rows))
    ax = axes[0, 0]
    y = np.arange(len(rows))
    ratios = np.array([r[3] for r in rows])
    colors = ["#E45756" if against.peer_wins(r[0]) else "#54A24B" for r in rows]
    ax.barh(y, ratios, height=0.6, color=colors)
    ax.hlines(y, [r[4] for r in rows], [r[5] for r in rows], colors="#333333", linewidth=2)
    ax.axvline(1.0, color="#333333", linestyle="--", linewidth=1)
    for at, (_, ours, peer, ratio, _low, high) in zip(y, rows, strict=True):  # past the parity
        ax.annotate(f"{ratio:.2f}× {ours['strategy']} / {peer['strategy']}", (max(high, 1.0), at),
                    xytext=(6, 0), textcoords="offset points", va="center")
    ax.set_yticks(y, [wrap(r[0].name, 22) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, float(max(max(r[5] for r in rows), 1.0)) * 2.0)
    ax.set_xlabel("our best / the best peer, median makespan (left of 1: ours faster)")
    ax.set_title(wrap("Against what you'd use instead: ours / the best peer (line: range over "
                      "repeats; red: a peer wins)"))
    return readable(fig)
