"""Repair turns: flagged figures asked for again inside the run, and the report delivered right.

In-process tests use a scripted backend and a reviewer that flags the word WRONG; the others run
the real emulator process (real HTTP, boto3 / aiobotocore), wrong on purpose (--hallucinate),
whose ``GET /stats`` says which figures it planted, corrected or kept.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports
from report_lib.app.signals import sigterm_as_interrupt
from report_lib.cli.main import main
from report_lib.emulator import Emulator
from report_lib.errors import BackendError, ConfigError, RunInterrupted
from report_lib.execution import run_jobs
from report_lib.execution.calls import make_result
from report_lib.execution.repair import Repair
from report_lib.llm.backends import BaseBackend
from report_lib.llm.settings import BackendSettings
from report_lib.pipeline.parameters import check_parameter
from report_lib.records import CallOutcome, RepairPolicy, ReportJob
from report_lib.render.sanitize import render_result_html
from report_lib.reports.build import build_jobs
from report_lib.reports.factcheck import delivered, parse_follow_up, parse_repair
from report_lib.reports.factcheck.reviewer import follow_up_message
from report_lib.reports.offline.mistakes import HALLUCINATED
from report_lib.reports.offline.model_answers import answer_conversation, answer_for, repair_answer
from tests.helpers import (
    REPO,
    aws_isolated_env,
    generate_with_emulator,
    load_script,
    own_group,
    planted_figures,
    repaired_figures,
    wait_while_running,
)

FAST = "fixed:0.05"
HANG_S = 30.0


# ---------------------------------------------------------------- a scripted backend
@dataclass(frozen=True)
class WordReviewer:
    """Flags every WRONG in an answer, one item per occurrence, with its line."""

    def review(self, job: ReportJob, text: str) -> dict[str, Any]:
        flags = [{"text": "WRONG", "value": "WRONG", "line": n, "kind": "number",
                  "nearest": "RIGHT"}
                 for n, line in enumerate(text.split("\n"), start=1)
                 for _ in range(line.count("WRONG"))]
        words = len(text.split())
        return {"checked": words, "supported": words - len(flags), "derived": 0,
                "unsupported": flags}

    def follow_up(self, job: ReportJob, text: str, check: dict[str, Any]) -> str:
        return f"fix {len(check['unsupported'])}"


Script = Callable[[ReportJob, int], str]  # (job, repair number: 0 = first answer) -> text
Hook = Callable[[ReportJob], bool]  # runs at the start of a repair call; True: hang there


class ScriptedBackend(BaseBackend):
    """Answers from ``script``; records every call; ``during_repair`` runs inside repairs."""

    name = "scripted"

    def __init__(self, script: Script, during_repair: Hook | None = None) -> None:
        self.script = script
        self.during_repair = during_repair
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def _answer(self, job: ReportJob) -> CallOutcome:
        with self.lock:  # 0: the first answer; n: the n-th repair of this job
            number = 1 + sum(1 for key, n in self.calls if key == job.key and n) if job.turns \
                else 0
            self.calls.append((job.key, number))
        return CallOutcome(self.script(job, number), input_tokens=10 * (1 + len(job.turns)),
                           output_tokens=5)

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        if job.turns and self.during_repair is not None and self.during_repair(job):
            self.release.wait(HANG_S)
            raise RuntimeError("the call was not interrupted")
        return self._answer(job)

    async def acall(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        if job.turns and self.during_repair is not None and \
                await asyncio.to_thread(self.during_repair, job):
            await asyncio.sleep(HANG_S)
            raise RuntimeError("the call was not interrupted")
        return self._answer(job)

    def close(self) -> None:
        self.release.set()


def _jobs(n: int, rounds: int = 1) -> list[ReportJob]:
    policy = RepairPolicy(rounds, WordReviewer())
    return [ReportJob(key=f"r{i}", kind="kpi", system="s", prompt=f"p{i}", repair=policy)
            for i in range(n)]


def fixes_one_per_round(wrong: int) -> Script:
    """The first answer has ``wrong`` WRONGs; each repair turn fixes one more."""
    return lambda job, n: " ".join(["WRONG"] * max(0, wrong - n) + ["RIGHT"] * min(wrong, n))


LOCAL = ["sequential", "thread", "asyncio"]


@pytest.mark.parametrize("strategy", LOCAL)
def test_a_clean_answer_costs_no_extra_call(strategy: str) -> None:
    backend = ScriptedBackend(lambda job, n: "RIGHT RIGHT")
    results = run_jobs(_jobs(3), BackendSettings(), strategy=strategy, backend=backend)
    assert sorted(backend.calls) == [("r0", 0), ("r1", 0), ("r2", 0)]
    for r in results:
        assert r.fact_check is not None
        repair = r.fact_check["repair"]
        assert (repair["rounds"], repair["stopped"], repair["input_tokens"]) == (0, "clean", 0)
        assert r.versions == [] and r.content == "RIGHT RIGHT"


@pytest.mark.parametrize("strategy", LOCAL)
def test_the_version_with_fewer_flags_is_delivered_with_every_turn_counted(
    strategy: str,
) -> None:
    backend = ScriptedBackend(fixes_one_per_round(3))
    results = run_jobs(_jobs(2, rounds=5), BackendSettings(), strategy=strategy,
                       backend=backend)
    for r in results:
        assert r.content == "RIGHT RIGHT RIGHT"
        assert r.versions == ["WRONG WRONG WRONG", "WRONG WRONG RIGHT", "WRONG RIGHT RIGHT",
                              "RIGHT RIGHT RIGHT"]
        check = r.fact_check
        assert check is not None and len(check["unsupported"]) == 3  # the first answer's flags
        repair = check["repair"]
        assert (repair["rounds"], repair["fixed"], repair["remaining"], repair["version"],
                repair["stopped"]) == (3, 3, 0, 3, "clean")
        assert repair["delivered"]["unsupported"] == []
        # every turn's tokens: the first answer 10 in / 5 out, each repair 30 in / 5 out
        assert (r.input_tokens, r.output_tokens) == (10 + 3 * 30, 4 * 5)
        assert (repair["input_tokens"], repair["output_tokens"]) == (3 * 30, 3 * 5)
        assert r.seconds >= repair["seconds"]


@pytest.mark.parametrize(("repaired", "version"), [
    ("WRONG WRONG", 0),  # as many flags: the original is kept
    ("WRONG WRONG WRONG", 0),  # more: the original
    ("WRONG RIGHT", 1),  # fewer: the repair
])
def test_ties_and_worse_repairs_keep_the_original(repaired: str, version: int) -> None:
    backend = ScriptedBackend(lambda job, n: repaired if n else "WRONG WRONG")
    [r] = run_jobs(_jobs(1), BackendSettings(), strategy="sequential", backend=backend)
    assert r.fact_check is not None
    assert r.fact_check["repair"]["version"] == version
    assert r.content == ("WRONG WRONG", repaired)[version]
    assert r.versions == ["WRONG WRONG", repaired]
    assert r.fact_check["repair"]["stopped"] == "rounds"


@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_three_reports_repair_in_parallel(strategy: str) -> None:
    """Each repair waits until all three are in flight: run one after another, they would
    break the barrier (a failed repair: the flagged first answer delivered)."""
    barrier = threading.Barrier(3, timeout=10)
    backend = ScriptedBackend(fixes_one_per_round(1),
                              during_repair=lambda job: barrier.wait() < 0)
    results = run_jobs(_jobs(3), BackendSettings(), strategy=strategy, backend=backend)
    assert [r.fact_check["repair"]["stopped"] for r in results if r.fact_check] == ["clean"] * 3
    assert all(r.content == "RIGHT" for r in results)


def test_a_failed_repair_delivers_the_first_answer_with_its_flags() -> None:
    def fail(job: ReportJob) -> bool:
        raise BackendError("throttled for good", error_type="ThrottlingException", attempts=4)

    backend = ScriptedBackend(fixes_one_per_round(2), during_repair=fail)
    [r] = run_jobs(_jobs(1), BackendSettings(), strategy="thread", backend=backend)
    assert r.ok and r.content == "WRONG WRONG"
    assert r.fact_check is not None
    repair = r.fact_check["repair"]
    assert (repair["rounds"], repair["remaining"], repair["stopped"]) == (0, 2, "error")
    assert repair["error"] == "ThrottlingException: throttled for good"


def test_a_repair_that_would_pass_the_deadline_is_not_sent() -> None:
    """The decision itself: sent while the time left covers what the last call took."""
    job = _jobs(1)[0]
    settings = BackendSettings(deadline_s=10.0)
    first = make_result(job, settings, 0.0, 4.0, outcome=CallOutcome("WRONG", 5, 5))
    request = Repair(job, settings, first).next_job(elapsed=5.0)
    assert request is not None and request.deadline_s == pytest.approx(5.0)
    assert request.turns == (("assistant", "WRONG"), ("user", "fix 1"))
    late = Repair(job, settings, first)
    assert late.next_job(elapsed=6.5) is None and late.stopped == "deadline"
    result = late.result(6.5)
    assert result.content == "WRONG" and result.fact_check is not None
    assert result.fact_check["repair"]["remaining"] == 1


# ---------------------------------------------------------------- Ctrl-C during a repair
@pytest.mark.slow
@pytest.mark.parametrize("strategy", LOCAL)
def test_ctrl_c_during_a_repair_keeps_the_versions_that_finished(strategy: str) -> None:
    """r0: the first answer and one repair finish, the second repair is interrupted; r1 has
    not started (one call at a time)."""
    def second_repair_signals(job: ReportJob) -> bool:
        if job.turns[0][1] != "WRONG WRONG RIGHT":  # the version the second repair fixes
            return False
        # Ctrl-C, to the main thread, once it waits for results (a signal that comes while it
        # is on its way into a lock's wait is not seen until the wait ends)
        time.sleep(0.2)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        return True

    backend = ScriptedBackend(fixes_one_per_round(3), during_repair=second_repair_signals)
    started = time.monotonic()
    try:
        with sigterm_as_interrupt(), pytest.raises(RunInterrupted) as info:
            run_jobs(_jobs(2, rounds=3), BackendSettings(), strategy=strategy,
                     max_concurrency=1, backend=backend)
    finally:
        backend.close()
    assert time.monotonic() - started < HANG_S / 2
    results = info.value.results
    assert results is not None
    r0, r1 = results
    assert r0.ok and r0.content == "WRONG WRONG RIGHT"
    assert r0.versions == ["WRONG WRONG WRONG", "WRONG WRONG RIGHT"]
    assert r0.fact_check is not None
    assert r0.fact_check["repair"]["stopped"] == "interrupted"
    assert (r0.fact_check["repair"]["rounds"], r0.fact_check["repair"]["fixed"]) == (1, 1)
    assert r1.error_type == "Interrupted"
    assert str(info.value) == "stopped by SIGINT: 1 of 2 reports had finished"


# ---------------------------------------------------------------- the real emulator
def flags(check: dict[str, Any] | None) -> set[tuple[int, str]]:
    return {(u["line"], u["text"]) for u in (check or {}).get("unsupported", [])}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_every_planted_figure_is_corrected_in_one_round(
    strategy: str, sample_frame: pd.DataFrame, dummy_credentials: None
) -> None:
    with Emulator(latency_model=FAST, hallucinate=0.08, paraphrase=True, seed=4) as emu:
        run = generate_reports(sample_frame, backend="bedrock", strategy=strategy,
                               settings=BackendSettings(endpoint_url=emu.url))
        stats = emu.stats()
    out = run.to_dict()
    truth = planted_figures(stats)
    assert set(truth) == {"kpi", "cpo", "trend"} and stats["requests"] == 6
    assert repaired_figures(stats, "corrected") == truth
    for r in run.results:
        check = out["fact_check"][r.key]
        assert flags(check) == truth[r.key]  # the first answer's flags are kept
        repair = check["repair"]
        assert (repair["rounds"], repair["remaining"], repair["stopped"]) == (1, 0, "clean")
        assert repair["fixed"] == len(truth[r.key])
        assert r.versions[1] == r.content == out["reports"][r.key]["content"]
        assert out["reports"][r.key]["versions"][0] != r.content
        html = render_result_html(r)
        assert f"corrected: {repair['fixed']} figures; every number" in html
        assert "<mark" not in html
    # usage and cost count every turn: the emulator's own token counts
    total = out["usage_total"]
    assert (total["input_tokens"], total["output_tokens"]) == (
        stats["input_tokens"], stats["output_tokens"])
    repair_out = sum(c["repair"]["output_tokens"] for c in out["fact_check"].values())
    assert 0 < repair_out < total["output_tokens"]


@pytest.mark.slow
def test_fail_on_unsupported_reads_the_delivered_reports(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every first answer is wrong, every repair right: the run does not fail."""
    code, run, _ = generate_with_emulator(
        sample_dir["workbooks_dir"], tmp_path / "run.json", ["--fail-on-unsupported"],
        latency_model=FAST, hallucinate=0.08, seed=4)
    printed = capsys.readouterr().out
    assert code == 0
    for key, check in run["fact_check"].items():
        fixed = check["repair"]["fixed"]
        assert fixed == len(check["unsupported"]) > 0
        final = check["repair"]["delivered"]
        assert f"{final['supported']}/{final['checked']} +{fixed}" in printed
        assert f"{key}: corrected: {fixed} figures (repair turn)" in printed
    assert "not in the facts" not in printed


@pytest.mark.slow
def test_dask_workers_repair_too(sample_frame: pd.DataFrame, dummy_credentials: None) -> None:
    with Emulator(latency_model=FAST, hallucinate=0.08, seed=4) as emu:
        run = generate_reports(sample_frame, backend="bedrock", strategy="dask",
                               settings=BackendSettings(endpoint_url=emu.url))
        stats = emu.stats()
    assert stats["requests"] == 6
    corrected = repaired_figures(stats, "corrected")
    for r in run.results:  # every flagged figure (each a planted one) corrected
        assert r.fact_check and r.fact_check["repair"]["stopped"] == "clean"
        assert corrected[r.key] == flags(r.fact_check) <= planted_figures(stats)[r.key]


@pytest.mark.slow
def test_a_clean_run_sends_no_repair(sample_frame: pd.DataFrame,
                                     dummy_credentials: None) -> None:
    with Emulator(latency_model=FAST, paraphrase=True) as emu:
        run = generate_reports(sample_frame, backend="bedrock",
                               settings=BackendSettings(endpoint_url=emu.url))
        stats = emu.stats()
    assert stats["requests"] == 3
    assert all(c["repair"]["rounds"] == 0 for c in run.to_dict()["fact_check"].values())


@pytest.mark.slow
def test_a_partial_repair_marks_what_remains_and_fails_on_unsupported(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, run, stats = generate_with_emulator(
        sample_dir["workbooks_dir"], tmp_path / "run.json", ["--fail-on-unsupported"],
        latency_model=FAST, hallucinate=0.1, seed=7, repair_quality=0.5)
    kept, fixed = repaired_figures(stats, "kept"), repaired_figures(stats, "corrected")
    assert sum(map(len, kept.values())) and sum(map(len, fixed.values()))
    printed = capsys.readouterr().out
    for key, check in run["fact_check"].items():
        repair = check["repair"]
        remaining = flags(repair["delivered"])
        assert remaining == kept.get(key, set())
        assert repair["fixed"] == len(fixed.get(key, set())) == len(flags(check)) - len(remaining)
        if repair["fixed"]:
            assert f"{key}: corrected: {repair['fixed']} figure" in printed
        for line, text in remaining:
            assert f"{key} line {line}: {text!r} not in the facts" in printed
    assert code == 1  # what is delivered still has unsupported figures


@pytest.mark.slow
def test_a_repeated_mistake_uses_every_round_and_stays_marked(
    sample_frame: pd.DataFrame, dummy_credentials: None
) -> None:
    with Emulator(latency_model=FAST, hallucinate=0.08, seed=4,
                  hallucinate_repeat=True) as emu:
        run = generate_reports(sample_frame, backend="bedrock", kinds=["kpi"], repair=3,
                               settings=BackendSettings(endpoint_url=emu.url))
        stats = emu.stats()
    [r] = run.results
    check = r.fact_check
    assert check is not None
    repair = check["repair"]
    assert (repair["rounds"], repair["stopped"], repair["remaining"]) == (3, "rounds", 1)
    assert stats["requests"] == 4 and len(r.versions) == 4
    first_flag = check["unsupported"][0]
    assert flags(repair["delivered"]) == {(first_flag["line"], first_flag["text"])}
    html = render_result_html(r)
    assert html.count("<mark ") == 1 and f">{first_flag['text']}</mark>" in html


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_the_deadline_cuts_off_a_repair_that_would_pass_it(
    strategy: str, sample_frame: pd.DataFrame, dummy_credentials: None
) -> None:
    """Calls take 1 s and the deadline is 1.5 s: the first answers arrive, no repair is
    sent, the reports are delivered with their marks."""
    with Emulator(latency_model="fixed:1", hallucinate=0.08, seed=4) as emu:
        run = generate_reports(sample_frame, backend="bedrock", strategy=strategy,
                               settings=BackendSettings(endpoint_url=emu.url, deadline_s=1.5))
        stats = emu.stats()
    assert run.success and stats["requests"] == 3
    for r in run.results:
        check = r.fact_check
        assert check is not None and check["unsupported"]
        assert check["repair"]["stopped"] == "deadline"
        assert flags(delivered(check)) == flags(check)
        assert render_result_html(r).count("<mark ") == len(check["unsupported"])


# ---------------------------------------------------------------- Ctrl-C, real processes
@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "process", "dask"])
def test_ctrl_c_during_a_repair_writes_the_first_answer(
    strategy: str, sample_dir: dict, tmp_path: Path
) -> None:
    """One call at a time, 2 s each: after the first answer, its repair is in flight."""
    with Emulator(latency_model="fixed:2", hallucinate=0.08, seed=4) as emu:
        out = tmp_path / "run.json"
        cmd = [sys.executable, "-m", "report_lib", "generate", "--no-progress",
               "--data", str(sample_dir["workbooks_dir"]), "--endpoint-url", emu.url,
               "--strategy", strategy, "--max-concurrency", "1", "--out", str(out)]
        with own_group(cmd, env=aws_isolated_env(tmp_path)) as proc:
            # until the first answer is in and its repair was sent
            wait_while_running(proc, lambda: emu.stats()["requests"] >= 2, 120,
                               "no repair was sent", interval=0.05)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        stats = emu.stats()
    assert proc.returncode == 130, err
    run = json.loads(out.read_text(encoding="utf-8"))
    first = next(key for key in ("kpi", "cpo", "trend") if key in run["reports"])
    assert set(run["reports"]) == {first}
    check = run["fact_check"][first]
    assert check["repair"]["stopped"] == "interrupted" and check["repair"]["rounds"] == 0
    assert flags(check) == planted_figures(stats)[first]  # delivered with its marks
    assert {run["errors"][k]["type"] for k in run["errors"]} == {"Interrupted"}


# ---------------------------------------------------------------- options and messages
@pytest.mark.parametrize("value", ["-1", "lots", "6", "1.5", ""])
def test_bad_repair_values_stop_with_one_line(value: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["generate", "--backend", "offline", "--repair", value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (f"argument --repair: expected off, once or a number of rounds from 0 to 5, "
            f"got {value!r}") in err[0]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(("value", "rounds"), [("off", 0), ("once", 1), ("ONCE", 1), ("3", 3),
                                               (2, 2), ("0", 0)])
def test_repair_values(value: object, rounds: int) -> None:
    assert parse_repair(value) == rounds


def test_the_notebook_parameter_is_checked_like_the_option() -> None:
    check_parameter("repair", "2", "str")
    check_parameter("repair", 2, "str")  # -p repair 2 arrives as a number
    with pytest.raises(ConfigError, match="parameter repair = 'lots': expected off, once"):
        check_parameter("repair", "lots", "str")
    with pytest.raises(ConfigError, match="parameter repair = 9: expected a number"):
        check_parameter("repair", 9, "str")


def test_offline_runs_are_not_repaired_by_default(sample_frame: pd.DataFrame) -> None:
    run = generate_reports(sample_frame, backend="offline")
    assert all(r.fact_check is not None and "repair" not in r.fact_check for r in run.results)
    forced = generate_reports(sample_frame, backend="offline", repair="once")
    assert all(r.fact_check and r.fact_check["repair"]["rounds"] == 0 for r in forced.results)


# ---------------------------------------------------------------- the follow-up, the emulator
def test_the_follow_up_lists_each_flag_and_reads_back() -> None:
    items = [{"line": 6, "text": "459,210", "nearest": "459,120 (national.total_chargers)"},
             {"line": 9, "text": "2026년 3월", "nearest": None}]
    answer = "\n".join(f"line {n}" for n in range(1, 6)) + "\n총 충전기는  459,210기로\n\n\n" \
        + "기준월 2026년 3월 (\"월말\")"
    for language in ("ko", "en"):
        text = follow_up_message(items, language, answer)
        assert '- line 6: wrote "459,210"; nearest fact: 459,120 (national.total_chargers); ' \
            "in: 총 충전기는 459,210기로" in text
        assert '- line 9: wrote "2026년 3월"; nearest fact: none; in: 기준월 2026년 3월 ("월말")' \
            in text
        assert parse_follow_up(text) == [(6, "459,210"), (9, "2026년 3월")]
    assert parse_follow_up("please write the report again") is None


def test_the_emulator_answers_a_repair_turn_from_the_conversation(
    sample_frame: pd.DataFrame,
) -> None:
    [job] = build_jobs(sample_frame, month="latest", focus_cpo="GS차지비", window=12,
                       language="ko", kinds=["kpi"])
    first = answer_for(job.system, job.prompt, 0.1, False, 3)
    wrong = [c for c in first.changes if c["change"] == HALLUCINATED]
    assert wrong
    listed = tuple((c["line"], c["now"]) for c in wrong)
    follow = follow_up_message([{"line": n, "text": t, "nearest": None} for n, t in listed])
    turns = (("user", job.prompt), ("assistant", first.text), ("user", follow))
    fixed = answer_conversation(job.system, turns, 0.1, False, 3)
    lines = fixed.text.split("\n")
    for change in wrong:
        assert change["was"] in lines[change["line"] - 1]
    assert [c["change"] for c in fixed.changes] == ["corrected"] * len(wrong)
    kept = repair_answer(job.system, job.prompt, first.text, listed, 0.1, False, 3, 1.0, True)
    assert [c["change"] for c in kept.changes] == ["kept"] + ["corrected"] * (len(wrong) - 1)
    none = repair_answer(job.system, job.prompt, first.text, listed, 0.1, False, 3, 0.0)
    assert none.text == first.text
    # a conversation that is no repair turn is answered from its user messages, as before
    other = (("user", job.prompt), ("assistant", "hi"), ("user", "and now in English?"))
    assert answer_conversation(job.system, other).text == answer_for(
        job.system, job.prompt + "\nand now in English?").text


def test_a_repair_request_is_the_prompt_the_answer_and_the_follow_up() -> None:
    from report_lib.llm.wire import build_request, estimate_request_tokens

    job = ReportJob("kpi", "kpi", "sys", "prompt")
    again = replace(job, turns=(("assistant", "answer"), ("user", "fix 1")))
    request = build_request(again, BackendSettings())
    assert [(m["role"], m["content"][0]["text"]) for m in request["messages"]] == [
        ("user", "prompt"), ("assistant", "answer"), ("user", "fix 1")]
    assert estimate_request_tokens(again, BackendSettings()) > estimate_request_tokens(
        job, BackendSettings())
    assert again.label == "kpi (repair 1)" and job.label == "kpi"


# ---------------------------------------------------------------- the benchmark's sentences
def test_the_repair_benchmark_table_is_computed_from_its_rows() -> None:
    module = load_script(REPO / "benchmarks" / "factcheck_eval.py", "factcheck_eval")
    quality = {"clean_delivered": 9, "clean_of_wrong": 3, "right_delivered": 8, "repairs": 4,
               "repairs_of_clean": 0, "left_wrong": 2, "left_marked": 2, "fixed": 11,
               "input_tokens": 4000, "output_tokens": 1500, "cost_usd": 0.0345}
    result = {"reports": 10, "wrong_reports": 4, "share": 0.3, "rate": 0.05, "language": "ko",
              "planted": 20, "unflagged": 1, "first_input_tokens": 10_000,
              "first_output_tokens": 8_000, "first_cost_usd": 0.15,
              "qualities": {"0.5": quality}}
    latency = {"repeats": 2, "time_scale": 0.2, "load_avg_1m": 1.5, "clean_median_s": 4.0,
               "repaired_median_s": 7.0, "ratio": 1.75,
               "runs": {"clean": [{"requests": 3}, {"requests": 3}],
                        "repaired": [{"requests": 6, "remaining": 1},
                                     {"requests": 6, "remaining": 0}]}}
    table = module.repair_markdown(result, latency)
    assert "| wrong figures the check cannot flag (a one-step derivation gives them) | 1 of 20 " \
        "planted (5.00%), delivered as written |" in table
    assert "| quality 0.5: delivered with no unsupported figure | 9 of 10 (90.00%); of the " \
        "wrong ones 3 of 4 (75.00%) |" in table
    assert "| quality 0.5: delivered with no wrong figure (the emulator's truth) | 8 of 10 " \
        "(80.00%) |" in table
    assert "| quality 0.5: flagged wrong figures left, marked | 2 of 2 marked; 11 corrected |" \
        in table
    assert "| quality 0.5: repair turns | 4 (0 for reports with no wrong figure) |" in table
    assert "4,000 in + 1,500 out, $0.03 (first answers: 10,000 + 8,000, $0.15)" in table
    assert "| run of 3 reports, each needing one repair (median) | 7.00 s = 1.75x the clean " \
        "run, 6 calls, 1 figures left in 2 runs |" in table
