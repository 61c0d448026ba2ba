"""The fault suite: the emulator's injected network faults against the sync and async clients.

Cases of the reliability contract covered here: a never-answering endpoint ends at the
deadline with every report listed under errors; resets and truncated bodies are named and
retried; slow-then-ok recovers; the response cache never loses or forges an answer.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports
from report_lib.cli.generate import PendingReports, settings_with_time_limits
from report_lib.cli.main import build_parser, main
from report_lib.emulator import Emulator, EmulatorConfig
from report_lib.emulator.options import add_arguments, config_from_args
from report_lib.errors import (
    BackendError,
    CacheWarning,
    ConfigError,
    DeadlineExceeded,
    MalformedResponseError,
)
from report_lib.llm.progress import ProgressTicker
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob, ReportResult
from tests.helpers import call_once, emulator_test_settings

FAST = "fixed:0.05"
JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the report.")
MODES = ("sync", "async")


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """``emulator(**faults)``: one emulator per fault set for the module, counters reset."""
    return lambda **faults: start_emulator(latency_model=FAST, **faults)


def settings_for(emu: Emulator, **changes: Any) -> BackendSettings:
    return emulator_test_settings(emu.url, **{"max_attempts": 3, "backoff_max_s": 0.02,
                                               **changes})


def call(mode: str, settings: BackendSettings) -> CallOutcome | BackendError:
    """One report through a BedrockBackend, sync or async: the outcome or its error."""
    return call_once(mode, settings, JOB)


# -- resets and truncated bodies: named, retried ------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["converse", "stream"])
@pytest.mark.parametrize("mode", MODES)
def test_resets_are_named_in_sync_and_async(
    emulator: Callable[..., Emulator], mode: str, stream: bool
) -> None:
    emu = emulator(reset_rate=1.0)
    result = call(mode, settings_for(emu, stream=stream))
    assert isinstance(result, BackendError)
    assert (result.error_type, result.attempts) == ("ConnectionReset", 3)
    assert "was reset before the whole answer arrived" in str(result)
    assert emu.stats()["faults"] == {"reset": 3}


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["converse", "stream"])
@pytest.mark.parametrize("mode", MODES)
def test_truncated_bodies_are_named_in_sync_and_async(
    emulator: Callable[..., Emulator], mode: str, stream: bool
) -> None:
    emu = emulator(truncate_rate=1.0)
    result = call(mode, settings_for(emu, stream=stream))
    assert isinstance(result, MalformedResponseError)
    assert (result.error_type, result.attempts) == ("MalformedResponse", 3)
    assert "EmptyResponse" not in str(result)
    assert emu.stats()["faults"] == {"truncate": 3}


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault", [{"reset_first": 1}, {"truncate_first": 1}], ids=["reset", "truncate"]
)
@pytest.mark.parametrize("mode", MODES)
def test_one_fault_then_the_whole_answer(
    emulator: Callable[..., Emulator], mode: str, fault: dict[str, int]
) -> None:
    emu = emulator(**fault)
    first = call(mode, settings_for(emu))
    again = call(mode, settings_for(emu))  # the fault budget is spent: a clean answer
    assert isinstance(first, CallOutcome) and isinstance(again, CallOutcome)
    assert (first.attempts, again.attempts) == (2, 1)
    assert first.text == again.text and first.text.startswith("# ")
    assert emu.stats()["answered"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_slow_then_ok(emulator: Callable[..., Emulator], mode: str) -> None:
    emu = emulator(slow_first=1, slow_s=4.0)
    result = call(mode, settings_for(emu, read_timeout=1.0))
    assert isinstance(result, CallOutcome)
    assert result.attempts == 2  # the slow attempt timed out, the next one answered
    assert emu.stats()["faults"] == {"slow": 1}


# -- a never-answering endpoint ends at the deadline -------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_hang_ends_at_the_deadline(emulator: Callable[..., Emulator], mode: str) -> None:
    emu = emulator(hang_rate=1.0)
    started = time.monotonic()
    result = call(mode, settings_for(emu, deadline_s=1.5, max_attempts=8))
    elapsed = time.monotonic() - started
    assert isinstance(result, DeadlineExceeded) and isinstance(result, TimeoutError)
    assert result.error_type == "DeadlineExceeded" and result.attempts >= 1
    assert "no answer within the 1.5 s deadline" in str(result)
    assert elapsed < 15  # 1.5 s plus start-up; generous for a shared machine


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio", "process"])
def test_generate_against_a_hung_endpoint_lists_every_report_under_errors(
    sample_frame: pd.DataFrame, strategy: str
) -> None:
    run = generate_reports(
        sample_frame, backend="emulator", strategy=strategy,
        settings=BackendSettings(deadline_s=2.0, backoff_base_s=0.01, backoff_max_s=0.02),
        emulator=EmulatorConfig(latency_model=FAST, hang_rate=1.0),
    )  # fmt: skip
    contract = run.to_dict()
    assert contract["success"] is False and contract["reports"] == {}
    assert sorted(contract["errors"]) == ["cpo", "kpi", "trend"]
    assert {e["type"] for e in contract["errors"].values()} == {"DeadlineExceeded"}
    # one clock for the run: a report whose worker started after it (process start-up on a
    # busy machine) ends at once, with 0 attempts
    assert all("2 s deadline of the run" in e["message"] for e in contract["errors"].values())
    assert contract["total_time"] < 30


# -- the cache never loses or forges an answer --------------------------------------------------
@pytest.mark.slow
def test_a_cache_that_cannot_store_still_delivers_every_report(
    sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for shard in range(256):  # no entry folder can be created: every store fails
        (cache / f"{shard:02x}").write_text("", encoding="utf-8")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = generate_reports(
            sample_frame, backend="emulator", strategy="thread",
            settings=BackendSettings(cache_dir=str(cache)),
            emulator=EmulatorConfig(latency_model=FAST),
        )  # fmt: skip
    assert run.success and sorted(run.reports) == ["cpo", "kpi", "trend"]
    assert len([w for w in seen if issubclass(w.category, CacheWarning)]) == 1


def test_a_cache_path_that_is_a_file_is_refused_before_any_call(
    sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "cache"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="this is a file"):
        generate_reports(sample_frame, backend="offline",
                         settings=BackendSettings(cache_dir=str(path)))


@pytest.mark.slow
def test_cached_answers_are_not_served_to_another_endpoint(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    filled = call("sync", settings_for(emulator(), cache_dir=str(tmp_path)))
    assert isinstance(filled, CallOutcome) and not filled.cached
    other = emulator(seed=1)  # another endpoint
    result = call("sync", settings_for(other, cache_dir=str(tmp_path)))
    assert isinstance(result, CallOutcome) and not result.cached
    assert other.stats()["answered"] == 1
    same = call("async", settings_for(emulator(), cache_dir=str(tmp_path)))
    assert isinstance(same, CallOutcome) and same.cached


# -- the options ------------------------------------------------------------------------------
def test_fault_flags_round_trip() -> None:
    config = EmulatorConfig(hang_first=1, reset_rate=0.25, truncate_first=2, slow_first=3,
                            slow_s=2.5, reject=("trend",), tpm=1000)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(config.to_argv())) == config


@pytest.mark.parametrize(
    ("options", "message"),
    [({"reset_rate": 1.5}, "reset_rate must be a probability"),
     ({"hang_first": -1}, "hang_first must be >= 0"),
     ({"slow_s": 0}, "slow_s must be a number of seconds > 0")],
)
def test_bad_fault_options_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EmulatorConfig(**options)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--reset-rate", "1.5"], "argument --reset-rate: must be 0 to 1, got 1.5"),
     (["--hallucinate", "often"],
      "argument --hallucinate: expected a number (0 to 1), got 'often'"),
     (["--slow-s", "0"], "argument --slow-s: must be above 0, at most 86400, got 0"),
     (["--time-scale", "fast"],
      "argument --time-scale: expected a number (above 0, at most 100), got 'fast'")],
)
def test_bad_numeric_flags_are_refused_with_what_was_expected(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    assert expected in capsys.readouterr().err


def test_numeric_flags_in_range_are_read_as_numbers() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(["--reset-rate", "0.5", "--slow-s", "2.5", "--hallucinate", "1"])
    assert (ns.reset_rate, ns.slow_s, ns.hallucinate) == (0.5, 2.5, 1.0)


# -- the command line -------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_deadline_ends_a_run_against_a_hanging_endpoint(
    sample_dir: dict[str, Any], tmp_path: Path, dummy_credentials: None,
    emulator: Callable[..., Emulator],
) -> None:
    emu = emulator(hang_rate=1.0)
    out = tmp_path / "run.json"
    started = time.monotonic()
    code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--backend", "bedrock",
                 "--endpoint-url", emu.url, "--deadline", "2", "--out", str(out),
                 "--no-progress"])
    elapsed = time.monotonic() - started
    assert code == 1
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["reports"] == {} and sorted(run["errors"]) == ["cpo", "kpi", "trend"]
    assert {e["type"] for e in run["errors"].values()} == {"DeadlineExceeded"}
    assert elapsed < 30  # 2 s plus start-up; generous for a shared machine


def test_cli_cache_path_that_is_a_file_exits_2_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cache"
    path.write_text("", encoding="utf-8")
    out = tmp_path / "run.json"
    code = main(["generate", "--backend", "offline", "--cache", str(path), "--out", str(out),
                 "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "this is a file" in err and "--cache" in err
    assert not out.exists()


def test_cli_time_limits_reach_the_settings() -> None:
    ns = build_parser().parse_args(["generate", "--deadline", "7", "--read-timeout", "3",
                                    "--connect-timeout", "2"])
    settings = settings_with_time_limits(ns)
    assert (settings.deadline_s, settings.read_timeout, settings.connect_timeout) == (7, 3, 2)
    default = settings_with_time_limits(build_parser().parse_args(["generate"]))
    assert (default.deadline_s, default.read_timeout, default.connect_timeout) == (
        BackendSettings.deadline_s, BackendSettings.read_timeout, BackendSettings.connect_timeout
    )


def test_progress_line_counts_reports_run_elsewhere() -> None:
    pending = PendingReports(3)
    line = pending.line()
    assert line is not None and line.startswith("report-lib: 3 of 3 reports outstanding (")
    for _ in range(3):
        pending.finished(ReportResult(key="k", kind="kpi", content="x"))
    assert pending.line() is None


@pytest.mark.slow
def test_progress_ticker_emits_while_something_is_outstanding() -> None:
    seen: list[str] = []
    said = threading.Event()

    def emit(line: str) -> None:
        seen.append(line)
        said.set()

    with ProgressTicker(emit, interval_s=0.05, describe=lambda: "2 calls outstanding"):
        assert said.wait(timeout=10)
    before = len(seen)
    with ProgressTicker(emit, interval_s=0.01, describe=lambda: None):
        time.sleep(0.05)  # nothing outstanding: nothing said
    assert len(seen) == before and set(seen) == {"2 calls outstanding"}
