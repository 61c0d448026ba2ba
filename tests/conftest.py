"""Shared fixtures: a synthetic sample (frame and files) and a tiny hand-checkable table."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib import config
from report_lib.data.sample import synthesize, write_sample_data
from report_lib.emulator import Emulator
from tests.helpers import SAMPLE_KWARGS, make_tiny_frame

# Kernels started by the tests (papermill, nbval) run in the notebooks' folder: they get the
# home of the test run, as the pipeline hands its own to its kernels.
config.export_home()


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    """synthesize(months=14, operators=30, seed=1); do not mutate (copy first)."""
    return synthesize(**SAMPLE_KWARGS)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """write_sample_data for the same sample as ``sample_frame``: {"workbooks_dir", "csv", …}."""
    out: Path = tmp_path_factory.mktemp("sample")
    return write_sample_data(out, **SAMPLE_KWARGS)


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """make_tiny_frame(): 2 months × 4 operators, numbers easy to check by hand."""
    return make_tiny_frame()


def _isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide every AWS setting of the machine: no env vars, empty config files, no IMDS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name in ("config", "credentials"):
        (tmp_path / f"aws_{name}").write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws_config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws_credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The standard boto3 chain finds no credentials."""
    _isolate_aws(monkeypatch, tmp_path)


@pytest.fixture
def dummy_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy keys in the environment, as for a Bedrock-compatible test endpoint."""
    _isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="module")
def start_emulator() -> Iterator[Callable[..., Emulator]]:
    """``start_emulator(**options)``: an emulator process per option set for the module.

    The same options give the same process (its counters reset); all are stopped when the
    module's tests are done.
    """
    started: dict[tuple[tuple[str, Any], ...], Emulator] = {}

    def get(**options: Any) -> Emulator:
        key = tuple(sorted(options.items()))
        if key not in started:
            started[key] = Emulator(**options)
        started[key].reset_stats()
        return started[key]

    yield get
    for emu in started.values():
        emu.close()
