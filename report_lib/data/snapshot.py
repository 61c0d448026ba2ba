"""A canonical table frozen as Parquet: loaded once, handed to many runs, read back at once.

``snapshot_bytes(frame)`` marks the file (in the pandas attrs Parquet keeps), so ``load_data``
on it skips every parsing and check step; ``fingerprint(frame)`` names the data's content.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from report_lib.data.schema import COLUMNS
from report_lib.errors import DataError

SNAPSHOT_KEY = "report_lib_snapshot"
_ATTRS_KEY = b"PANDAS_ATTRS"  # where pandas keeps DataFrame.attrs in a Parquet schema


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the table's columns and values (not of its attrs or the file's bytes)."""
    digest = hashlib.sha256(json.dumps(list(map(str, frame.columns))).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def snapshot_bytes(frame: pd.DataFrame) -> bytes:
    """The canonical table as Parquet bytes, marked as a snapshot with its fingerprint."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"a snapshot holds the canonical table; column(s) {', '.join(missing)} missing",
            column=missing[0],
        )
    out = frame.loc[:, list(COLUMNS)].copy()
    out.attrs = {**frame.attrs, SNAPSHOT_KEY: {"version": 1, "fingerprint": fingerprint(out)}}
    buffer = io.BytesIO()
    out.to_parquet(buffer, index=False)
    return buffer.getvalue()


def is_snapshot(path: Path) -> bool:
    """True for a Parquet file written by ``snapshot_bytes``."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        attrs = json.loads(metadata.get(_ATTRS_KEY, b"{}"))
    except Exception:
        return False
    return isinstance(attrs, dict) and SNAPSHOT_KEY in attrs


def read_snapshot(path: Path) -> pd.DataFrame:
    """The canonical table of a snapshot file, attrs (sources, summaries) included."""
    frame = pd.read_parquet(path)
    if list(frame.columns) != list(COLUMNS):
        raise DataError(
            f"{path}: a snapshot with columns {list(frame.columns)}; expected {list(COLUMNS)}; "
            "write it again with report_lib.data.snapshot.snapshot_bytes",
            path=str(path),
        )
    return frame
