"""The ministry workbook (.xlsx): the operator table, its month and the K2:P4 summary block.

Cells are read with python-calamine through pandas (``engine="calamine"``), as plain values
(no type guessing, no "NA" → missing), so every quirk is handled by ``values``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

from report_lib.data.schema import (
    ALIASES,
    LABELS,
    SUMMARY_ALIASES,
    SUMMARY_CHANGE_LABEL,
    SUMMARY_FIELDS,
    SUMMARY_TOTAL_LABEL,
    norm,
)
from report_lib.data.table import Table, map_columns
from report_lib.data.values import BadValue, as_int, blank, month_from_name, month_from_title
from report_lib.data.zipguard import check_workbook
from report_lib.errors import DataError

Summary = dict[str, int | None]


def read_cells(path: Path) -> list[list[Any]]:
    """The cells of 'Sheet1' (else the first sheet) from A1, trailing blank rows dropped.

    The zip is checked first (data.zipguard): an inflating or oversize workbook never reaches
    the parser."""
    check_workbook(path)
    try:
        with pd.ExcelFile(path, engine="calamine") as book:
            names = [str(n) for n in book.sheet_names]
            name = "Sheet1" if "Sheet1" in names else names[0]
            frame = pd.read_excel(
                book,
                sheet_name=name,
                header=None,
                dtype=object,
                keep_default_na=False,
                na_values=[""],
            )
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc}); "
            "expected an .xlsx file in the ministry layout",
            path=str(path),
        ) from exc
    grid: list[list[Any]] = frame.to_numpy(dtype=object).tolist()  # empty cells are NaN
    while grid and all(blank(v) for v in grid[-1]):
        grid.pop()
    if not grid:
        raise DataError(f"{path}: the workbook's sheet is empty; re-export it", path=str(path))
    return grid


def read_workbook(path: Path) -> Table:
    """One month of the ministry layout as raw rows (Excel row numbers) plus its summary."""
    grid = read_cells(path)
    header_at = _find_header_row(grid)
    header = grid[header_at] if header_at < len(grid) else []
    columns = map_columns(header, path, tidy=False)
    month = month_from_name(path) or month_from_title(grid[: max(header_at, 1)])
    if month is None:
        title = grid[0][2] if len(grid[0]) > 2 else None
        raise DataError(
            f"{path}: cannot tell the month: the file name has no _YYMM (like "
            f"'충전인프라 현황_2511.xlsx') and the title cell C1 ({title!r}) has no YY.MM.DD "
            "date; rename the file or fix the title",
            path=str(path),
            column="month",
            value=title,
        )
    labels = {
        c: f"{str(header[j]).strip()!r} ({get_column_letter(j + 1)})" for c, j in columns.items()
    }
    rows = [
        (i + 1, {c: (grid[i][j] if j < len(grid[i]) else None) for c, j in columns.items()})
        for i in range(header_at + 1, len(grid))
    ]
    table = Table(path, "row", labels, rows, month=month)
    table.summary, table.summary_change = _read_summary(grid[:header_at], table)
    return table


def _find_header_row(grid: list[list[Any]]) -> int:
    """The row holding 'CPO명' (row 5 in the ministry layout)."""
    for i, row in enumerate(grid[:30]):
        if any(ALIASES.get(norm(v)) == "cpo" for v in row if isinstance(v, str)):
            return i
    return 4


def _read_summary(top: list[list[Any]], table: Table) -> tuple[Summary | None, Summary | None]:
    """The K1:P4 block: headers, '전체CPO' totals and '당월증감량' changes (None if absent)."""
    for i, row in enumerate(top):
        for j, cell in enumerate(row):
            if norm(cell) != norm(SUMMARY_TOTAL_LABEL):
                continue
            heads = top[i - 1] if i > 0 else []
            positions = {
                SUMMARY_ALIASES[norm(heads[k])]: k
                for k in range(j + 1, len(heads))
                if heads[k] is not None and norm(heads[k]) in SUMMARY_ALIASES
            }
            if len(positions) < len(SUMMARY_FIELDS):  # unlabelled: the five cells to the right
                positions = {f: j + 1 + n for n, f in enumerate(SUMMARY_FIELDS)}
            totals = _summary_values(table, i, row, positions, negative=False)
            changes = None
            for k in range(i + 1, len(top)):
                if len(top[k]) > j and norm(top[k][j]) == norm(SUMMARY_CHANGE_LABEL):
                    changes = _summary_values(table, k, top[k], positions, negative=True)
            return _unless_blank(totals), _unless_blank(changes)
    return None, None


def _unless_blank(values: Summary | None) -> Summary | None:
    return values if values and any(v is not None for v in values.values()) else None


def _summary_values(
    table: Table, index: int, row: list[Any], positions: dict[str, int], *, negative: bool
) -> Summary:
    values: Summary = {}
    for name, k in positions.items():
        raw = row[k] if k < len(row) else None
        try:
            values[name] = as_int(raw, blank_as=None, negative=negative)
        except BadValue as bad:
            label = f"{LABELS[name]!r} ({get_column_letter(k + 1)}) of the summary block"
            error = Table(table.path, "row", {name: label}, []).error(index + 1, name, raw, bad)
            raise error from bad
    return values
