"""Faults named for what they are, each once, and answers capped by their request's maxTokens.

Against a real emulator process: a body cut short under its Content-Length (``--cut-rate``), a
200 answer that is not JSON (``--garbage-rate``), JSON that ends before it is complete
(``--truncate-rate``) and an answer of megabytes (``--oversize-rate``), through the sync and the
async client, Converse and ConverseStream alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from report_lib.cli.main import main
from report_lib.emulator import Emulator
from report_lib.errors import BackendError, OversizeResponseError
from report_lib.llm.settings import BackendSettings
from report_lib.llm.wire import answer_cap_bytes, check_converse_body
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import call_once, emulator_test_settings

JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the report.")
MODES = ("sync", "async")
OVERSIZE_MB = 4.0  # far above the cap of maxTokens 2,048 (about 1.1 MiB)


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    return lambda **faults: start_emulator(latency_model="fixed:0.05", oversize_mb=OVERSIZE_MB,
                                           **faults)


def call(mode: str, emu: Emulator, **changes: Any) -> CallOutcome | BackendError:
    """One report against ``emu`` (2 attempts, 10-20 ms backoff, maxTokens 2,048; ``changes``
    override), sync or async: the outcome or its error."""
    settings = emulator_test_settings(emu.url, **{"backoff_max_s": 0.02, "max_tokens": 2048,
                                                   **changes})
    return call_once(mode, settings, JOB)


NAMED = {  # fault -> (what the message must say, for Converse and for ConverseStream)
    "cut": ("bytes its Content-Length announced arrived before the connection closed",
            "cut short"),
    "garbage": ("answered HTTP 200 with a body that is not JSON (text/html",
                "answered ConverseStream with text/html"),
    "truncate": ("JSON ends before it is complete", "cut short"),
}


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["converse", "stream"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(NAMED))
def test_each_bad_body_is_named_for_what_it_is(
    emulator: Callable[..., Emulator], fault: str, mode: str, stream: bool
) -> None:
    emu = emulator(**{f"{fault}_rate": 1.0})
    result = call(mode, emu, stream=stream)
    assert isinstance(result, BackendError), result
    assert (result.error_type, result.attempts) == ("MalformedResponse", 2)  # retried
    message = str(result)
    assert NAMED[fault][stream] in message, message
    assert "reset" not in message and "proxy" not in message
    assert emu.stats()["faults"] == {fault: 2}


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["converse", "stream"])
@pytest.mark.parametrize("mode", MODES)
def test_an_answer_far_larger_than_max_tokens_is_refused(
    emulator: Callable[..., Emulator], mode: str, stream: bool
) -> None:
    emu = emulator(oversize_rate=1.0)
    result = call(mode, emu, stream=stream)
    assert isinstance(result, OversizeResponseError), result
    assert (result.error_type, result.attempts) == ("OversizeResponse", 1)  # not paid twice
    assert f"more than the {answer_cap_bytes(2048):,} a request of maxTokens 2,048" in str(result)
    assert emu.stats()["faults"] == {"oversize": 1}


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_cut_then_a_whole_answer_is_taken(emulator: Callable[..., Emulator], mode: str) -> None:
    emu = emulator(cut_first=1)
    outcome = call(mode, emu)
    assert isinstance(outcome, CallOutcome) and outcome.attempts == 2
    assert outcome.text.startswith("# ")


def test_the_cap_grows_with_max_tokens_and_checks_the_announced_length() -> None:
    assert answer_cap_bytes(2048) < answer_cap_bytes(64_000) < 50 * 1024 * 1024
    check = check_converse_body(BackendSettings(max_tokens=10))
    body = json.dumps({"output": {}, "stopReason": "end_turn"}).encode()
    check(response_dict={"status_code": 200, "headers": {}, "body": body})  # small: accepted
    announced = {"Content-Length": str(answer_cap_bytes(10) + 1)}
    with pytest.raises(OversizeResponseError):
        check(response_dict={"status_code": 200, "headers": announced, "body": body})
    check(response_dict={"status_code": 500, "headers": {}, "body": b"<html>"})  # not ours


@pytest.mark.slow
def test_the_run_table_names_a_reset_once(
    emulator: Callable[..., Emulator], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    dummy_credentials: None,
) -> None:
    emu = emulator(reset_rate=1.0)
    out = tmp_path / "run.json"
    code = main(["generate", "--no-progress", "--endpoint-url", emu.url, "--reports", "kpi",
                 "--max-attempts", "2", "--out", str(out)])
    assert code == 1
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("kpi ")]
    assert line.count("ConnectionReset") == 1, line
    assert "FAILED ConnectionReset after 2 attempt(s): the connection" in line
    error = json.loads(out.read_text(encoding="utf-8"))["errors"]["kpi"]
    assert error["type"] == "ConnectionReset"
    assert not error["message"].startswith("ConnectionReset")
