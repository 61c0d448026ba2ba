"""Quota options on the command line: --burndown, bad quotas and limits that a strategy cannot
split end in one line, exit 2, before any call."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from report_lib.cli.common import settings_from_args
from report_lib.cli.main import build_parser, main
from report_lib.emulator import Emulator
from report_lib.errors import ConfigError
from report_lib.execution.base import share_limits
from report_lib.llm.limiter import limiter_for
from report_lib.llm.settings import BackendSettings

TWO_CPUS = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                              reason="the process strategy splits only over 2+ CPUs")


def error_line(err: str) -> str:
    """The one line the error says (argparse's usage block, if it prints one, left out)."""
    lines = [line for line in err.splitlines()
             if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator(latency_model="fixed:0.01")


# -- bad values, refused by the option parser ----------------------------------------------------
BAD_LIMITS = [
    (["--burndown", "0"], "--burndown", "0"),
    (["--burndown", "-2"], "--burndown", "-2"),
    (["--burndown", "fast"], "--burndown", "fast"),
    (["--burndown", "nan"], "--burndown", "nan"),
    (["--burndown", "inf"], "--burndown", "inf"),
    (["--tpm-limit", "-5"], "--tpm-limit", "-5"),
    (["--tpm-limit", "lots"], "--tpm-limit", "lots"),
    (["--tpm-limit", "0"], "--tpm-limit", "0"),
    (["--rpm-limit", "0"], "--rpm-limit", "0"),
    (["--rpm-limit", "-3"], "--rpm-limit", "-3"),
    (["--rpm-limit", "many"], "--rpm-limit", "many"),
]


@pytest.mark.parametrize(("args", "option", "value"), BAD_LIMITS)
@pytest.mark.parametrize("command", [
    ["generate", "--backend", "offline", "--no-progress"],
    ["bench", "--scenario", "scale", "--n", "3", "--no-progress"],
])
def test_bad_limits_exit_2_in_one_line_before_anything_runs(
    command: list[str], args: list[str], option: str, value: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main([*command, "--out", str(out), *args])
    assert info.value.code == 2
    line = error_line(capsys.readouterr().err)
    assert f"argument {option}" in line and value in line
    assert not out.exists()


@pytest.mark.parametrize(("args", "option", "value"), [
    (["--burndown", "0"], "--burndown", "0"),
    (["--burndown", "x"], "--burndown", "x"),
    (["--tpm", "-5"], "--tpm", "-5"),
    (["--tpm", "lots"], "--tpm", "lots"),
    (["--rpm", "0"], "--rpm", "0"),
    (["--tpd", "-1"], "--tpd", "-1"),
    (["--quota-minute", "hourly"], "--quota-minute", "hourly"),
    (["--accounting", "free"], "--accounting", "free"),
])
def test_bad_emulator_quotas_exit_2_in_one_line(
    args: list[str], option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["emulator", *args])
    assert info.value.code == 2
    line = error_line(capsys.readouterr().err)
    assert f"argument {option}" in line and value in line


# -- --burndown reaches the limiter --------------------------------------------------------------
def test_burndown_option_sets_the_limiters_rate() -> None:
    ns = build_parser().parse_args(["generate", "--tpm-limit", "60000", "--burndown", "2.5"])
    settings = settings_from_args(ns)
    assert settings.burndown == 2.5
    limiter = limiter_for(settings)
    assert limiter is not None and limiter.burndown == 2.5
    default = settings_from_args(build_parser().parse_args(["generate", "--tpm-limit", "60000"]))
    assert default.burndown is None
    assert limiter_for(default).burndown == 5.0  # type: ignore[union-attr]  # Claude 4


@pytest.mark.slow
def test_generate_summary_charges_with_the_given_burndown(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None, emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run.json"
    code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--endpoint-url",
                 emulator.url, "--tpm-limit", "1000000", "--burndown", "2", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    run = json.loads(out.read_text(encoding="utf-8"))
    quota = run["quota"]
    assert quota["burndown"] == 2.0
    expected = sum(u["input_tokens"] + 2 * u["output_tokens"] for u in run["usage"].values())
    assert quota["charged_tokens"] == expected
    assert "output x 2)" in capsys.readouterr().out


# -- a limit the worker processes cannot split --------------------------------------------------
def test_share_limits_refuses_a_share_below_one_request() -> None:
    with pytest.raises(ConfigError) as info:
        share_limits(BackendSettings(rpm_limit=3), 4)
    message = str(info.value)
    assert message.startswith("--rpm-limit 3 cannot be split over 4 worker processes")
    assert "--workers 3" in message and "--strategy thread or asyncio" in message
    with pytest.raises(ConfigError) as info:
        share_limits(BackendSettings(tpm_limit=5_000, max_tokens=2_048), 4)
    message = str(info.value)
    assert message.startswith("--tpm-limit 5000 cannot be split over 4 worker processes: "
                              "1250 tokens per minute each")
    assert "--max-tokens 2048" in message and "--workers 2" in message
    with pytest.raises(ConfigError) as info:  # not even one worker could: no --workers advice
        share_limits(BackendSettings(tpm_limit=1_000, max_tokens=2_048), 2)
    assert "--workers" not in str(info.value)
    assert str(info.value).endswith("raise --tpm-limit, lower --max-tokens, or --strategy "
                                    "thread or asyncio (one limiter for the whole run)")
    shared = share_limits(BackendSettings(tpm_limit=10_000, rpm_limit=8, max_tokens=2_048), 4)
    assert (shared.tpm_limit, shared.rpm_limit) == (2_500, 2)  # never rounded up


@pytest.mark.slow
@TWO_CPUS
def test_generate_refuses_an_rpm_limit_its_processes_cannot_split(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None, emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = emulator.stats()["requests"]
    out = tmp_path / "run.json"
    code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--endpoint-url",
                 emulator.url, "--strategy", "process", "--rpm-limit", "1", "--out", str(out),
                 "--no-progress"])
    assert code == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith("report-lib: error: --rpm-limit 1 cannot be split over")
    assert emulator.stats()["requests"] == before  # no call was made
    assert not out.exists()


@TWO_CPUS
def test_bench_refuses_a_limit_before_its_first_case(
    tmp_path: Path, dummy_credentials: None, emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = emulator.stats()["requests"]
    out = tmp_path / "bench"
    code = main(["bench", "--scenario", "scale", "--n", "4", "--strategies", "thread,process",
                 "--endpoint-url", emulator.url, "--tpm-limit", "3000", "--repeats", "1",
                 "--no-warmup", "--no-progress", "--out", str(out)])
    assert code == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith("report-lib: error: --tpm-limit 3000 cannot be split over")
    assert "--max-tokens" in line
    assert emulator.stats()["requests"] == before  # the thread case did not run either
    assert not (out / "results.csv").exists()
