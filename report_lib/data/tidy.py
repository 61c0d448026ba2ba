"""Tidy inputs: one row per month and operator in a CSV (UTF-8 or CP949) or Parquet file."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

from report_lib.data.table import Table, map_columns
from report_lib.errors import DataError


def read_csv(path: Path) -> Table:
    """A tidy CSV with English or Korean headers; rows numbered by CSV line."""
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise DataError(
            f"{path}: binary content, not a CSV text file; export the table as CSV (UTF-8)",
            path=str(path),
        )
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(
            f"{path}: the CSV is neither UTF-8 nor CP949 text; save it as CSV UTF-8",
            path=str(path),
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[tuple[int, list[str]]] = []
    try:
        lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise DataError(
            f"{path}: line {reader.line_num}: not valid CSV ({exc})", path=str(path)
        ) from exc
    if not lines:
        raise DataError(f"{path}: the CSV has no header and no rows; re-export it", path=str(path))
    return tidy_table(path, "line", list(lines[0][1]), [(n, list(r)) for n, r in lines[1:]])


def read_parquet(path: Path) -> Table:
    """A tidy Parquet file with English or Korean column names; rows numbered from 1."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as Parquet ({type(exc).__name__}: {exc}); expected a tidy "
            "table with the canonical (or Korean) column names",
            path=str(path),
        ) from exc
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return tidy_table(path, "row", list(frame.columns), list(enumerate(values, start=1)))


def tidy_table(
    path: Path, row_word: str, header: list[Any], body: list[tuple[int, list[Any]]]
) -> Table:
    """Raw rows keyed by canonical column; the header's own names are kept for messages."""
    columns = map_columns(header, path, tidy=True)
    labels = {c: repr(str(header[j]).strip()) for c, j in columns.items()}
    rows = [
        (n, {c: (row[j] if j < len(row) else None) for c, j in columns.items()}) for n, row in body
    ]
    return Table(path, row_word, labels, rows)
