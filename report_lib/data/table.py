"""One input file read into raw rows keyed by canonical column, and the header → column map."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report_lib.data.schema import ALIASES, HEADER_ROW_HINT, LABELS, REQUIRED, norm
from report_lib.data.values import BadValue, blank, shorten
from report_lib.errors import DataError


@dataclass
class Table:
    """One input file, read into raw rows keyed by canonical column."""

    path: Path
    row_word: str  # "row" (workbook, Parquet) or "line" (CSV)
    labels: dict[str, str]  # canonical column -> how the file names it (for messages)
    rows: list[tuple[int, dict[str, Any]]]
    month: str | None = None  # workbooks hold one month
    summary: dict[str, int | None] | None = None
    summary_change: dict[str, int | None] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    derived: list[dict[str, Any]] = field(default_factory=list)  # blank counts filled in

    def label(self, column: str) -> str:
        return self.labels.get(column, repr(column))

    def error(self, row: int, column: str, value: object, bad: BadValue) -> DataError:
        """'FILE: row N, column 'X' (C): value V <problem>; expected <what>.'"""
        return DataError(
            f"{self.path}: {self.row_word} {row}, column {self.label(column)}: value "
            f"{shorten(value)} {bad.problem}; expected {bad.expected}.",
            path=str(self.path),
            column=column,
            row=row,
            value=value,
        )


def map_columns(header: list[Any], path: Path, *, tidy: bool) -> dict[str, int]:
    """Canonical column → its index in ``header``; every required column or a ``DataError``."""
    columns: dict[str, int] = {}
    for j, cell in enumerate(header):
        name = ALIASES.get(norm(cell)) if cell is not None else None
        if name and name not in columns and (tidy or name != "month"):
            columns[name] = j
    required = ("month", *REQUIRED) if tidy else REQUIRED
    missing = [c for c in required if c not in columns]
    if missing:
        found = [str(v).strip() for v in header if not blank(v)]
        where = "the first line" if tidy else HEADER_ROW_HINT
        names = ", ".join(f"{LABELS[c]!r} ({c})" for c in missing)
        wanted = ", ".join(LABELS[c] for c in REQUIRED)
        raise DataError(
            f"{path}: missing required column(s) {names} in {where}; columns found: "
            f"{found or 'none'}. Expected the headers {wanted} (or {', '.join(REQUIRED)})"
            + (" and 기준월/month" if tidy else ""),
            path=str(path),
            column=missing[0],
        )
    return columns
