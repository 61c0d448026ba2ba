"""Canonical Parquet snapshots: read back as written, fingerprints follow the content."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from report_lib.data.loader import load_data
from report_lib.data.snapshot import SNAPSHOT_KEY, fingerprint, is_snapshot, snapshot_bytes
from report_lib.errors import DataError
from tests.helpers import NOV_SUMMARY, nov_path, tiny_rows, write_ministry


def test_snapshot_round_trip_keeps_table_and_attrs(tmp_path: Path) -> None:
    frame = load_data(write_ministry(nov_path(tmp_path), tiny_rows(), summary=NOV_SUMMARY))
    path = tmp_path / "snap.parquet"
    path.write_bytes(snapshot_bytes(frame))
    assert is_snapshot(path)
    back = load_data(path)
    pd.testing.assert_frame_equal(back, frame)
    assert back.attrs["summary"] == frame.attrs["summary"]
    assert back.attrs["sources"] == frame.attrs["sources"]
    assert back.attrs[SNAPSHOT_KEY]["fingerprint"] == fingerprint(frame)


def test_a_plain_parquet_file_is_not_a_snapshot(tmp_path: Path, tiny_frame: pd.DataFrame) -> None:
    path = tmp_path / "plain.parquet"
    tiny_frame.to_parquet(path, index=False)
    assert not is_snapshot(path)
    assert not is_snapshot(tmp_path / "missing.parquet")
    pd.testing.assert_frame_equal(load_data(path), tiny_frame)


def test_fingerprint_changes_with_one_value_only(tiny_frame: pd.DataFrame) -> None:
    same = tiny_frame.copy()
    same.attrs["sources"] = {"2025-11": "elsewhere.xlsx"}
    assert fingerprint(same) == fingerprint(tiny_frame)
    changed = tiny_frame.copy()
    changed.loc[3, "stations"] += 1
    assert fingerprint(changed) != fingerprint(tiny_frame)


def test_snapshot_needs_the_canonical_columns(tiny_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="column\\(s\\) market_share missing"):
        snapshot_bytes(tiny_frame.drop(columns="market_share"))
