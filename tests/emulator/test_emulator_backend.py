"""The emulator reached through the backend it registers: the app never imports it, one default
backend everywhere, ``generate_reports(emulator=EmulatorConfig(...))`` typed."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports
from report_lib.cli.main import build_parser
from report_lib.emulator import EmulatorConfig
from report_lib.emulator.emulator_backend import EmulatorBackend
from report_lib.errors import ConfigError
from report_lib.llm.backends import BACKENDS
from report_lib.llm.settings import BackendSettings

FAST = "fixed:0.01"


@pytest.mark.slow
def test_the_app_runs_without_importing_the_emulator() -> None:
    code = ("import sys, report_lib.app.generate, report_lib.cli.main\n"
            "print(sorted(m for m in sys.modules if m.startswith('report_lib.emulator')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_one_default_backend_everywhere() -> None:
    default = inspect.signature(generate_reports).parameters["backend"].default
    generate = build_parser().parse_args(["generate"])
    assert BackendSettings().backend == default == generate.backend == "emulator"


def test_generate_reports_takes_a_typed_emulator_config() -> None:
    parameters = inspect.signature(generate_reports).parameters
    assert parameters["emulator"].annotation == "EmulatorConfig | None"
    assert "time_scale" not in parameters and "emulator_options" not in parameters


@pytest.mark.slow
def test_serve_starts_an_emulator_for_the_block_and_stops_it() -> None:
    settings = BackendSettings(backend="emulator")
    with BACKENDS.serve(settings, EmulatorConfig(latency_model=FAST, time_scale=0.5)) as ready:
        assert ready.settings.endpoint_url and ready.settings.endpoint_url.startswith("http://")
        assert ready.settings.limiter_window_s == pytest.approx(30.0)  # the scaled minute
        assert isinstance(BACKENDS.create(ready.settings), EmulatorBackend)
        described = ready.describe()["emulator"]
        assert described["time_scale"] == 0.5 and described["stats"]["requests"] == 0
        emulator = ready.emulator  # type: ignore[attr-defined]
        assert emulator.running
    assert not emulator.running


def test_serve_uses_a_running_endpoint_as_it_is() -> None:
    settings = BackendSettings(backend="emulator", endpoint_url="http://127.0.0.1:9")
    with BACKENDS.serve(settings, EmulatorConfig()) as ready:
        assert ready.settings == settings and ready.describe() == {}


def test_emulator_options_are_refused_by_the_other_backends_and_must_be_typed() -> None:
    with pytest.raises(ConfigError, match="offline backend takes no endpoint options"), \
            BACKENDS.serve(BackendSettings(backend="offline"), EmulatorConfig()):
        pass
    with pytest.raises(ConfigError, match=r"must be a report_lib\.emulator\.EmulatorConfig"), \
            BACKENDS.serve(BackendSettings(backend="emulator"), {"tpm": 10}):
        pass


@pytest.mark.slow
def test_generate_reports_passes_the_config_to_the_emulator(sample_frame: pd.DataFrame) -> None:
    run = generate_reports(sample_frame, backend="emulator", strategy="thread",
                           emulator=EmulatorConfig(latency_model=FAST, time_scale=0.2,
                                                   reject=("trend",)))
    contract = run.to_dict()
    assert sorted(contract["reports"]) == ["cpo", "kpi"]
    assert contract["errors"]["trend"]["type"] == "ValidationException"
    assert contract["emulator"]["time_scale"] == 0.2
    assert contract["emulator"]["stats"]["requests"] == 3
