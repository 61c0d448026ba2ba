"""The comparison report on a results table whose values are chosen here."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from report_lib.bench import comparison, figures, recommend
from report_lib.bench.analysis import check_targets, summarize
from report_lib.bench.summary import format_summary, report_markdown
from report_lib.pipeline.page import tidy
from report_lib.render.sanitize import render_markdown_safe, sanitize_output_html
from tests.helpers import column_sides, smallest_text_px


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
            "time_scale": time_scale, "requests": n + throttled, "sum_latency_s": lb * n,
            "pool_full_warnings": 0}


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
        # speed 2.5 / 2.0 = 1.25; 6 / 2 = 3; original 2.2 s is 0.2 s away, within thread's
        # spread over repeats (2.0 .. 2.3 s)
        "seed: at N=3 with concurrency 3, thread finished in 2.00 s median, 25 % faster than "
        "asyncio (2.50 s), 3.0× as fast as sequential (6.00 s) and equivalent to the original "
        "design (2.20 s, within the measured spread).",
        "scale: at N=10 with concurrency 10, asyncio finished in 1.00 s median, 25 % faster "
        "than thread (1.25 s) and 10.0× as fast as sequential (10.00 s).",
        # 2.0 / 1.25 = 1.6; original at N=100: 40 / 1.25 = 32
        "scale: at N=100 with concurrency 100, asyncio finished in 1.25 s median, 60 % faster "
        "than thread (2.00 s) and 32.0× as fast as the original design (40.00 s).",
        "scale: at N=100 with concurrency 10, asyncio finished in 10.00 s median, 5 % faster "
        "than thread (10.50 s) and 4.0× as fast as the original design (40.00 s).",
        # efficiency = 1 / makespan: thread 1/1.25 → 1/2, asyncio 1/1 → 1/1.25
        "scale: from N=10 to N=100 at concurrency N, efficiency (lower bound / makespan) went "
        "thread 0.80 → 0.50; asyncio 1.00 → 0.80.",
        # retries lost a report: never ranked, whatever its makespan
        "throttled: at N=30 with concurrency 30, thread/limiter finished in 100 s median; "
        "thread/retries lost 1 report and is not ranked.",
        "Under a quota of 10,000 tokens/min, thread/retries (N=30) sustained 8,000 tokens/min "
        "(80% of its quota) in 120 s; per run 12 of 42 requests throttled, 1 report lost over "
        "1 run.",
        "Under a quota of 10,000 tokens/min, thread/limiter (N=30) sustained 9,500 tokens/min "
        "(95% of its quota) in 100 s; per run 0 of 30 requests throttled, 0 reports lost over "
        "1 run.",
        "Client CPU per call (median over runs): lowest asyncio 0.50 ms, highest original "
        "40.00 ms; peak memory: lowest asyncio 100 MB, highest original 150 MB.",
        "Failed reports (summed over runs): throttled thread/retries N=30: 1 of 30.",
        "Not in these results: realistic, peers, quota; run the benchmark with scenarios "
        "realistic, peers, quota to cover them.",
    ]
    assert comparison.conclusions(results, {"published": published}) == expected


def test_conclusions_name_missing_scenarios_and_time_scale() -> None:
    seed_only = pd.DataFrame([
        row("seed", "sequential", 3, 1, 0.3, lb=0.1, time_scale=0.05),
        row("seed", "thread", 3, 3, 0.12, lb=0.1, time_scale=0.05),
    ])
    assert comparison.conclusions(seed_only) == [
        "The original published 6.01 s sequential vs 2.01 s parallel for 3 calls faked with "
        "time.sleep(2) (3.00× and 1.00× one call's latency); through the real client stack at "
        "time scale 0.05 (calls of 0.100 s) sequential took 0.300 s (3.00×) and thread 0.120 s "
        "(1.20×) median.",
        "seed: at N=3 with concurrency 3, thread finished in 0.120 s median, 2.5× as fast as "
        "sequential (0.300 s).",
        "Client CPU per call (median over runs): 1.00 ms for every strategy; peak memory: "
        "100 MB for every strategy.",
        "No report failed in any run.",
        "Time was compressed in seed ×0.05 (latencies; calls of 0.100 s); figures are as "
        "measured at that scale.",
        "Not in these results: realistic, scale, throttled, original, peers, quota; run the "
        "benchmark with scenarios realistic, scale, throttled, original, peers, quota to cover "
        "them.",
    ]


def test_a_tie_is_called_equivalent() -> None:
    tie = pd.DataFrame([row("seed", "thread", 3, 3, 2.0, lb=2.0),
                        row("seed", "asyncio", 3, 3, 2.008, lb=2.0)])  # 0.4 % apart
    assert ("seed: at N=3 with concurrency 3, thread finished in 2.00 s median, equivalent to "
            "asyncio (2.01 s, within the measured spread).") in comparison.conclusions(tie)


@pytest.mark.parametrize(("t", "other", "text"), [
    (2.0, 2.28, "14 % faster than"), (2.28, 2.0, "12 % slower than"),
    (1.0, 3.0, "3.0× as fast as"), (3.0, 1.0, "takes 3.0× as long as"),
])
def test_speed_phrase_is_plain(t: float, other: float, text: str) -> None:
    assert comparison.speed_phrase(t, other) == text


def test_a_run_that_lost_reports_never_wins_nor_meets_an_unquoted_baseline() -> None:
    # The old page ranked asyncio/retries "1.33× faster" while 59 of its 100 reports failed,
    # and compared it with an original design that never ran under a quota.
    rows = pd.DataFrame([
        row("throttled", "asyncio", 100, 100, 7.5, variant="retries", quota=40_000,
            sustained=30_000, throttled=150, failed=59),
        row("throttled", "asyncio", 100, 100, 10.0, variant="limiter", quota=40_000,
            sustained=38_000),
        row("original", "original", 100, 3, 40.0),
    ])
    assert comparison.conclusions(rows)[0] == (
        "throttled: at N=100 with concurrency 100, asyncio/limiter finished in 10.00 s median; "
        "asyncio/retries lost 59 reports and is not ranked.")
    lost_only = rows[rows["variant"] != "limiter"]
    assert comparison.conclusions(lost_only)[0] == (
        "throttled: at N=100 with concurrency 100, no strategy delivered every report "
        "(asyncio/retries lost 59 reports and is not ranked).")


def test_efficiency_is_not_concluded_when_the_client_cpu_rivals_the_latency() -> None:
    # Calls compressed to 50 ms while the client spends 2 ms of CPU per call (4 %) at N=3 and
    # 5 ms (10 %) at N=100: the second efficiency is the client's, not the strategy's.
    rows = pd.DataFrame([
        row("scale", "thread", 3, 3, 0.06, lb=0.05, cpu_ms=2.0, time_scale=0.05),
        row("scale", "thread", 100, 100, 0.28, lb=0.05, cpu_ms=5.0, time_scale=0.05),
        row("scale", "asyncio", 3, 3, 0.055, lb=0.05, cpu_ms=1.0, time_scale=0.05),
        row("scale", "asyncio", 100, 100, 0.10, lb=0.05, cpu_ms=2.0, time_scale=0.05),
    ])
    assert comparison.scaling_sentence(summarize(rows), "scale") == (
        "scale: from N=3 to N=100 at concurrency N, efficiency (lower bound / makespan) went "
        "asyncio 0.91 → 0.50. scale: no efficiency conclusion for thread (client CPU per call "
        "10% of the 0.050 s call at N=100): above 5% the client's own work, not the strategy, "
        "sets it.")
    eff = {c.strategy: c for c in check_targets(rows) if c.target.startswith("efficiency")}
    assert eff["thread"].passed is None and eff["asyncio"].passed is False


def test_throttled_targets_keep_each_case_with_its_own_quota() -> None:
    # The old page mixed N=3's quota with N=30's throughput ("13,319 of 4,218") and passed a
    # limiter on a ratio of 3.14.
    rows = pd.DataFrame([
        row("throttled", "thread", 3, 3, 1.0, variant="limiter", quota=4_218, sustained=4_000),
        row("throttled", "thread", 30, 30, 9.0, variant="limiter", quota=13_919,
            sustained=13_319),
    ])
    checks = [(c.strategy, round(c.measured, 4), c.passed, c.detail)
              for c in check_targets(rows)]
    assert checks == [
        ("thread/limiter N=3 c=3", round(4_000 / 4_218, 4), True,
         "sustained 4,000 of 4,218 tokens/min; 0 failed reports in 1 run; per run 0 of 3 "
         "requests throttled, 0 retries"),
        ("thread/limiter N=30 c=30", round(13_319 / 13_919, 4), True,
         "sustained 13,319 of 13,919 tokens/min; 0 failed reports in 1 run; per run 0 of 30 "
         "requests throttled, 0 retries"),
    ]


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


def test_throttle_chart_draws_each_case_with_its_own_quota() -> None:
    rows = pd.DataFrame([
        row("throttled", "thread", 3, 3, 1.0, variant="limiter", quota=4_218, sustained=4_000),
        row("throttled", "thread", 30, 30, 9.0, variant="limiter", quota=13_919,
            sustained=13_319),
    ])
    ax = figures.throttle_chart(rows).axes[0]
    assert [p.get_width() for p in ax.patches] == [4_000, 13_319]
    quota, ninety = ax.collections[:2]
    assert [float(seg[0][0]) for seg in quota.get_segments()] == [4_218, 13_919]
    assert [float(seg[0][0]) for seg in ninety.get_segments()] == pytest.approx(
        [0.9 * 4_218, 0.9 * 13_919])
    assert ax.get_xlim()[0] == 0
    assert [t.get_text() for t in ax.texts] == [
        f"{4_000 / 4_218:.0%} of 4,218\n0 thr./run", f"{13_319 / 13_919:.0%} of 13,919\n0 thr./run"]


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


def test_which_to_use_ranks_only_what_lost_nothing_and_calls_close_ones_equivalent() -> None:
    rows = pd.DataFrame([
        # 3 reports: thread 2.008 vs asyncio 2.010 s is within 1 %: equivalent
        row("seed", "thread", 3, 3, 2.008, lb=2.0), row("seed", "asyncio", 3, 3, 2.010, lb=2.0),
        # hundreds: asyncio 1.20 s vs thread 1.50 s: 25 % faster
        row("scale", "thread", 300, 300, 1.5), row("scale", "asyncio", 300, 300, 1.2),
        row("scale", "dask", 300, 300, 2.4),
        # under a quota: retries is fastest but lost reports, so the limiter is used
        row("throttled", "thread", 30, 30, 5.0, variant="retries", quota=9_000,
            sustained=7_000, failed=12),
        row("throttled", "thread", 30, 30, 10.0, variant="limiter", quota=9_000,
            sustained=8_900),
        row("throttled", "thread", 30, 30, 11.0, variant="auto", quota=9_000, sustained=8_200),
    ])
    table = recommend.which_to_use(rows).set_index("situation")
    assert table.loc["3 reports", "use"] == "thread"
    assert table.loc["3 reports", "margin"] == "equivalent (within the measured spread)"
    assert table.loc["tens of reports", "measured at"] == "not in these results"
    assert list(table.loc["hundreds of reports", ["use", "median", "runner-up", "margin"]]) == [
        "asyncio", "1.20 s", "thread (1.50 s)", "25 % faster"]
    assert list(table.loc["under a token quota", ["use", "runner-up", "margin", "note"]]) == [
        "thread/limiter", "thread/auto (11.00 s)", "10 % faster",
        "only clients that delivered every report are ranked; thread/retries lost 12"]
    assert list(table.loc["across machines", ["use", "runner-up", "margin"]]) == [
        "dask", "asyncio (1.20 s)", "takes 2.0× as long"]


def test_claims_are_judged_by_this_runs_numbers() -> None:
    rows = pd.DataFrame([
        row("scale", "thread", 30, 30, 1.10), row("scale", "asyncio", 30, 30, 1.05),
        row("scale", "process", 30, 30, 1.60, start_method="spawn", rss=300.0),
        row("scale", "thread", 300, 300, 1.50), row("scale", "asyncio", 300, 300, 1.20),
    ])
    table = recommend.claims(rows, {"packages": {"aiobotocore": "3.1.0",
                                                 "aioboto3": "not installed"}})
    verdicts = dict(zip(table["claim"], table["verdict"], strict=True))
    assert verdicts == {
        "ThreadPoolExecutor is optimal": "refuted",  # asyncio faster at both N
        "ProcessPoolExecutor is not recommended (creation overhead, memory)": "confirmed",
        "asyncio needs aioboto3 and is more complex":
            "refuted (dependency); complexity not measured",
    }
    assert table["evidence"].tolist()[1] == (
        "scale N=30: process/spawn 1.60 s, 31 % slower than thread (peak memory 300 vs 100 MB)")
    assert table["evidence"].tolist()[2].startswith(
        "asyncio ran on aiobotocore 3.1.0 (aioboto3: not installed); scale N=30: asyncio "
        "1.05 s, 5 % faster than thread")


def test_cold_runs_are_ranked_apart_and_set_beside_their_warm_twin() -> None:
    rows = pd.DataFrame([
        row("seed", "thread", 3, 3, 0.56, lb=0.5), row("seed", "thread", 3, 3, 2.40, lb=0.5,
                                                        variant="cold"),
        row("seed", "asyncio", 3, 3, 0.55, lb=0.5), row("seed", "asyncio", 3, 3, 4.98, lb=0.5,
                                                         variant="cold"),
    ])
    sentences = comparison.conclusions(rows)
    assert sentences[1:3] == [
        "seed: at N=3 with concurrency 3, asyncio finished in 0.550 s median, equivalent to "
        "thread (0.560 s, within the measured spread).",
        "seed: at N=3 with concurrency 3 from a cold start (a fresh process per run), "
        "thread/cold finished in 2.40 s median, 2.1× as fast as asyncio/cold (4.98 s).",
    ]
    assert comparison.cold_sentences(summarize(rows)) == [
        "seed: thread from a cold start (generate_reports in a fresh process) "
        "took 2.40 s (4.80× one call's 0.500 s), warm 0.560 s (1.12×): the first run costs "
        "1.84 s more.",
        "seed: asyncio from a cold start (generate_reports in a fresh process) "
        "took 4.98 s (9.96× one call's 0.500 s), warm 0.550 s (1.10×): the first run costs "
        "4.43 s more.",
    ]


@pytest.mark.parametrize(("load", "shown"), [
    ({"start": 1.23, "end": 4.56}, "load average 1.2 → 4.6"),
    ({"start": 0.5, "end": math.nan}, "load average 0.5 at the start"),
    ({"start": None, "end": 2.25}, "load average 2.2 at the end"),
    ({"start": math.nan, "end": math.nan}, None),
    ({}, None),
    (None, None),
])
def test_the_report_shows_the_load_only_as_measured(
    results: pd.DataFrame, load: dict[str, Any] | None, shown: str | None
) -> None:
    meta = {"created": "a", "finished": "b", "command": "bench", "cpu_count": 2, "python": "3.11"}
    if load is not None:
        meta["load_avg_1m"] = load
    head = report_markdown(results, meta).split("\n\n")[0]
    assert "nan" not in head.lower()
    if shown is None:
        assert "load average" not in head
        assert head == "Run a → b, `bench`; 2 CPUs; python 3.11."
    else:
        assert head == f"Run a → b, `bench`; 2 CPUs, {shown}; python 3.11."


@pytest.mark.parametrize(("finished", "complete", "shown"), [
    ("b", True, "b"), (None, False, "stopped before the end"), (None, None, "?")])
def test_the_report_says_when_a_run_was_stopped_before_the_end(
    results: pd.DataFrame, finished: str | None, complete: bool | None, shown: str
) -> None:
    meta = {"created": "a", "finished": finished, "complete": complete, "command": "bench",
            "cpu_count": 2, "python": "3.11"}
    head = report_markdown(results, meta).split("\n\n")[0]
    assert head == f"Run a → {shown}, `bench`; 2 CPUs; python 3.11."


def test_the_comparison_page_tables_align_text_left_and_numbers_right(
    results: pd.DataFrame,
) -> None:
    meta = {"published": {"sequential_s": 6.01, "parallel_s": 2.01}}
    which, claims = recommend.which_to_use(results), recommend.claims(results, meta)
    published, cases = comparison.published_table(results, meta), summarize(results)

    def numeric(frame: pd.DataFrame) -> set[str]:
        return {str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}

    pages = [  # (the page's table(s), the columns that hold numbers)
        (tidy(which).to_html(), {"median"}),  # "2.00 s": a time written with its unit
        (tidy(claims).to_html(), set()),
        (tidy(published).to_html(), numeric(published)),
        (render_markdown_safe(format_summary(cases, check_targets(results))),
         numeric(cases) | {"measured"}),
    ]
    for output, numbers in pages:
        html = sanitize_output_html(output)  # as the shared page holds it (no <style> left)
        assert "<style" not in html
        for table in column_sides(html):
            for column, sides in table.items():
                assert sides == {"right" if column in numbers else "left"}, column


@pytest.mark.slow
def test_every_comparison_chart_is_readable_on_a_400_px_screen(results: pd.DataFrame) -> None:
    throttled = results[results["scenario"] == "throttled"]
    timeline = [{"scenario": "seed", "variant": "", "strategy": "thread", "start_method": "",
                 "n_jobs": 3, "concurrency": 3, "repeat": 1,
                 "jobs": [{"key": f"k{i}", "start_s": 0.0, "end_s": 2.0, "attempts": 1,
                           "worker": "w", "error_type": None} for i in range(3)]}]
    charts = {"makespan": figures.makespan_chart(results),
              "scaling": figures.scaling_chart(results),
              "resources": figures.resources_chart(results),
              "throttle": figures.throttle_chart(throttled),
              "gantt": figures.gantt_chart(timeline)}
    for name, fig in charts.items():
        assert fig is not None, name
        px, text = smallest_text_px(fig, screen_px=400)
        assert px >= 10, (name, text, px)
