"""Shared fixtures: a synthetic sample (frame and files) and a tiny hand-checkable table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib.data.loader import COLUMNS
from report_lib.data.sample import synthesize, write_sample_data

SAMPLE_KWARGS: dict[str, Any] = {"months": 14, "operators": 30, "seed": 1}

# 2 months × 4 operators. National totals: 2025-10 → 30 stations, 83 slow, 17 fast, 100 chargers;
# 2025-11 → 40 stations, 158 slow, 42 fast, 200 chargers. In 2025-11 에버온 overtakes GS차지비.
_TINY_ROWS: list[tuple[Any, ...]] = [
    # month, cpo, rank, stations, slow, fast, total, share, Δrank, Δstations, Δslow, Δfast, Δtotal
    ("2025-10", "GS차지비", 1, 10, 45, 5, 50, 50.0, None, None, None, None, None),
    ("2025-10", "에버온", 2, 10, 20, 10, 30, 30.0, None, None, None, None, None),
    ("2025-10", "파워큐브", 3, 5, 15, 0, 15, 15.0, None, None, None, None, None),
    ("2025-10", "차지인", 4, 5, 3, 2, 5, 5.0, None, None, None, None, None),
    ("2025-11", "에버온", 1, 14, 50, 20, 70, 35.0, 1, 4, 30, 10, 40),
    ("2025-11", "GS차지비", 2, 12, 54, 6, 60, 30.0, -1, 2, 9, 1, 10),
    ("2025-11", "파워큐브", 3, 8, 40, 10, 50, 25.0, 0, 3, 25, 10, 35),
    ("2025-11", "차지인", 4, 6, 14, 6, 20, 10.0, 0, 1, 11, 4, 15),
]


def make_tiny_frame() -> pd.DataFrame:
    """A canonical table small enough to check every number by hand (see _TINY_ROWS)."""
    frame = pd.DataFrame(_TINY_ROWS, columns=list(COLUMNS))
    frame["month"] = frame["month"].astype(str)
    frame["cpo"] = frame["cpo"].astype(str)
    for column in (
        "rank",
        "rank_change",
        "stations_change",
        "slow_change",
        "fast_change",
        "total_change",
    ):
        frame[column] = frame[column].astype("Int64")
    for column in ("stations", "slow_chargers", "fast_chargers", "total_chargers"):
        frame[column] = frame[column].astype("int64")
    frame["market_share"] = frame["market_share"].astype("float64")
    return frame


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


def converse_response(
    text: str | list[str], inp: int, out: int, stop: str = "end_turn"
) -> dict[str, Any]:
    """A Bedrock Converse response body (for botocore's Stubber), one content block per text."""
    texts = [text] if isinstance(text, str) else text
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": t} for t in texts]}},
        "stopReason": stop,
        "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
        "metrics": {"latencyMs": 3},
    }
