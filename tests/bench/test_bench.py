"""The benchmark: plans, rows and lower bounds, targets, files, CLI; the resource monitor."""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from report_lib.bench.analysis import check_targets, summarize
from report_lib.bench.benchmark import run_benchmark, side_by_side
from report_lib.bench.cold import run_cold
from report_lib.bench.metrics import COLUMNS, Measured, fill_speedups, make_row
from report_lib.bench.plan import Case, plan_cases
from report_lib.bench.resources import ResourceMonitor
from report_lib.bench.result_files import load_results, output_paths
from report_lib.bench.runner import count_pool_full
from report_lib.bench.summary import format_summary
from report_lib.bench.workload import JobSource, estimate_job_tokens, throttled_quota
from report_lib.cli.bench import add_arguments
from report_lib.cli.bench import run as run_bench_command
from report_lib.cli.common import limit_settings
from report_lib.cli.main import build_parser, main
from report_lib.data.sample import synthesize
from report_lib.emulator import Emulator
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportResult
from report_lib.reports.build import build_jobs

REQUIRED = ("scenario", "strategy", "n_jobs", "concurrency", "repeat", "makespan_s",
            "lower_bound_s", "efficiency", "speedup_vs_sequential", "cpu_s", "peak_rss_mb",
            "requests", "throttled", "retries", "failed", "pool_full_warnings", "time_scale",
            "start_method", "speedup_estimated", "cpu_ms_per_call", "tokens", "throughput_tpm",
            "quota_tpm")


# --------------------------------------------------------------------------- a small real run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("bench")
    df = run_benchmark(
        scenarios=["seed", "scale"], strategies=["sequential", "thread", "asyncio"],
        n_values=[3], repeats=1, time_scale=0.02, out_dir=out, progress=False,
    )
    return out, df


@pytest.mark.slow
def test_small_run_writes_every_column(small_run: tuple[Path, pd.DataFrame]) -> None:
    out, _ = small_run
    saved, timelines, meta = load_results(out)
    assert set(REQUIRED) <= set(saved.columns)
    assert list(saved.columns) == list(COLUMNS)
    # seed: 3 strategies; scale N=3: concurrency min(3, 10) = 3 only, so 3 strategies again
    assert len(saved) == 6
    assert sorted(saved["scenario"]) == ["scale"] * 3 + ["seed"] * 3
    assert (saved["n_jobs"] == 3).all() and (saved["failed"] == 0).all()
    assert (saved["requests"] == 3).all()  # the emulator saw exactly one call per job
    assert (saved["retries"] == 0).all()
    seq = saved["strategy"] == "sequential"
    assert (saved.loc[seq, "concurrency"] == 1).all()
    assert (saved.loc[~seq, "concurrency"] == 3).all()
    assert (saved.loc[seq, "max_in_flight"] == 1).all()
    # lower bound = the fixed latency × time scale (2.0 s for seed, 1.0 s for scale)
    expected_lb = saved["scenario"].map({"seed": 2.0 * 0.02, "scale": 1.0 * 0.02})
    assert saved["lower_bound_s"].tolist() == pytest.approx(expected_lb.tolist())
    assert saved["efficiency"].tolist() == pytest.approx(
        (saved["lower_bound_s"] / saved["makespan_s"]).tolist()
    )
    assert (saved["makespan_s"] >= saved["lower_bound_s"]).all()  # nothing beats the latency
    assert not saved["speedup_estimated"].any()  # sequential ran in the same run
    assert (saved["cpu_s"] > 0).all() and (saved["peak_rss_mb"] > 0).all()
    assert (saved["pool_full_warnings"] == 0).all()
    assert len(timelines) == 6 and all(len(t["jobs"]) == 3 for t in timelines)
    assert {"key", "start_s", "end_s", "attempts", "worker", "error_type"} <= set(
        timelines[0]["jobs"][0]
    )
    assert meta["time_scale"] == 0.02 and meta["cpu_count"] >= 1
    assert meta["published"] == {"sequential_s": 6.01, "parallel_s": 2.01}
    assert {"boto3", "botocore", "aiobotocore", "dask"} <= set(meta["packages"])


@pytest.mark.slow
def test_summary_and_targets_of_a_run(small_run: tuple[Path, pd.DataFrame]) -> None:
    _, df = small_run
    summary = summarize(df)
    assert summary["repeats"].tolist() == [1] * 6
    assert [c.target for c in check_targets(df)] == [
        "makespan ≤ 1.02 × latency", "makespan ≤ 1.02 × latency", "sequential ≈ 3× thread",
        "client CPU ≤ 2 ms per call at N=3", "client CPU ≤ 2 ms per call at N=3",
    ]


SUMMARY_BY_HAND = """\
| scenario | strategy   | n_jobs | concurrency | time_scale | repeats | makespan_s | spread_\
pct | lower_bound_s | efficiency | speedup_vs_sequential | cpu_ms_per_call | requests | thro\
ttled | retries | failed | pool_full_warnings |
|:---------|:-----------|-------:|------------:|-----------:|--------:|-----------:|--------\
---:|--------------:|-----------:|----------------------:|----------------:|---------:|-----\
-----:|--------:|-------:|-------------------:|
| seed     | sequential | 3      | 1           | 1          | 1       | 6.000      | 0.0    \
    | 2.000         | 0.333      | 1.0                   | 1.00            | 3        | 0   \
      | 0       | 0      | 0                  |
| seed     | thread     | 3      | 3           | 1          | 2       | 2.030      | 1.0    \
    | 2.000         | 0.985      | 3.0                   | 1.00            | 3        | 0   \
      | 0       | 0      | 0                  |

Published original (time.sleep(2)): sequential 6.01 s, parallel 2.01 s. `~` marks a speedup \
estimated as Σ latencies / makespan.

| target                            | scenario | strategy   | measured | result | detail    \
                                                |
|:----------------------------------|:---------|:-----------|---------:|:-------|:----------\
------------------------------------------------|
| makespan ≤ 1.02 × latency         | seed     | thread     | 2.030    | PASS   | 2.030 s vs\
 2.000 s latency (1.015×)                       |
| sequential ≈ 3× thread            | seed     | sequential | 2.956    | PASS   | 6.000 s / \
2.030 s = 2.96× (published 6.01 / 2.01 = 2.99×) |
| client CPU ≤ 2 ms per call at N=3 | seed     | thread     | 1.000    | PASS   | 1.00 ms pe\
r call, client already built (warm)             |"""


def test_summary_by_hand_exact() -> None:
    rows = [_row("sequential", 6.0, concurrency=1), _row("thread", 2.02),
            _row("thread", 2.04, repeat=2)]
    fill_speedups(rows)
    df = pd.DataFrame(rows)
    assert format_summary(summarize(df), check_targets(df)) == SUMMARY_BY_HAND


# --------------------------------------------------------------------------- planning


def test_scale_plan_counts() -> None:
    cases = plan_cases("scale", start_methods=["spawn", "fork"])
    levels = {3: [3], 10: [10], 30: [30, 10], 100: [100, 10], 300: [300, 10]}
    by = pd.Series([c.strategy for c in cases]).value_counts().to_dict()
    assert by["thread"] == by["asyncio"] == 8 + 1  # every (n, concurrency) pair; bare at 300
    bare = [(c.strategy, c.n_jobs, c.concurrency) for c in cases if c.variant == "bare"]
    assert bare == [("thread", 300, 300), ("asyncio", 300, 300)]
    assert by["dask"] == 5  # concurrency N only
    assert by["sequential"] == 2  # only N=3 and N=10 run sequentially by default
    # concurrency N only; both start methods at N=3 and N=100, the first one elsewhere
    process = sorted((c.n_jobs, c.start_method) for c in cases if c.strategy == "process")
    assert process == sorted([(3, "spawn"), (3, "fork"), (10, "spawn"), (30, "spawn"),
                              (100, "spawn"), (100, "fork"), (300, "spawn")])
    assert {(c.n_jobs, c.concurrency) for c in cases
            if c.strategy == "thread" and not c.variant} == {
        (n, c) for n, cs in levels.items() for c in cs
    }
    chosen = plan_cases("scale", strategies=["dask", "sequential"], n_values=[30])
    assert sorted((c.strategy, c.concurrency) for c in chosen) == [
        ("dask", 10), ("dask", 30), ("sequential", 1)
    ]


def test_other_plans() -> None:
    seed = plan_cases("seed")
    assert {c.strategy for c in seed} == {"sequential", "thread", "process", "asyncio", "dask"}
    assert all(c.n_jobs == 3 and c.latency_model == "fixed:2.0" for c in seed)
    assert {c.latency_model for c in plan_cases("realistic")} == {"sonnet"}
    throttled = plan_cases("throttled", n_values=[12])
    assert {(c.strategy, c.variant) for c in throttled} == {
        (s, v) for s in ("thread", "asyncio") for v in ("retries", "limiter", "auto", "adaptive")
    }
    cold = [(c.strategy, c.concurrency) for c in seed if c.variant == "cold"]
    assert cold == [("thread", 3), ("asyncio", 3)]  # a fresh process per run
    assert not [c for c in plan_cases("seed", strategies=["thread"]) if c.variant]
    original = plan_cases("original")
    assert [(c.n_jobs, c.concurrency) for c in original] == [(3, 3), (300, 3)]
    with pytest.raises(ValueError, match="unknown scenario"):
        plan_cases("huge")
    with pytest.raises(ValueError, match="unknown strategy"):
        plan_cases("seed", strategies=["gpu"])


@pytest.mark.slow
def test_external_endpoint_is_measured_without_emulator_counters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any Bedrock-compatible endpoint: here an emulator we started, reached as "bedrock" with
    # credentials from the environment (the emulator accepts any signature).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with Emulator(latency_model="fixed:0.05") as emu:
        df = run_benchmark(["seed"], strategies=["thread"], repeats=1, endpoint_url=emu.url,
                           out_dir=tmp_path, progress=False, warmup=False)
        served = emu.stats()["answered"]
    row = df.iloc[0]
    assert served == 3 and row["failed"] == 0 and row["backend"] == "bedrock"
    assert row["lower_bound_kind"] == "measured" and row["latency_model"] == "external"
    assert row["lower_bound_s"] >= 0.05  # the slowest job as the client measured it
    for column in ("requests", "throttled", "max_in_flight", "quota_tpm"):
        assert math.isnan(row[column])


def test_throttled_needs_the_emulator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="endpoint-url"):
        run_benchmark(["throttled"], endpoint_url="http://127.0.0.1:9", out_dir=tmp_path)


# --------------------------------------------------------------------------- rows by hand


def _results(tokens: list[tuple[int, int]], failed: int = 0) -> list[ReportResult]:
    out = [ReportResult(key=f"k{i}", kind="kpi", content="x", input_tokens=a, output_tokens=b,
                        attempts=2) for i, (a, b) in enumerate(tokens)]
    out += [ReportResult(key=f"f{i}", kind="kpi", error_type="ThrottlingException", attempts=4)
            for i in range(failed)]
    return out


def test_quota_bound_row() -> None:
    # tpm 1000 at scale 0.1: a minute is 6 s, Q = 1000 / 6 tokens/s; the bucket starts full.
    case = Case("throttled", "thread", 3, 3, "fixed:1.0", variant="limiter", tpm=1000)
    results = _results([(400, 200)] * 3, failed=1)
    measured = Measured(8.0, cpu_s=0.04, peak_rss_mb=100.0, pool_full=0,
                        stats={"requests": 9, "throttled": 5, "max_in_flight": 3})
    row = make_row(case, 1, results, measured, time_scale=0.1, external=False,
                   backend="emulator")
    latency = 1.0 * 0.1
    quota_term = (1800 - 1000) / (1000 / 6.0) + latency  # 4.8 s + 0.1 s
    assert row["lower_bound_s"] == pytest.approx(quota_term)
    assert row["lower_bound_kind"] == "quota"
    assert row["efficiency"] == pytest.approx(quota_term / 8.0)
    assert row["tokens"] == 1800 and row["failed"] == 1
    assert row["retries"] == 3 * 1 + 3  # attempts - 1 per job
    assert row["throughput_tpm"] == pytest.approx(1800 / 8.0 * 6.0)
    assert row["sustained_tpm"] == pytest.approx(800 / (8.0 - latency) * 6.0)
    assert row["cpu_ms_per_call"] == pytest.approx(0.04 / 4 * 1000)
    assert (row["requests"], row["throttled"]) == (9, 5)
    assert math.isnan(row["server_failed"])


def test_the_quota_bound_counts_what_the_emulator_charged() -> None:
    """With Bedrock's accounting the quota charges output x the burndown rate: the bound uses
    the emulator's settled tokens for the run, not the tokens used."""
    case = Case("throttled", "thread", 3, 3, "fixed:1.0", variant="limiter", tpm=1000)
    results = _results([(400, 200)] * 3)
    settled = 3 * (400 + 5 * 200)  # 4,200 quota tokens for 1,800 tokens used
    stats = {"requests": 3, "throttled": 0, "quota": {"settled_tokens": settled}}
    row = make_row(case, 1, results, Measured(30.0, stats=stats), time_scale=0.1,
                   external=False, backend="emulator")
    assert row["lower_bound_s"] == pytest.approx((settled - 1000) / (1000 / 6.0) + 0.1)
    assert row["tokens"] == 1800  # what was used, for throughput
    no_quota = make_row(case, 1, results, Measured(30.0, stats={"requests": 3}),
                        time_scale=0.1, external=False, backend="emulator")
    assert no_quota["lower_bound_s"] == pytest.approx((1800 - 1000) / (1000 / 6.0) + 0.1)


def test_the_throttled_quota_is_sized_for_the_models_burndown() -> None:
    jobs = JobSource().jobs("throttled", 6)
    counts = estimate_job_tokens(jobs)
    claude4 = throttled_quota(jobs, 4.0, model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
                              max_tokens=64)
    at_one = throttled_quota(jobs, 4.0, model_id="amazon.nova-pro-v1:0", max_tokens=64)
    assert claude4 == max(math.ceil(sum(i + 5 * o for i, o in counts) / 4.0),
                          2 * max(i + 5 * o for i, o in counts))
    assert at_one == max(math.ceil(sum(i + o for i, o in counts) / 4.0),
                         2 * max(max(i + o for i, o in counts), max(i + 64 for i, _ in counts)))
    big = throttled_quota(jobs, 4.0, model_id="amazon.nova-pro-v1:0", max_tokens=100_000)
    assert big == 2 * max(i + 100_000 for i, _ in counts)  # the largest reservation fits


def test_latency_bound_rows_fixed_sonnet_and_external() -> None:
    results = _results([(100, 550), (100, 110)])
    fixed = make_row(Case("scale", "thread", 2, 2, "fixed:1.0"), 1, results, Measured(0.3),
                     time_scale=0.25, external=False, backend="emulator")
    assert fixed["lower_bound_s"] == pytest.approx(0.25)
    assert fixed["sum_latency_s"] == pytest.approx(0.5)
    assert math.isnan(fixed["requests"]) and math.isnan(fixed["pool_full_warnings"])
    sonnet = make_row(Case("realistic", "thread", 2, 2, "sonnet"), 1, results, Measured(12.0),
                      time_scale=1.0, external=False, backend="emulator")
    # jitter-free Sonnet: 0.95 s to the first token, then 55 tokens/s
    assert sonnet["lower_bound_s"] == pytest.approx(0.95 + 550 / 55)
    assert sonnet["sum_latency_s"] == pytest.approx(0.95 + 10 + 0.95 + 2)
    timed = [ReportResult(key="a", kind="kpi", content="x", seconds=1.5),
             ReportResult(key="b", kind="kpi", content="y", seconds=2.5)]
    external = make_row(Case("seed", "thread", 2, 2, "fixed:2.0"), 1, timed, Measured(3.0),
                        time_scale=1.0, external=True, backend="bedrock")
    assert external["lower_bound_s"] == 2.5 and external["lower_bound_kind"] == "measured"
    assert external["latency_model"] == "external"


def _row(strategy: str, makespan: float, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "scenario": "seed", "variant": "", "strategy": strategy, "start_method": "",
        "n_jobs": 3, "concurrency": 3, "repeat": 1, "makespan_s": makespan,
        "lower_bound_s": 2.0, "efficiency": 2.0 / makespan, "sum_latency_s": 6.0,
        "time_scale": 1.0, "latency_model": "fixed:2.0", "cpu_ms_per_call": 1.0,
        "pool_full_warnings": 0, "failed": 0, "sustained_tpm": math.nan, "quota_tpm": math.nan,
        "throttled": 0, "retries": 0, "requests": 3,
    }
    base.update(kw)
    return base


def test_speedups_measured_or_estimated() -> None:
    rows = [_row("sequential", m, repeat=i) for i, m in enumerate([6.0, 6.4, 6.2], 1)]
    rows += [_row("thread", 2.0), _row("thread", 1.2, n_jobs=30, sum_latency_s=30.0)]
    fill_speedups(rows)
    assert rows[3]["speedup_vs_sequential"] == pytest.approx(6.2 / 2.0)  # median sequential
    assert rows[3]["speedup_estimated"] is False
    assert rows[4]["speedup_vs_sequential"] == pytest.approx(30.0 / 1.2)
    assert rows[4]["speedup_estimated"] is True


def test_targets_pass_and_fail_by_hand() -> None:
    rows = [
        _row("thread", 2.03), _row("asyncio", 2.10), _row("sequential", 6.05),
        _row("thread", 1.05, scenario="scale", n_jobs=300, concurrency=300, lower_bound_s=1.0,
             efficiency=1 / 1.05, cpu_ms_per_call=1.5, sum_latency_s=300.0),
        _row("asyncio", 1.25, scenario="scale", n_jobs=300, concurrency=300, lower_bound_s=1.0,
             efficiency=0.8, pool_full_warnings=0, cpu_ms_per_call=2.5, sum_latency_s=300.0),
        _row("original", 120.0, scenario="original", n_jobs=300),
        _row("thread", 9.0, scenario="throttled", variant="limiter", sustained_tpm=9500.0,
             quota_tpm=10000.0),
        _row("thread", 3.0, scenario="throttled", variant="retries", sustained_tpm=9800.0,
             quota_tpm=10000.0, failed=2),
    ]
    checks = {(c.target, c.strategy): c for c in check_targets(pd.DataFrame(rows))}
    assert checks[("makespan ≤ 1.02 × latency", "thread")].passed is True  # 2.03 ≤ 2.04
    assert checks[("makespan ≤ 1.02 × latency", "asyncio")].passed is False
    seq = checks[("sequential ≈ 3× thread", "sequential")]
    assert seq.measured == pytest.approx(6.05 / 2.03) and seq.passed is True
    assert checks[("efficiency ≥ 0.90 at N=300, concurrency N", "thread")].passed is True
    assert checks[("efficiency ≥ 0.90 at N=300, concurrency N", "asyncio")].passed is False
    faster = checks[("≥ 100× faster than original at N=300", "thread")]
    assert faster.measured == pytest.approx(120.0 / 1.05) and faster.passed is True
    assert checks[("≥ 100× faster than original at N=300", "asyncio")].passed is False  # 96×
    cpu = checks[("client CPU ≤ 2 ms per call at N=300", "asyncio")]
    assert cpu.measured == 2.5 and cpu.passed is False
    limiter = checks[("throughput ≥ 0.90 × quota, no failed report", "thread/limiter N=3 c=3")]
    assert limiter.measured == pytest.approx(0.95) and limiter.passed is True
    retries = checks[("throughput ≥ 0.90 × quota, no failed report", "thread/retries N=3 c=3")]
    assert retries.passed is False  # fast enough, but 2 reports failed


# --------------------------------------------------------------------------- pieces


def test_output_paths() -> None:
    assert output_paths("x") == (Path("x/results.csv"), Path("x/timelines.json"),
                                 Path("x/metadata.json"))
    assert output_paths("x/results.csv")[1] == Path("x/timelines.json")
    assert output_paths("x/run1.csv") == (Path("x/run1.csv"), Path("x/run1_timelines.json"),
                                          Path("x/run1_metadata.json"))


def test_pool_full_warnings_are_counted() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    with count_pool_full() as counter:
        logger.warning("Connection pool is full, discarding connection: %s", "127.0.0.1")
        logger.warning("Retrying after connection broken")
        logger.warning("Connection pool is full, discarding connection: %s", "127.0.0.1")
    assert counter.count == 2
    logger.warning("Connection pool is full, discarding connection: %s", "after")
    assert counter.count == 2  # detached after the block


@pytest.mark.slow
def test_cli_options_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args([
        "--scenario", "seed", "--strategies", "thread,asyncio", "--repeats", "1",
        "--time-scale", "0.01", "--out", str(tmp_path / "run1.csv"), "--no-progress",
        "--no-warmup",
    ])
    assert run_bench_command(ns) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("|")[1:4] == [" scenario ", " strategy ", " n_jobs "]
    assert lines[-1] == f"wrote {tmp_path / 'run1.csv'}, run1_timelines.json, run1_metadata.json"
    df = pd.read_csv(tmp_path / "run1.csv")
    assert sorted(df["strategy"]) == ["asyncio", "thread"]
    assert (tmp_path / "run1_timelines.json").exists()
    assert json.loads((tmp_path / "run1_metadata.json").read_text())["time_scale"] == 0.01
    ns = parser.parse_args(["--scenario", "seed,scale", "--scenario", "original", "--n", "3,10",
                            "--max-concurrency", "5"])
    assert ns.scenario == ["seed,scale", "original"] and ns.n == [3, 10]
    assert ns.max_concurrency == [5]
    with pytest.raises(SystemExit):
        parser.parse_args(["--n", "0"])
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "error: argument --n: expected positive integers, got '0'"
    )
    assert main(["bench", "--scenario", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err == (
        "report-lib: error: unknown scenario nope; choose from seed, realistic, scale, "
        "throttled, original, peers, quota\n"
    )


# --------------------------------------------------------------------------- resources


_BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


@pytest.mark.slow
def test_monitor_counts_children_but_not_excluded_processes() -> None:
    with ResourceMonitor() as mon:  # a child that burns ~0.3 s of CPU and is reaped inside
        subprocess.run([sys.executable, "-c", _BURN.format(s=0.3)], check=True)
    assert mon.cpu_s >= 0.3

    child = subprocess.Popen([sys.executable, "-c", _BURN.format(s=0.4)])
    try:
        proc = psutil.Process(child.pid)
        with ResourceMonitor(exclude_pids=[child.pid]) as excluded:
            before = sum(proc.cpu_times()[:2])
            while child.poll() is None and sum(proc.cpu_times()[:2]) - before < 0.2:
                time.sleep(0.02)
            burned = sum(proc.cpu_times()[:2]) - before
    finally:
        child.wait()
    assert burned >= 0.2
    assert excluded.cpu_s < burned / 2  # the excluded child's CPU is not the client's


def test_monitor_sees_peak_memory() -> None:
    baseline = psutil.Process().memory_info().rss / 2**20
    with ResourceMonitor() as mon:
        blob = b"x" * (80 * 2**20)  # 80 MB, resident (written)
        time.sleep(0.1)
    assert len(blob) == 80 * 2**20
    assert mon.peak_rss_mb >= baseline + 70


@pytest.mark.slow
def test_cold_run_builds_everything_in_a_fresh_process() -> None:
    jobs = build_jobs(synthesize(seed=0))  # what the child computes from the same seed
    with Emulator(latency_model="fixed:0.2") as emu:
        settings = BackendSettings(backend="emulator", endpoint_url=emu.url)
        makespan, results = run_cold(settings, "asyncio", 3, data_seed=0)
        served = emu.stats()["answered"]
    assert served == 3 and [r.key for r in results] == [j.key for j in jobs]
    assert all(r.ok for r in results)
    assert makespan >= max(r.end_s for r in results) >= 0.2  # measured in the child


def test_bench_limit_options() -> None:
    ns = build_parser().parse_args(["bench", "--endpoint-url", "http://127.0.0.1:9",
                                    "--tpm-limit", "auto", "--rpm-limit", "60",
                                    "--burndown", "3"])
    assert limit_settings(ns) == {"tpm_limit": None, "tpm_auto": True, "rpm_limit": 60,
                                  "burndown": 3.0}
    ns = build_parser().parse_args(["generate", "--tpm-limit", "30000"])
    assert limit_settings(ns) == {"tpm_limit": 30000, "tpm_auto": False, "rpm_limit": None,
                                  "burndown": None}


@pytest.mark.slow
def test_bare_client_rows_sit_beside_ours(tmp_path: Path) -> None:
    df = run_benchmark(["scale"], strategies=["thread", "asyncio"], n_values=[300],
                       max_concurrency=[300], repeats=1, time_scale=0.05, out_dir=tmp_path,
                       progress=False, warmup=False)
    bare = df[df["variant"] == "bare"]
    assert sorted(bare["strategy"]) == ["asyncio", "thread"]
    assert (bare["failed"] == 0).all() and (bare["requests"] == 300).all()
    assert [c.target for c in check_targets(df) if "bare" in c.target] == [
        "overhead ≤ 1.05 × bare client at N=300"] * 2


@pytest.mark.slow
def test_cases_of_one_n_run_side_by_side_and_the_bar_counts_runs(tmp_path: Path) -> None:
    progress = io.StringIO()
    df = run_benchmark(["scale"], strategies=["thread", "asyncio"], n_values=[3, 10],
                       max_concurrency=[10], repeats=2, time_scale=0.02, out_dir=tmp_path,
                       progress=False, progress_file=progress)
    order = list(zip(df["n_jobs"], df["concurrency"], df["repeat"], df["strategy"], strict=True))
    # per (N, concurrency): every case's run 1, then every case's run 2
    assert order == [(n, min(n, 10), r, s) for n in (3, 10) for r in (1, 2)
                     for s in ("thread", "asyncio")]
    assert "8/8" in progress.getvalue().replace("\r", "\n").splitlines()[-1]


def test_side_by_side_groups_by_n_and_concurrency_with_dask_last() -> None:
    cases = [Case("scale", s, n, c, "fixed:1.0") for n, c in ((3, 3), (30, 30), (30, 10))
             for s in ("thread", "dask", "asyncio")]
    groups = side_by_side(cases)
    assert [[(c.strategy, c.n_jobs, c.concurrency) for c in g] for g in groups] == [
        [("thread", 3, 3), ("asyncio", 3, 3)], [("thread", 30, 30), ("asyncio", 30, 30)],
        [("thread", 30, 10), ("asyncio", 30, 10)],
        [("dask", 3, 3)], [("dask", 30, 30)], [("dask", 30, 10)],
    ]


def test_every_case_warms_up_on_a_full_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases measured side by side warm up one after another against one emulator: each
    warm-up starts from a reset quota, as its measured runs do (the one before may have spent
    it, and a limiter finding the quota would then learn a quota already in use)."""
    from report_lib.bench import benchmark

    events: list[str] = []

    class Emu:
        def reset_stats(self) -> None:
            events.append("reset")

    class Runner:
        warms_up = True

        def __init__(self, case: Case, *args: object) -> None:
            self.case = case

        def __enter__(self) -> Runner:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def run(self, jobs: object) -> list[ReportResult]:
            events.append(f"warm-up {self.case.strategy}")
            return []

    def measure(case: Case, *args: object) -> tuple[dict[str, object], dict[str, object]]:
        events.append(f"run {case.strategy}")
        return {}, {}

    monkeypatch.setattr(benchmark, "CaseRunner", Runner)
    monkeypatch.setattr(benchmark, "measure", measure)
    monkeypatch.setattr(benchmark, "case_settings", lambda *a: BackendSettings())
    monkeypatch.setattr(benchmark, "warmup_jobs", lambda *a: [])
    session = benchmark._Session(BackendSettings(), False, 1, True, benchmark.DaskCluster(None),
                                 benchmark.Progress(2, False))
    cases = [Case("seed", s, 3, 3, "fixed:1.0") for s in ("thread", "asyncio")]
    benchmark._run_cases(session, cases, 1.0, Emu(), 1)  # type: ignore[arg-type]
    assert events == ["reset", "warm-up thread", "reset", "warm-up asyncio", "run thread",
                      "run asyncio"]
