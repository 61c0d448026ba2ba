"""generate_reports: the result contract, partial results, many jobs, written outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports, write_outputs
from report_lib.emulator import EmulatorConfig
from report_lib.errors import ConfigError
from report_lib.reports.build import build_jobs, build_many_jobs
from report_lib.reports.offline.backend import OfflineBackend
from report_lib.reports.prompts import parse_facts


def test_offline_run_follows_the_result_contract(sample_frame: pd.DataFrame) -> None:
    seen: list[str] = []
    run = generate_reports(sample_frame, backend="offline", strategy="thread",
                           on_result=lambda r: seen.append(r.key))
    d = run.to_dict()
    assert d["success"] is True
    assert sorted(seen) == ["cpo", "kpi", "trend"]
    latest = sample_frame["month"].max()
    assert d["target_month"] == latest
    writer = OfflineBackend()
    by_key = {r.key: r for r in run.results}
    for job in build_jobs(sample_frame):
        written = writer.call(job)
        r = by_key[job.key]
        assert d["reports"][job.key] == {"type": job.kind, "content": written.text}
        assert d["report_times"][job.key] == round(r.seconds, 3)
        assert r.seconds == r.end_s - r.start_s
        assert d["usage"][job.key] == {"input_tokens": written.input_tokens,
                                       "output_tokens": written.output_tokens,
                                       "cost_usd": 0.0, "cached": False}
    assert d["errors"] == {}
    assert run.total_time >= max(r.end_s for r in run.results)
    assert d["strategy"] == "thread" and d["backend"] == "offline"


def test_jobs_carry_the_facts_of_their_month_and_operator(sample_frame: pd.DataFrame) -> None:
    months = sorted(sample_frame["month"].unique())
    jobs = build_jobs(sample_frame, month=months[-2], focus_cpo="GS차지비", window=6)
    assert [j.key for j in jobs] == ["kpi", "cpo", "trend"]
    for job in jobs:
        facts = parse_facts(job.prompt)
        assert facts is not None
        assert facts.kind == job.kind
        assert facts.target_month == months[-2]
        assert facts.focus_cpo == "GS차지비"


@pytest.mark.slow
def test_many_jobs_are_distinct_and_bounded(sample_frame: pd.DataFrame) -> None:
    jobs = build_many_jobs(sample_frame, 40)
    assert len(jobs) == 40
    assert len({j.key for j in jobs}) == 40
    assert {j.kind for j in jobs} == {"kpi", "cpo", "trend"}
    too_many = sample_frame["cpo"].nunique() * sample_frame["month"].nunique() * 3 + 1
    with pytest.raises(ConfigError, match="distinct jobs"):
        build_many_jobs(sample_frame, too_many)


def test_write_outputs_writes_json_and_markdown(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    run = generate_reports(sample_frame, backend="offline", strategy="sequential")
    paths = write_outputs(run, out_json=tmp_path / "out" / "run.json", markdown_dir=tmp_path / "md")
    assert tmp_path / "out" / "run.json" in paths
    saved = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert saved["reports"]["kpi"]["content"] == run.reports["kpi"]
    assert (tmp_path / "md" / "trend.md").read_text(encoding="utf-8") == run.reports["trend"]


@pytest.mark.slow
def test_emulator_run_delivers_usage_and_cost(sample_frame: pd.DataFrame) -> None:
    run = generate_reports(sample_frame, backend="emulator", strategy="asyncio",
                           emulator=EmulatorConfig(time_scale=0.01))
    d = run.to_dict()
    assert d["success"] is True
    offline = generate_reports(sample_frame, backend="offline").to_dict()
    # the emulator answers our prompts with the offline writer's report
    assert d["reports"]["kpi"]["content"] == offline["reports"]["kpi"]["content"]
    assert d["usage_total"]["input_tokens"] > 0
    assert d["usage_total"]["cost_usd"] > 0
    assert d["emulator"]["stats"]["answered"] == 3


def test_unknown_backend_is_refused(sample_frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="unknown backend"):
        generate_reports(sample_frame, backend="openai")


def test_offline_reports_cost_nothing(sample_frame: pd.DataFrame) -> None:
    d = generate_reports(sample_frame, backend="offline").to_dict()
    assert d["usage_total"]["output_tokens"] > 0
    assert d["usage_total"]["cost_usd"] == 0


def test_unknown_strategy_is_refused_before_any_work(sample_frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'fibers'"):
        generate_reports(sample_frame.iloc[0:0], backend="offline", strategy="fibers")
