"""The comparison report on a results table whose values are chosen here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from report_lib.bench import comparison, figures


def row(scenario: str, strategy: str, n: int, c: int, makespan: float, *, lb: float = 1.0,
        variant: str = "", start_method: str = "", repeat: int = 1, speedup: float = math.nan,
        cpu_ms: float = 1.0, rss: float = 100.0, quota: float = math.nan,
        sustained: float = math.nan, throttled: float = 0, retries: int = 0, failed: int = 0,
        time_scale: float = 1.0) -> dict[str, Any]:
    return {"scenario": scenario, "variant": variant, "strategy": strategy,
            "start_method": start_method, "n_jobs": n, "concurrency": c, "repeat": repeat,
            "makespan_s": makespan, "lower_bound_s": lb, "efficiency": lb / makespan,
            "speedup_vs_sequential": speedup, "cpu_s": cpu_ms * n / 1000,
            "cpu_ms_per_call": cpu_ms, "peak_rss_mb": rss, "throttled": throttled,
            "retries": retries, "failed": failed, "tokens": 1000 * n,
            "throughput_tpm": sustained, "sustained_tpm": sustained, "quota_tpm": quota,
            "time_scale": time_scale}


@pytest.fixture
def results() -> pd.DataFrame:
    rows = []
    for r, extra in enumerate((0.0, 0.0, 0.3)):  # three repeats: medians are the first value
        rows += [
            row("seed", "sequential", 3, 1, 6.0 + extra, lb=2.0, repeat=r, cpu_ms=3.0),
            row("seed", "thread", 3, 3, 2.0 + extra, lb=2.0, repeat=r),
            row("seed", "asyncio", 3, 3, 2.5 + extra, lb=2.0, repeat=r, cpu_ms=0.5),
        ]
    rows += [
        row("scale", "sequential", 10, 1, 10.0, cpu_ms=3.0),
        row("scale", "thread", 10, 10, 1.25),
        row("scale", "asyncio", 10, 10, 1.0, cpu_ms=0.5),
        row("scale", "thread", 100, 100, 2.0, speedup=50.0),
        row("scale", "asyncio", 100, 100, 1.25, speedup=80.0, cpu_ms=0.5),
        row("scale", "thread", 100, 10, 10.5, speedup=9.5),
        row("scale", "asyncio", 100, 10, 10.0, speedup=10.0, cpu_ms=0.5),
        row("original", "original", 3, 3, 2.2, lb=2.0, cpu_ms=40.0, rss=150.0),
        row("original", "original", 100, 3, 40.0, cpu_ms=40.0, rss=150.0),
        row("throttled", "thread", 30, 30, 120.0, variant="retries", quota=10_000,
            sustained=8_000, throttled=12, retries=12, failed=1),
        row("throttled", "thread", 30, 30, 100.0, variant="limiter", quota=10_000,
            sustained=9_500, cpu_ms=1.2),
    ]
    return pd.DataFrame(rows)


def test_conclusions_are_computed_from_the_values(results: pd.DataFrame) -> None:
    published = {"sequential_s": 6.01, "parallel_s": 2.01}
    expected = [
        # seed: medians 6.0 / 2.0 / 2.5 s; one call = lower bound 2.0 s
        f"The original published 6.01 s sequential vs 2.01 s parallel for 3 calls faked with "
        f"time.sleep(2) ({6.01 / 2:.2f}× and {2.01 / 2:.2f}× one call's latency); through the "
        "real client stack at time scale 1 (calls of 2.00 s) sequential took 6.00 s (3.00×) "
        "and thread 2.00 s (1.00×) median.",
        # 2.5 / 2.0 = 1.25; 6.0 / 2.0 = 3; original at N=3: 2.2 / 2.0 = 1.1
        "seed: at N=3 with concurrency 3, thread finished in 2.00 s median, 1.25× faster than "
        "asyncio, 3.00× faster than sequential and 1.10× faster than the original design.",
        # 2.0 / 1.25 = 1.6; estimated speedup 80; original at N=100: 40 / 1.25 = 32
        "scale: at N=100 with concurrency 100, asyncio finished in 1.25 s median, 1.60× faster "
        "than thread, ~80.0× faster than sequential (estimated: Σ latencies / makespan) and "
        "32.0× faster than the original design.",
        # 10.5 / 10 = 1.05; 40 / 10 = 4
        "scale: at N=100 with concurrency 10, asyncio finished in 10.00 s median, 1.05× faster "
        "than thread, ~10.0× faster than sequential (estimated: Σ latencies / makespan) and "
        "4.00× faster than the original design.",
        # efficiency = 1 / makespan: thread 1/1.25 → 1/2, asyncio 1/1 → 1/1.25
        "scale: from N=10 to N=100 at concurrency N, efficiency (lower bound / makespan) went "
        "thread 0.80 → 0.50; asyncio 1.00 → 0.80.",
        "throttled: at N=30 with concurrency 30, thread/limiter finished in 100 s median, "
        "1.20× faster than thread/retries.",
        "Under a quota of 10,000 tokens/min, thread/limiter reached sustained 9,500 tokens/min "
        "(95% of the quota) with 0 throttled responses, 0 retries and 0 failed calls.",
        "Client CPU per call (median over runs): lowest asyncio 0.50 ms, highest original "
        "40.00 ms; peak memory: lowest asyncio 100 MB, highest original 150 MB.",
        "Failed calls (summed over repeats): throttled thread/retries: 1.",
        "Not in these results: realistic; run the benchmark with scenarios realistic to cover "
        "them.",
    ]
    assert comparison.conclusions(results, {"published": published}) == expected


def test_conclusions_name_missing_scenarios_and_time_scale() -> None:
    seed_only = pd.DataFrame([
        row("seed", "sequential", 3, 1, 0.3, lb=0.1, time_scale=0.05),
        row("seed", "thread", 3, 3, 0.12, lb=0.1, time_scale=0.05),
    ])
    sentences = comparison.conclusions(seed_only)
    assert sentences[0].endswith("at time scale 0.05 (calls of 0.100 s) sequential took "
                                 "0.300 s (3.00×) and thread 0.120 s (1.20×) median.")
    assert "seed: at N=3 with concurrency 3, thread finished in 0.120 s median, 2.50× faster "\
           "than sequential." in sentences
    assert "Latencies were scaled (seed 0.05); makespans are as measured at that scale." \
        in sentences
    assert sentences[-1] == ("Not in these results: realistic, scale, throttled, original; run "
                             "the benchmark with scenarios realistic, scale, throttled, original "
                             "to cover them.")
    assert "No call failed in any run." in sentences


def test_a_tie_is_not_called_faster() -> None:
    tie = pd.DataFrame([row("seed", "thread", 3, 3, 2.0, lb=2.0),
                        row("seed", "asyncio", 3, 3, 2.008, lb=2.0)])  # 0.4 % apart
    assert ("seed: at N=3 with concurrency 3, thread finished in 2.00 s median, about as fast "
            "as asyncio (1.00×).") in comparison.conclusions(tie)


def test_conclusions_without_results() -> None:
    assert comparison.conclusions(pd.DataFrame()) == [
        "No benchmark results: run the benchmark notebook (or `report-lib bench`) first."]


@pytest.mark.parametrize(("value", "text"), [(0.0412, "0.041 s"), (1.07, "1.07 s"),
                                             (281.4, "281 s"), (1234.0, "1,234 s")])
def test_fmt_seconds(value: float, text: str) -> None:
    assert comparison.fmt_seconds(value) == text


@pytest.mark.parametrize(("value", "text"), [(1.02, "1.02×"), (28.46, "28.5×"), (281.0, "281×")])
def test_fmt_ratio(value: float, text: str) -> None:
    assert comparison.fmt_ratio(value) == text


def test_published_table(results: pd.DataFrame) -> None:
    table = comparison.published_table(results, {"published": {"sequential_s": 6.01,
                                                               "parallel_s": 2.01}})
    assert list(table["median_s"][:2]) == [6.01, 2.01]
    measured = table[table["source"] == "measured, seed scenario"].set_index("strategy")
    assert list(measured.index) == ["sequential", "thread", "asyncio"]
    assert measured.loc["thread", "per_latency"] == pytest.approx(2.0 / 2.0)
    assert measured.loc["sequential", "max_s"] == pytest.approx(6.3)
    original = table[table["source"] == "measured, original scenario"]
    assert list(original["median_s"]) == [2.2]


def test_makespan_chart_panels_and_points(results: pd.DataFrame) -> None:
    fig = figures.makespan_chart(results)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["seed: N=3, concurrency 3", "scale: N=100, concurrency 100",
                      "throttled: N=30, concurrency 30"]
    seed_ax = fig.axes[0]
    assert [t.get_text() for t in seed_ax.get_xticklabels()] == [
        "sequential", "thread", "asyncio", "original"]
    points = sum(len(c.get_offsets()) for c in seed_ax.collections)
    assert points == 3 * 3 + 1  # three repeats of three strategies, one original run
    scale_labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert scale_labels == ["thread", "asyncio", "original"]


def test_scaling_chart_lines(results: pd.DataFrame) -> None:
    fig = figures.scaling_chart(results)
    ax_speed, ax_eff = fig.axes[:2]
    assert ax_speed.get_xscale() == "log"
    labels = sorted(line.get_label() for line in ax_eff.get_lines()
                    if not line.get_label().startswith("_"))
    assert labels == ["asyncio, concurrency 10", "asyncio, concurrency N",
                      "thread, concurrency 10", "thread, concurrency N"]
    full = next(line for line in ax_eff.get_lines() if line.get_label() == "thread, concurrency N")
    assert list(full.get_xdata()) == [10, 100]
    assert list(full.get_ydata()) == pytest.approx([0.8, 0.5])


def test_scaling_and_throttle_charts_absent_without_data() -> None:
    seed_only = pd.DataFrame([row("seed", "thread", 3, 3, 2.0)])
    assert figures.scaling_chart(seed_only) is None
    assert figures.throttle_chart(seed_only) is None
    assert figures.gantt_chart([]) is None


def test_throttle_chart_shows_quota(results: pd.DataFrame) -> None:
    fig = figures.throttle_chart(results)
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [8_000, 9_500]
    quota_lines = [line for line in ax.get_lines() if "quota" in line.get_label()]
    assert [float(np.asarray(line.get_ydata())[0]) for line in quota_lines] == [10_000, 9_000]


def test_gantt_chart_one_bar_per_call() -> None:
    def run(strategy: str, starts: list[float], attempts: list[int],
            errors: list[str | None]) -> dict[str, Any]:
        return {"scenario": "seed", "variant": "", "strategy": strategy, "start_method": "",
                "n_jobs": len(starts), "concurrency": 3, "repeat": 1,
                "jobs": [{"key": f"k{i}", "start_s": s, "end_s": s + 2.0, "attempts": a,
                          "worker": "w", "error_type": e}
                         for i, (s, a, e) in enumerate(zip(starts, attempts, errors,
                                                           strict=True))]}

    timelines = [
        run("sequential", [0.0, 2.0, 4.0], [1, 1, 1], [None, None, None]),
        run("thread", [0.0, 0.0, 0.0], [1, 2, 1], [None, None, "ThrottlingException"]),
    ]
    fig = figures.gantt_chart(timelines)
    seq_ax, thread_ax = fig.axes
    assert [p.get_x() for p in seq_ax.patches] == [0.0, 2.0, 4.0]
    assert [p.get_width() for p in thread_ax.patches] == [2.0, 2.0, 2.0]
    colors = {tuple(p.get_facecolor()) for p in thread_ax.patches}
    assert len(colors) == 3  # ok, retried and failed calls drawn differently


def test_resources_chart_bars_per_strategy(results: pd.DataFrame) -> None:
    fig = figures.resources_chart(results)
    ax_cpu = fig.axes[0]
    names = [t.get_text() for t in ax_cpu.get_xticklabels()]
    assert names == ["sequential", "thread", "thread/limiter", "thread/retries", "asyncio",
                     "original"]
    heights = dict(zip(names, (p.get_height() for p in ax_cpu.patches), strict=True))
    assert heights["asyncio"] == 0.5 and heights["original"] == 40.0
