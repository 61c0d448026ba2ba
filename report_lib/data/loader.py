"""Load CPO monthly statistics into the canonical table (DESIGN §2.2, docs/ARCHITECTURE.md).

Inputs: a ministry workbook (.xlsx, DESIGN §2.1), a folder of them, or a tidy CSV/Parquet file
with English or Korean column names. Every problem raises ``DataError`` naming the file, the
row (Excel row / CSV line) or column and the value, and saying what is expected.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from report_lib.errors import DataError

COLUMNS: tuple[str, ...] = (
    "month", "cpo", "rank", "stations", "slow_chargers", "fast_chargers", "total_chargers",
    "market_share", "rank_change", "stations_change", "slow_change", "fast_change", "total_change",
)  # fmt: skip
COUNT_COLUMNS: tuple[str, ...] = ("stations", "slow_chargers", "fast_chargers", "total_chargers")
CHANGE_SOURCES: dict[str, str] = {
    "rank_change": "rank",
    "stations_change": "stations",
    "slow_change": "slow_chargers",
    "fast_change": "fast_chargers",
    "total_change": "total_chargers",
}
SUMMARY_FIELDS: tuple[str, ...] = ("operators", *COUNT_COLUMNS)
REQUIRED: tuple[str, ...] = ("cpo", *COUNT_COLUMNS)

# Korean headers of the ministry workbook (and of Korean tidy files) → canonical names.
KOREAN_COLUMNS: dict[str, str] = {
    "기준월": "month",
    "월": "month",
    "CPO명": "cpo",
    "순위": "rank",
    "충전소수": "stations",
    "완속충전기": "slow_chargers",
    "급속충전기": "fast_chargers",
    "총충전기": "total_chargers",
    "시장점유율": "market_share",
    "순위변동": "rank_change",
    "충전소증감": "stations_change",
    "완속증감": "slow_change",
    "급속증감": "fast_change",
    "총증감": "total_change",
}
LABELS: dict[str, str] = {v: k for k, v in reversed(KOREAN_COLUMNS.items())}
LABELS["operators"] = "운영기관수"
SUMMARY_HEADERS: dict[str, str] = {
    "운영기관수": "operators",
    "CPO수": "operators",
    "충전소수": "stations",
    "완속충전기": "slow_chargers",
    "급속충전기": "fast_chargers",
    "총충전기": "total_chargers",
}

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TIDY_SUFFIXES = (".csv", ".parquet", ".pq")
EXPECT_INT = "a whole number such as 73912 or '73,912' ('-' or blank means 0)"
EXPECT_SHARE = "a percentage such as 16.1, 0.161 or '16.1%'"
EXPECT_MONTH = "a month as YYYY-MM, YYYY-MM-DD, YYYYMM or YYMM (e.g. 2025-11)"
HEADER_ROW_HINT = "the header row (row 5 in the ministry layout)"


def _norm(value: object) -> str:
    """Header/label key: no whitespace, case-folded."""
    return "".join(str(value).split()).casefold()


_ALIASES: dict[str, str] = {_norm(k): v for k, v in KOREAN_COLUMNS.items()}
_ALIASES.update({_norm(c): c for c in COLUMNS})
_SUMMARY_ALIASES = {_norm(k): v for k, v in SUMMARY_HEADERS.items()}
_HEADER_NAMES = {_norm(x) for x in ("CPO", "CPO명", "cpo", "운영기관")}
_TOTAL_NAMES = {_norm(x) for x in ("합계", "총계", "계", "전체", "전체CPO", "total")}
_DASHES = frozenset({"-", "–", "—", "−"})
_ARROWS = {"▲": 1, "△": 1, "↑": 1, "+": 1, "▼": -1, "▽": -1, "↓": -1, "-": -1, "−": -1}
_NEW_MARKERS = frozenset({"신규", "new", "n/a", "na"})
_INT_RE = re.compile(r"\d+(?:\.0*)?")


class _BadValue(Exception):
    """A cell value that cannot be read; the caller adds file, row and column."""

    def __init__(self, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected


@dataclass
class _Table:
    """One input file, read into raw rows keyed by canonical column."""

    path: Path
    row_word: str  # "row" (workbook, Parquet) or "line" (CSV)
    labels: dict[str, str]  # canonical column -> how the file names it (for messages)
    rows: list[tuple[int, dict[str, Any]]]
    month: str | None = None  # workbooks hold one month
    summary: dict[str, int | None] | None = None
    summary_change: dict[str, int | None] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def error(self, row: int, column: str, value: object, bad: _BadValue) -> DataError:
        label = self.labels.get(column, repr(column))
        return DataError(
            f"{self.path}: {self.row_word} {row}, column {label}: value {value!r} "
            f"{bad.problem}; expected {bad.expected}.",
            path=str(self.path),
            column=column,
            row=row,
            value=value,
        )


# --------------------------------------------------------------------------- public API


def load_data(path: str | Path) -> pd.DataFrame:
    """Read a workbook, a folder of workbooks, or a tidy CSV/Parquet file (canonical table)."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder; pass a ministry workbook (.xlsx), a folder of "
            "them, or a tidy CSV/Parquet file",
            path=str(path),
        )
    tables = [_read_file(p) for p in _input_files(path)]
    by_month: dict[str, Path] = {}
    for table in tables:
        if table.month is None:
            continue
        if table.month in by_month:
            raise DataError(
                f"two workbooks for {table.month}: {by_month[table.month]} and {table.path}; "
                "keep one workbook per month",
                path=str(table.path),
                column="month",
                value=table.month,
            )
        by_month[table.month] = table.path
    return _assemble(tables)


def to_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Complete a table of counts: ranks and shares where missing, changes, dtypes, order."""
    missing = [c for c in ("month", "cpo", *COUNT_COLUMNS) if c not in df.columns]
    if missing:
        raise DataError(
            f"the table lacks column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, df.columns))}",
            column=missing[0],
        )
    out = df.copy()
    out["month"] = out["month"].astype(str)
    out["cpo"] = out["cpo"].astype(str)
    for column in COUNT_COLUMNS:
        out[column] = out[column].astype("int64")
    months = out["month"]
    rank = _numeric(out, "rank").astype("Int64")
    computed = out.groupby("month")["total_chargers"].rank(method="min", ascending=False)
    incomplete = rank.isna().groupby(months).transform("any")
    out["rank"] = rank.where(~incomplete, computed.astype("Int64"))
    national = out.groupby("month")["total_chargers"].transform("sum")
    share = (out["total_chargers"] / national.where(national > 0) * 100).fillna(0.0)
    out["market_share"] = _numeric(out, "market_share").astype("float64").fillna(share)
    out = derive_changes(out)
    out = out.loc[:, list(COLUMNS)].sort_values(["month", "rank", "cpo"], kind="stable")
    return out.reset_index(drop=True)


def derive_changes(df: pd.DataFrame, *, overwrite: bool = False) -> pd.DataFrame:
    """Fill the change columns from the previous calendar month.

    A change column is derived for a month when it is missing or blank for that whole month
    (``overwrite=True`` recomputes all). Counts: current − previous; ``rank_change`` =
    previous rank − current rank (positive = moved up); ``<NA>`` when the operator is absent
    the previous month.
    """
    needed = ["month", "cpo", *CHANGE_SOURCES.values()]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"derive_changes needs column(s) {', '.join(missing)}", column=missing[0])
    dupes = df.duplicated(["month", "cpo"])
    if dupes.any():
        first = df.loc[dupes].iloc[0]
        raise DataError(
            f"operator {first['cpo']!r} appears more than once in {first['month']}; "
            "each (month, operator) must appear once",
            column="cpo",
            value=first["cpo"],
        )
    out = df.copy()
    previous = out.loc[:, needed].copy()
    previous["month"] = previous["month"].astype(str).map(_next_month)
    keys = out.loc[:, ["month", "cpo"]].astype(str)
    before = keys.merge(previous.astype({"cpo": str}), on=["month", "cpo"], how="left")
    for change, source in CHANGE_SOURCES.items():
        current = out[source].astype("Int64").array
        prior = before[source].astype("Int64").array
        values = prior - current if change == "rank_change" else current - prior
        derived = pd.Series(values, index=out.index, dtype="Int64")
        if overwrite or change not in out.columns:
            out[change] = derived
            continue
        existing = _numeric(out, change).astype("Int64")
        blank_month = existing.isna().groupby(out["month"]).transform("all")
        out[change] = existing.where(~blank_month, derived)
    return out


# --------------------------------------------------------------------------- inputs


def _input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file())
    visible = [p for p in files if not p.name.startswith(("~$", "."))]
    workbooks = [p for p in visible if p.suffix.lower() in WORKBOOK_SUFFIXES]
    if workbooks:
        return workbooks
    tidy = [p for p in visible if p.suffix.lower() in TIDY_SUFFIXES]
    if tidy:
        return tidy
    found = ", ".join(p.name for p in files) or "nothing"
    raise DataError(
        f"{path}: the folder holds no workbook (.xlsx) or CSV/Parquet file (found: {found}); "
        "put the monthly ministry workbooks there or pass a file",
        path=str(path),
    )


def _read_file(path: Path) -> _Table:
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise DataError(
            f"{path}: old .xls workbooks are not supported; open it in Excel and save as .xlsx",
            path=str(path),
        )
    if suffix not in WORKBOOK_SUFFIXES + TIDY_SUFFIXES:
        raise DataError(
            f"{path}: not a workbook or CSV (suffix {path.suffix or 'none'!r}); expected a "
            "ministry workbook .xlsx, a tidy .csv or a .parquet file",
            path=str(path),
            value=path.suffix,
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); re-export it", path=str(path))
    if suffix in WORKBOOK_SUFFIXES:
        table = _read_workbook(path)
    elif suffix == ".csv":
        table = _read_csv(path)
    else:
        table = _read_parquet(path)
    _parse(table)
    if not table.records:
        raise DataError(
            f"{path}: no operator rows below the header; the file holds no data",
            path=str(path),
        )
    _check_duplicates(table.records)
    if table.summary:
        _cross_check(table, table.summary)
    return table


def _read_workbook(path: Path) -> _Table:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book["Sheet1"] if "Sheet1" in book.sheetnames else book.worksheets[0]
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # some writers store a wrong used range
            grid = [list(r) for r in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc}); "
            "expected an .xlsx file in the ministry layout",
            path=str(path),
        ) from exc
    while grid and all(_blank(v) for v in grid[-1]):
        grid.pop()
    if not grid:
        raise DataError(f"{path}: the workbook's sheet is empty; re-export it", path=str(path))
    header_at = _find_header_row(grid)
    header = grid[header_at] if header_at < len(grid) else []
    columns = _map_columns(header, path, tidy=False)
    month = _month_from_name(path) or _month_from_title(grid[: max(header_at, 1)])
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
    table = _Table(path, "row", labels, rows, month=month)
    table.summary, table.summary_change = _read_summary(grid[:header_at], table)
    return table


def _read_csv(path: Path) -> _Table:
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
    return _tidy_table(path, "line", lines[0][1], lines[1:])


def _read_parquet(path: Path) -> _Table:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as Parquet ({type(exc).__name__}: {exc}); expected a tidy "
            "table with the canonical (or Korean) column names",
            path=str(path),
        ) from exc
    values = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return _tidy_table(path, "row", list(frame.columns), list(enumerate(values, start=1)))


def _tidy_table(
    path: Path, row_word: str, header: list[Any], body: list[tuple[int, list[Any]]]
) -> _Table:
    columns = _map_columns(header, path, tidy=True)
    labels = {c: repr(str(header[j]).strip()) for c, j in columns.items()}
    rows = [
        (n, {c: (row[j] if j < len(row) else None) for c, j in columns.items()}) for n, row in body
    ]
    return _Table(path, row_word, labels, rows)


def _find_header_row(grid: list[list[Any]]) -> int:
    """The row holding 'CPO명' (row 5 in the ministry layout)."""
    for i, row in enumerate(grid[:30]):
        if any(_ALIASES.get(_norm(v)) == "cpo" for v in row if isinstance(v, str)):
            return i
    return 4


def _map_columns(header: list[Any], path: Path, *, tidy: bool) -> dict[str, int]:
    columns: dict[str, int] = {}
    for j, cell in enumerate(header):
        name = _ALIASES.get(_norm(cell)) if cell is not None else None
        if name and name not in columns and (tidy or name != "month"):
            columns[name] = j
    required = ("month", *REQUIRED) if tidy else REQUIRED
    missing = [c for c in required if c not in columns]
    if missing:
        found = [str(v).strip() for v in header if not _blank(v)]
        where = "the first line" if tidy else HEADER_ROW_HINT
        names = ", ".join(f"{LABELS[c]!r} ({c})" for c in missing)
        raise DataError(
            f"{path}: missing required column(s) {names} in {where}; columns found: "
            f"{found or 'none'}. Expected the headers CPO명, 충전소수, 완속충전기, 급속충전기, "
            "총충전기 (or cpo, stations, slow_chargers, fast_chargers, total_chargers)"
            + (" and 기준월/month" if tidy else ""),
            path=str(path),
            column=missing[0],
        )
    return columns


def _read_summary(
    top: list[list[Any]], table: _Table
) -> tuple[dict[str, int | None] | None, dict[str, int | None] | None]:
    """The K1:P4 block: headers, '전체CPO' totals and '당월증감량' changes (None if absent)."""
    for i, row in enumerate(top):
        for j, cell in enumerate(row):
            if _norm(cell) != _norm("전체CPO"):
                continue
            heads = top[i - 1] if i > 0 else []
            positions = {
                _SUMMARY_ALIASES[_norm(heads[k])]: k
                for k in range(j + 1, len(heads))
                if heads[k] is not None and _norm(heads[k]) in _SUMMARY_ALIASES
            }
            if len(positions) < len(SUMMARY_FIELDS):  # unlabelled: the five cells to the right
                positions = {f: j + 1 + n for n, f in enumerate(SUMMARY_FIELDS)}
            totals = _summary_values(table, i, row, positions, negative=False)
            changes = None
            for k in range(i + 1, len(top)):
                if len(top[k]) > j and _norm(top[k][j]) == _norm("당월증감량"):
                    changes = _summary_values(table, k, top[k], positions, negative=True)
            return _unless_blank(totals), _unless_blank(changes)
    return None, None


def _unless_blank(values: dict[str, int | None] | None) -> dict[str, int | None] | None:
    return values if values and any(v is not None for v in values.values()) else None


def _summary_values(
    table: _Table, index: int, row: list[Any], positions: dict[str, int], *, negative: bool
) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for name, k in positions.items():
        raw = row[k] if k < len(row) else None
        try:
            values[name] = _as_int(raw, blank=None, negative=negative)
        except _BadValue as bad:
            label = f"{LABELS[name]!r} ({get_column_letter(k + 1)}) of the summary block"
            raise DataError(
                f"{table.path}: row {index + 1}, column {label}: value {raw!r} {bad.problem}; "
                f"expected {bad.expected}.",
                path=str(table.path),
                column=name,
                row=index + 1,
                value=raw,
            ) from bad
    return values


# --------------------------------------------------------------------------- rows


def _parse(table: _Table) -> None:
    for row, raw in table.rows:
        if all(_blank(v) for v in raw.values()):
            continue
        name = _as_name(raw.get("cpo"))
        if name is not None and (_norm(name) in _HEADER_NAMES or _norm(name) in _TOTAL_NAMES):
            continue  # repeated header row (page break) or a total row
        if name is None:
            raise table.error(
                row, "cpo", raw.get("cpo"), _BadValue("is blank in a row with numbers", "a name")
            )
        table.records.append(_parse_row(table, row, raw, name))


def _parse_row(table: _Table, row: int, raw: dict[str, Any], name: str) -> dict[str, Any]:
    record: dict[str, Any] = {"cpo": name, "_path": str(table.path), "_row": row}
    column = "month"
    try:
        record["month"] = table.month or _as_month(raw.get("month"))
        for column in COUNT_COLUMNS:
            record[column] = _as_int(raw.get(column), blank=0, negative=False)
        column = "rank"
        rank = _as_int(raw.get("rank"), blank=None, negative=False)
        record["rank"] = rank if rank else None
        for column in CHANGE_SOURCES:
            record[column] = _as_int(raw.get(column), blank=None, negative=True, new_ok=True)
        column = "market_share"
        record["_share"] = _as_share(raw.get("market_share"))
    except _BadValue as bad:
        raise table.error(row, column, raw.get(column), bad) from bad
    return record


def _cross_check(table: _Table, summary: dict[str, int | None]) -> None:
    actual = {"operators": len(table.records)}
    actual.update({c: sum(r[c] for r in table.records) for c in COUNT_COLUMNS})
    for name in SUMMARY_FIELDS:
        stated = summary.get(name)
        if stated is not None and stated != actual[name]:
            raise DataError(
                f"{table.path}: the summary block (row 3, 전체CPO) gives {LABELS[name]} "
                f"({name}) = {stated} but the operator rows add up to {actual[name]}; "
                "correct the workbook so the totals agree",
                path=str(table.path),
                column=name,
                value=stated,
            )


def _assemble(tables: list[_Table]) -> pd.DataFrame:
    records = [r for t in tables for r in t.records]
    _check_duplicates(records)
    frame = pd.DataFrame.from_records(records)
    national = frame.groupby("month")["total_chargers"].transform("sum").to_numpy()
    frame["market_share"] = [
        _resolve_share(spec, total, nat, path, row)
        for spec, total, nat, path, row in zip(
            frame["_share"],
            frame["total_chargers"],
            national,
            frame["_path"],
            frame["_row"],
            strict=True,
        )
    ]
    result = to_canonical(frame.drop(columns=["_share", "_path", "_row"]))
    sources = dict(sorted({r["month"]: r["_path"] for r in records}.items()))
    result.attrs["sources"] = sources
    result.attrs["summary"] = {t.month: t.summary for t in tables if t.month and t.summary}
    result.attrs["summary_change"] = {
        t.month: t.summary_change for t in tables if t.month and t.summary_change
    }
    return result


def _check_duplicates(records: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record["month"], record["cpo"])
        first = seen.setdefault(key, record)
        if first is record:
            continue
        word = _row_word(record["_path"])
        if first["_path"] == record["_path"]:
            where = f"{record['_path']}: {word} {first['_row']} and {word} {record['_row']}"
        else:
            where = " and ".join(
                f"{r['_path']} {_row_word(r['_path'])} {r['_row']}" for r in (first, record)
            )
        raise DataError(
            f"duplicate operator {key[1]!r} for {key[0]} in {where}; each (month, operator) "
            "must appear once — remove or merge the duplicate rows",
            path=record["_path"],
            column="cpo",
            row=record["_row"],
            value=key[1],
        )


def _row_word(path: str) -> str:
    return "line" if path.lower().endswith(".csv") else "row"


def _resolve_share(
    spec: tuple[str, float] | None, total: int, national: int, path: str, row: int
) -> float:
    """Percent 0–100: '%' → as is; a bare number → x or x*100, whichever is nearer the data."""
    if spec is None:
        return math.nan
    kind, x = spec
    if kind == "bare":
        expected = total / national * 100 if national else (0.0 if x > 1 else 100.0)
        x = min((x, x * 100), key=lambda c: abs(c - expected))
    value = round(x, 9)
    if not 0 <= value <= 100.0001:
        raise DataError(
            f"{path}: {_row_word(path)} {row}, column '시장점유율' (market_share): value "
            f"{spec[1]!r} is not a share; expected {EXPECT_SHARE} (0–100 %)",
            path=path,
            column="market_share",
            row=row,
            value=spec[1],
        )
    return value


# --------------------------------------------------------------------------- values


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _as_name(value: object) -> str | None:
    if _blank(value):
        return None
    return " ".join(str(value).split()) or None


def _as_int(
    value: object, *, blank: int | None, negative: bool, new_ok: bool = False
) -> int | None:
    """A count or change: ints, whole floats, '73,912', '-' (zero), blank → ``blank``."""
    if _blank(value):
        return blank
    if isinstance(value, bool):
        raise _BadValue("is not a number", EXPECT_INT)
    if isinstance(value, int | np.integer):
        number = int(value)
    elif isinstance(value, float | np.floating):
        if abs(value - round(value)) > 1e-6:
            raise _BadValue("is not a whole number", EXPECT_INT)
        number = round(value)
    elif isinstance(value, str):
        text = "".join(value.split()).replace(",", "")
        if text in _DASHES:
            return 0
        if new_ok and text.casefold() in _NEW_MARKERS:
            return None
        sign = 1
        if text[:1] in _ARROWS:
            sign, text = _ARROWS[text[0]], text[1:]
        if not _INT_RE.fullmatch(text):
            raise _BadValue("is not a number", EXPECT_INT)
        number = sign * int(text.split(".")[0])
    else:
        raise _BadValue("is not a number", EXPECT_INT)
    if number < 0 and not negative:
        raise _BadValue(
            "is negative", "a count of zero or more (only the change columns may be negative)"
        )
    return number


def _as_share(value: object) -> tuple[str, float] | None:
    """('pct', x) for '16.1%', ('bare', x) for 16.1 or 0.161; None when blank."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise _BadValue("is not a percentage", EXPECT_SHARE)
    if isinstance(value, int | float | np.integer | np.floating):
        kind, number = "bare", float(value)
    elif isinstance(value, str):
        text = "".join(value.split())
        if text in _DASHES:
            return ("pct", 0.0)
        kind = "pct" if text.endswith("%") else "bare"
        try:
            number = float(text.rstrip("%"))
        except ValueError:
            raise _BadValue("is not a percentage", EXPECT_SHARE) from None
    else:
        raise _BadValue("is not a percentage", EXPECT_SHARE)
    if not math.isfinite(number) or number < 0:
        raise _BadValue("is not a percentage", EXPECT_SHARE)
    return kind, number


_MONTH_PATTERNS = (
    re.compile(r"(?P<y>\d{4})[-./](?P<m>\d{1,2})(?:[-./]\d{1,2}(?:[ T].*)?)?"),
    re.compile(r"(?P<y>\d{4})년(?P<m>\d{1,2})월(?:\d{1,2}일)?"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?:\d{2})?"),
    re.compile(r"(?P<yy>\d{2})(?P<m>\d{2})"),
)


def _as_month(value: object) -> str:
    """'YYYY-MM' from YYYY-MM, YYYY-MM-DD, YYYYMM, YYMM, a date or a Timestamp."""
    if _blank(value):
        raise _BadValue("is blank", EXPECT_MONTH)
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "".join(str(value).split())
    for pattern in _MONTH_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            groups = match.groupdict()
            year = int(groups["y"]) if groups.get("y") else 2000 + int(groups["yy"])
            month = int(match["m"])
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    raise _BadValue("is not a month", EXPECT_MONTH)


def _month_from_name(path: Path) -> str | None:
    """'…_2511.xlsx' → '2025-11' (also '_202511')."""
    for pattern, century in ((r"_(\d{2})(\d{2})(?!\d)", 2000), (r"_(\d{4})(\d{2})(?!\d)", 0)):
        for match in re.finditer(pattern, path.stem):
            year, month = century + int(match[1]), int(match[2])
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    return None


def _month_from_title(top: list[list[Any]]) -> str | None:
    """'… (25.11.30 기준)' in C1 (or elsewhere on the title row) → '2025-11'."""
    first = top[0] if top else []
    cells = ([first[2]] if len(first) > 2 else []) + list(first)
    for cell in cells:
        if isinstance(cell, str):
            match = re.search(r"(?<!\d)(\d{2})\.\s*(\d{1,2})\.\s*(\d{1,2})(?!\d)", cell)
            if match and 1 <= int(match[2]) <= 12:
                return f"{2000 + int(match[1]):04d}-{int(match[2]):02d}"
    return None


def _next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[column], errors="coerce")
