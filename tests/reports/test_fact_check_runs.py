"""Fact checks in runs: the result contract, the CLI, the page, and an emulator wrong on purpose."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports
from report_lib.emulator import Emulator
from report_lib.emulator.options import add_arguments, config_from_args
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportResult
from report_lib.render.sanitize import render_result_html
from report_lib.reports.factcheck import check_report
from report_lib.reports.facts import compute_all_facts
from report_lib.reports.offline.mistakes import PARAPHRASED, hallucinate, paraphrase
from report_lib.reports.offline.writer import write_report
from tests.helpers import generate_with_emulator, planted_figures

FAST = "fixed:0.02"


def flagged(run: dict[str, Any]) -> dict[str, set[tuple[int, str]]]:
    return {key: {(u["line"], u["text"]) for u in check["unsupported"]}
            for key, check in run["fact_check"].items()}


def untimed(checks: dict[str, Any]) -> dict[str, Any]:
    """The fact checks without what a cache hit changes: the repair turns' seconds and cost."""
    return {key: {**c, "repair": {**c["repair"], "seconds": None, "cost_usd": None}}
            for key, c in checks.items()}


@pytest.mark.slow
def test_planted_wrong_numbers_are_exactly_the_unsupported_ones(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, run, stats = generate_with_emulator(
        sample_dir["workbooks_dir"], tmp_path / "run.json",
        ["--backend", "bedrock", "--fail-on-unsupported", "--repair", "off"],
        latency_model=FAST, hallucinate=0.08, paraphrase=True, seed=4)
    truth = planted_figures(stats)
    assert set(truth) == {"kpi", "cpo", "trend"}  # every report got wrong numbers
    assert flagged(run) == truth
    assert any(c["change"] == PARAPHRASED for c in stats["changed"])  # and true rewrites
    assert code == 1  # --fail-on-unsupported
    printed = capsys.readouterr().out
    for key, check in run["fact_check"].items():
        verdict = f"{check['supported']}/{check['checked']} !"
        assert any(line.startswith(key) and verdict in line for line in printed.splitlines())
    first = sorted(truth["kpi"])[0]
    assert f"kpi line {first[0]}: {first[1]!r} not in the facts" in printed


@pytest.mark.slow
def test_paraphrases_alone_check_clean_and_do_not_fail(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None
) -> None:
    code, run, stats = generate_with_emulator(
        sample_dir["workbooks_dir"], tmp_path / "run.json", ["--fail-on-unsupported"],
        latency_model=FAST, paraphrase=True)
    assert code == 0 and stats["changed"]
    assert all(check["unsupported"] == [] and check["checked"] > 20
               for check in run["fact_check"].values())


@pytest.mark.slow
def test_streamed_and_cached_reports_are_checked_alike(
    sample_frame: pd.DataFrame, tmp_path: Path, dummy_credentials: None
) -> None:
    seen: list[ReportResult] = []
    with Emulator(latency_model=FAST, hallucinate=0.05, seed=2) as emu:
        settings = BackendSettings(stream=True, cache_dir=str(tmp_path / "cache"),
                                   endpoint_url=emu.url)
        first = generate_reports(sample_frame, backend="bedrock", settings=settings,
                                 on_result=seen.append)
        again = generate_reports(sample_frame, backend="bedrock", settings=settings)
    assert all(r.cached for r in again.results) and not any(r.cached for r in first.results)
    # the repair turns are cached too: the same versions, free and fast the second time
    assert untimed(first.to_dict()["fact_check"]) == untimed(again.to_dict()["fact_check"])
    assert all(c["repair"]["cost_usd"] == 0 and c["repair"]["rounds"] == 1
               for c in again.to_dict()["fact_check"].values())
    assert {r.key: r.fact_check for r in seen} == first.to_dict()["fact_check"]
    assert any(check["unsupported"] for check in first.to_dict()["fact_check"].values())


def test_offline_run_has_a_clean_fact_check_per_report(sample_frame: pd.DataFrame) -> None:
    run = generate_reports(sample_frame, backend="offline").to_dict()
    assert set(run["fact_check"]) == {"kpi", "cpo", "trend"}
    for check in run["fact_check"].values():
        assert check["unsupported"] == [] and check["supported"] == check["checked"] > 20


# ---------------------------------------------------------------- the page
def test_the_page_gives_a_verdict_and_marks_each_unsupported_number(
    sample_frame: pd.DataFrame,
) -> None:
    facts = compute_all_facts(sample_frame, focus_cpo="GS차지비")["kpi"]
    text, changes = hallucinate(write_report(facts), facts, 0.1, random.Random(3))
    check = check_report(text, facts).to_dict()
    result = ReportResult("kpi", "kpi", content=text, fact_check=check)
    html = render_result_html(result)
    verdict = f"{check['supported']}/{check['checked']} !"
    assert html.startswith(f"<p><em>Fact check {verdict}: {len(changes)} number(s)")
    assert html.count("<mark ") == len(changes)
    for item in check["unsupported"]:
        title = f'title="nearest fact: {item["nearest"]}"'
        assert f"{title}>{item['text']}</mark>" in html


def test_a_clean_report_gets_a_clean_verdict(sample_frame: pd.DataFrame) -> None:
    facts = compute_all_facts(sample_frame, focus_cpo="GS차지비")["cpo"]
    text = write_report(facts)
    check = check_report(text, facts).to_dict()
    html = render_result_html(ReportResult("cpo", "cpo", content=text, fact_check=check))
    assert html.startswith(f"<p><em>Fact check {check['checked']}/{check['checked']}: every")
    assert "<mark" not in html


@pytest.mark.parametrize(("planted_html", "kept"), [
    ('<mark title="x">1</mark>', '<mark title="x">1</mark>'),
    ('<mark title="x" onclick="alert(1)" class="c" style="color:red">1</mark>',
     '<mark title="x">1</mark>'),
    ('<span title="x">1</span>', "1"),
])
def test_the_sanitizer_allows_mark_with_a_title_and_nothing_more(
    planted_html: str, kept: str
) -> None:
    from report_lib.render.sanitize import render_markdown_safe

    assert render_markdown_safe(planted_html) == f"<p>{kept}</p>\n"


# ---------------------------------------------------------------- the emulator's truth
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_hallucinate_changes_the_asked_share_and_says_what(
    sample_frame: pd.DataFrame, kind: str
) -> None:
    facts = compute_all_facts(sample_frame, focus_cpo="에버온")[kind]
    clean = write_report(facts)
    checked = check_report(clean, facts).checked
    text, changes = hallucinate(clean, facts, 1.0, random.Random(0))
    assert len(changes) > 0.5 * checked  # one-digit numbers and %p changes are left alone
    some = [len(hallucinate(clean, facts, 0.2, random.Random(seed))[1]) for seed in range(20)]
    assert 0.15 * checked < sum(some) / len(some) < 0.25 * checked
    lines = text.splitlines()
    for change in changes:
        assert change.now in lines[change.line - 1] and change.now != change.was
    assert {c.how for c in changes} >= {"digits swapped", "share off by a point",
                                        "month shifted"} - ({"month shifted"} if kind == "cpo"
                                                            else set())
    assert hallucinate(clean, facts, 0.0, random.Random(0)) == (clean, [])


def test_paraphrase_writes_korean_units_and_stays_true(sample_frame: pd.DataFrame) -> None:
    facts = compute_all_facts(sample_frame, focus_cpo="GS차지비")["kpi"]
    text, changes = paraphrase(write_report(facts), facts, random.Random(1))
    hows = {c.how for c in changes}
    assert {"rounded with 약", "%p as %포인트, sign in words"} <= hows
    assert any(how.startswith("만 units") for how in hows)
    assert check_report(text, facts).unsupported == []


def test_emulator_options_hallucinate_and_paraphrase() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--hallucinate", "0.1", "--paraphrase"]))
    assert (config.hallucinate, config.paraphrase) == (0.1, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--hallucinate", "1.5"])
    with pytest.raises(ValueError, match="hallucinate"):
        Emulator(hallucinate=2.0)
