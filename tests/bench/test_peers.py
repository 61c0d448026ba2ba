"""The peers scenario: every peer library (and ours) in its worker, against a real emulator."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from report_lib.bench.metrics import COLUMNS
from report_lib.bench.peer_names import (
    OUR_PEER_STRATEGIES,
    PEER_NAMES,
    PEER_VARIANTS,
    PEERS_N,
    PEERS_SCENARIO,
)
from report_lib.bench.plan import PEERS_MODEL, PEERS_QUOTA_N, Case, plan_cases
from report_lib.bench.workload import JobSource
from report_lib.emulator import Emulator
from report_lib.errors import ConfigError
from report_lib.llm.settings import BackendSettings
from report_lib.llm.tokens import estimate_tokens

PEER_MODULES = ("langchain_aws", "aioboto3", "llama_index.llms.bedrock_converse", "anthropic")
MISSING = [m for m in PEER_MODULES if importlib.util.find_spec(m.split(".")[0]) is None
           or importlib.util.find_spec(m) is None]
needs_peers = pytest.mark.skipif(
    bool(MISSING), reason=f"the `peers` dependency group is not installed (missing "
    f"{', '.join(MISSING)}): pip install -e '.[peers]' (make setup does)")
ALL = (*OUR_PEER_STRATEGIES, *PEER_NAMES)
FAST = "fixed:0.05"


def jobs(n: int = 3) -> list[Any]:
    return JobSource().jobs(PEERS_SCENARIO, n)


def spec_for(strategy: str, variant: str, url: str, n: int = 3) -> dict[str, Any]:
    from report_lib.bench.peers import worker_spec

    case = Case(PEERS_SCENARIO, strategy, n, n, FAST, variant=variant)
    return worker_spec(case, jobs(n), BackendSettings(endpoint_url=url, backend="emulator"), url)


# --- the plan ---------------------------------------------------------------------------------


def test_plan_has_every_strategy_warm_and_cold_at_each_n_and_one_quota_n() -> None:
    cases = plan_cases(PEERS_SCENARIO)
    assert {(c.strategy, c.variant, c.n_jobs) for c in cases if c.variant != "quota"} == {
        (s, v, n) for s in ALL for v in PEER_VARIANTS[:2] for n in PEERS_N}
    quota = [c for c in cases if c.variant == "quota"]
    assert {c.strategy for c in quota} == set(ALL)
    assert {c.n_jobs for c in quota} == {PEERS_QUOTA_N}
    assert all(c.concurrency == c.n_jobs and c.latency_model == PEERS_MODEL for c in cases)
    small = plan_cases(PEERS_SCENARIO, strategies=["asyncio", "aioboto3"], n_values=[3, 30])
    assert {c.strategy for c in small} == {"asyncio", "aioboto3"}
    assert {c.n_jobs for c in small if c.variant == "quota"} == {30}  # the largest asked for


def test_plan_names_an_unknown_peer() -> None:
    with pytest.raises(ConfigError, match="unknown peers strategy langchian"):
        plan_cases(PEERS_SCENARIO, strategies=["langchian"])


def test_first_call_is_a_results_column() -> None:
    assert "first_call_s" in COLUMNS


def test_peer_rows_count_lost_reports_and_keep_first_call() -> None:
    from report_lib.bench.peers import peer_row

    source = jobs()
    calls = [{"key": j.key, "ok": i != 1, "start_s": 0.0, "end_s": 0.5, "input_tokens": 10,
              "output_tokens": 0 if i == 1 else 20, "error_type": None if i != 1 else "Boom",
              "error_message": None if i != 1 else "lost", "extra": {}}
             for i, j in enumerate(source)]

    class Stats:
        def stats(self) -> dict[str, Any]:
            return {"requests": 5, "throttled": 2, "failed": 0, "rejected": 0,
                    "max_in_flight": 3}

    out = {"makespan_s": 2.0, "cpu_s": 0.3, "peak_rss_mb": 50.0, "first_call_s": 1.25,
           "calls": calls}
    case = Case(PEERS_SCENARIO, "aioboto3", 3, 3, "fixed:0.5", variant="cold")
    row, line = peer_row(case, 1, out, source, Stats(), 1.0)  # type: ignore[arg-type]
    assert row["failed"] == 1 and row["throttled"] == 2 and row["requests"] == 5
    assert row["first_call_s"] == 1.25 and row["cpu_ms_per_call"] == pytest.approx(100.0)
    assert row["tokens"] == 60  # the lost report's tokens are not counted
    assert [j["error_type"] for j in line["jobs"]] == [None, "Boom", None]
    out.pop("first_call_s")
    warm_row, _ = peer_row(replace(case, variant="warm"), 1, out, source, Stats(), 1.0)  # type: ignore[arg-type]
    assert math.isnan(warm_row["first_call_s"])


def test_a_missing_peer_library_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from report_lib.bench import peers
    from report_lib.cli import main

    real = peers._importable
    monkeypatch.setattr(peers, "_importable", lambda m: m != "aioboto3" and real(m))
    peers.check_peers_installed(["thread", "langchain-batch"])  # aioboto3 not asked for
    code = main(["bench", "--scenario", "peers", "--strategies", "thread,aioboto3",
                 "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "missing: aioboto3" in err[0] and "pip install -e '.[peers]'" in err[0]
    assert not (tmp_path / "results.csv").exists()


# --- each runner against a real emulator process -----------------------------------------------


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator(latency_model=FAST, seed=1) as emulator:
        yield emulator


def check_answers(out: dict[str, Any], emu: Emulator, n: int = 3) -> None:
    calls = out["calls"]
    assert [c["key"] for c in calls] == [j.key for j in jobs(n)]
    assert all(c["ok"] for c in calls), [c["error_message"] for c in calls]
    for call, job in zip(calls, jobs(n), strict=True):  # the same system prompt and prompt
        assert call["input_tokens"] == estimate_tokens(job.system + "\n" + job.prompt)
    stats = emu.stats()
    assert stats["requests"] == stats["answered"] == n
    assert sum(c["output_tokens"] for c in calls) == stats["output_tokens"] > 0
    assert out["makespan_s"] > 0 and out["cpu_s"] > 0 and out["peak_rss_mb"] > 10


@pytest.mark.slow
@needs_peers
@pytest.mark.parametrize("strategy", ALL)
def test_warm_worker_answers_every_job(emu: Emulator, strategy: str) -> None:
    from report_lib.bench.peers import start_warm

    with start_warm(spec_for(strategy, "warm", emu.url)) as worker:
        for _ in range(2):  # the client stays warm across runs
            emu.reset_stats()
            check_answers(worker.run(), emu)


@pytest.mark.slow
@needs_peers
@pytest.mark.parametrize("strategy", ALL)
def test_cold_worker_counts_from_spawn(emu: Emulator, strategy: str) -> None:
    from report_lib.bench.peers import run_cold

    emu.reset_stats()
    out = run_cold(spec_for(strategy, "cold", emu.url))
    check_answers(out, emu)
    assert 0 < out["first_call_s"] <= out["makespan_s"]
    assert out["first_call_s"] > 0.05  # the interpreter and the imports are inside it


@pytest.mark.slow
@needs_peers
@pytest.mark.parametrize("strategy", ALL)
def test_a_rejected_report_is_lost_and_the_others_kept(strategy: str) -> None:
    from report_lib.bench.peers import run_cold

    with Emulator(latency_model=FAST, reject=("cpo",), seed=1) as emu:
        calls = run_cold(spec_for(strategy, "cold", emu.url))["calls"]
    lost = [c for c in calls if not c["ok"]]
    assert [c["key"].split("@")[0] for c in lost] == ["cpo"]
    assert lost[0]["error_type"] and "reject" in (lost[0]["error_message"] or "")
    assert sum(c["ok"] for c in calls) == 2


@pytest.mark.slow
@needs_peers
def test_run_benchmark_peers_rows_and_versions(tmp_path: Path) -> None:
    from report_lib.bench.benchmark import run_benchmark
    from report_lib.bench.result_files import load_results

    df = run_benchmark([PEERS_SCENARIO], strategies=["asyncio", "aioboto3"], n_values=[3],
                       repeats=1, time_scale=0.05, out_dir=tmp_path, progress=False)
    assert set(zip(df["strategy"], df["variant"], strict=True)) == {
        (s, v) for s in ("asyncio", "aioboto3") for v in PEER_VARIANTS}
    # a peer may lose reports under the quota (its own retries); ours, and every warm/cold run,
    # may not
    must_keep = (df["strategy"] == "asyncio") | (df["variant"] != "quota")
    assert (df.loc[must_keep, "failed"] == 0).all() and (df["n_jobs"] == 3).all()
    cold = df["variant"] == "cold"
    assert df.loc[cold, "first_call_s"].gt(0).all() and df.loc[~cold, "first_call_s"].isna().all()
    assert df.loc[df["variant"] == "quota", "quota_tpm"].gt(0).all()
    _, _, meta = load_results(tmp_path)
    versions = meta["peer_versions"]
    assert set(versions) >= {"aioboto3", "anthropic", "langchain-aws",
                             "llama-index-llms-bedrock-converse"}
    assert "not installed" not in versions.values()


# --- benchmarks/peers_table.py on hand-made rows ------------------------------------------------


def _table_module() -> Any:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "peers_table.py"
    spec = importlib.util.spec_from_file_location("peers_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(cases: dict[tuple[str, int, str], list[tuple[float, float, int]]]) -> Any:
    import pandas as pd

    rows = []
    for (variant, n, strategy), runs in cases.items():
        for repeat, (makespan, cpu, failed) in enumerate(runs, 1):
            rows.append({"scenario": PEERS_SCENARIO, "variant": variant, "n_jobs": n,
                         "strategy": strategy, "repeat": repeat, "makespan_s": makespan,
                         "efficiency": 1.0 / makespan, "cpu_ms_per_call": cpu,
                         "peak_rss_mb": 50.0, "failed": failed, "throttled": 0.0,
                         "first_call_s": 0.5 if variant == "cold" else math.nan})
    return pd.DataFrame(rows)


def test_peers_table_ratios_and_targets() -> None:
    table_module = _table_module()
    df = _rows({
        ("warm", 300, "thread"): [(1.2, 2.0, 0), (1.3, 2.0, 0), (1.4, 2.0, 0)],
        ("warm", 300, "asyncio"): [(1.0, 1.0, 0), (1.1, 1.0, 0), (1.2, 1.0, 0)],
        ("warm", 300, "aioboto3"): [(0.9, 1.5, 0), (1.0, 1.5, 0), (1.05, 1.5, 0)],
        ("warm", 300, "llamaindex"): [(0.5, 0.1, 1), (0.5, 0.1, 0), (0.5, 0.1, 0)],  # lost one
        ("cold", 3, "thread"): [(2.0, 100.0, 0)] * 3,
        ("cold", 3, "anthropic-sdk"): [(1.0, 100.0, 0)] * 3,
        ("quota", 100, "asyncio"): [(5.0, 1.0, 0), (5.0, 1.0, 2)],
        ("quota", 100, "aioboto3"): [(4.0, 1.0, 3)] * 2,
    })
    table = table_module.cases(df)
    lines = {(x["variant"], x["n"]): x for x in table_module.against(table)}
    warm = lines[("warm", 300)]
    # the lost-a-report llamaindex is never "best"; asyncio beats thread on the median
    assert warm["ours"]["strategy"] == "asyncio" and warm["peer"]["strategy"] == "aioboto3"
    assert warm["ratio"] == pytest.approx(1.1 / 1.0)
    assert (warm["low"], warm["high"]) == (pytest.approx(1.0 / 1.05), pytest.approx(1.2 / 0.9))
    assert lines[("quota", 100)]["peer"] is None  # every peer lost reports there
    got = {name: (met, figures) for name, met, figures in table_module.targets(table)}
    assert got["warm makespan at N=300 <= best peer's (within the spread)"][0] is True
    cpu_met, cpu_figures = got["client CPU per call at N=300 <= 0.8x the best peer's"]
    assert cpu_met is True and "1.00 ms vs aioboto3 1.50 ms: 0.67x" in cpu_figures
    assert got["cold start to last report at N=3 <= fastest peer's"][0] is False
    assert got["0 reports lost under a quota (ours)"] == (False, "asyncio 2")
    text = table_module.markdown(df, {"command": "x", "peer_versions": {"aioboto3": "15.5.0"}})
    assert "| warm, N=300 | asyncio 1.100 s | aioboto3 1.000 s | 1.10x | [0.95, 1.33] |" in text
    assert "aioboto3 15.5.0" in text
    text = table_module.markdown(df, {"command": "x", "peer_versions": {"aioboto3": "15.5.0"},
                                      "packages": {"botocore": "1.40.61", "pandas": "3.0",
                                                   "aiobotocore": "2.25.1"}})
    assert "aioboto3 15.5.0; ours on botocore 1.40.61, aiobotocore 2.25.1" in text
    assert "pandas" not in text.splitlines()[0]


def test_compile_ours_leaves_a_compiled_module_beside_every_source() -> None:
    import report_lib
    from report_lib.bench.peers import compile_ours

    root = Path(report_lib.__file__).parent
    assert compile_ours()
    sources = sorted(root.rglob("*.py"))
    assert sources
    missing = [s for s in sources if not Path(importlib.util.cache_from_source(str(s))).exists()]
    assert missing == []


def test_the_table_names_the_transport_ours_sent_converse_with() -> None:
    ours_on = _table_module().ours_on
    packages = {"boto3": "1.40.61", "botocore": "1.40.61", "aiobotocore": "2.25.1"}
    assert ours_on({"packages": packages, "transport": "direct"}) == (
        "; ours on boto3 1.40.61, botocore 1.40.61, aiobotocore 2.25.1, Converse sent direct")
    # a run from before the setting existed sent Converse through botocore
    assert ours_on({"packages": {"botocore": "1.40.61"}}) == (
        "; ours on botocore 1.40.61, Converse sent botocore")
    assert ours_on({}) == ""
