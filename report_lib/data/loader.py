"""Load CPO monthly statistics into the canonical table (docs/ARCHITECTURE.md, "Contracts").

Inputs: a ministry workbook (.xlsx), a folder of them, or a tidy CSV/Parquet file with English
or Korean column names. Every problem raises ``DataError`` naming the file, the row (Excel row /
CSV line) or column and the value, and saying what is expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from report_lib.data.rows import check_duplicates, cross_check, parse, resolve_share
from report_lib.data.schema import (
    CHANGE_SOURCES,
    COLUMNS,
    COUNT_COLUMNS,
    TIDY_SUFFIXES,
    WORKBOOK_SUFFIXES,
)
from report_lib.data.snapshot import is_snapshot, read_snapshot
from report_lib.data.table import Table
from report_lib.data.tidy import read_csv, read_parquet
from report_lib.data.values import next_month
from report_lib.data.workbook import read_workbook
from report_lib.errors import DataError

__all__ = ["COLUMNS", "COUNT_COLUMNS", "derive_changes", "load_data", "to_canonical"]


def load_data(path: str | Path) -> pd.DataFrame:
    """Read a workbook, a folder of workbooks, or a tidy CSV/Parquet file (canonical table).

    ``attrs``: ``sources`` (month → file), ``summary`` and ``summary_change`` (month → the
    workbook's national figures), ``derived`` (blank counts filled in from the totals).
    A snapshot (``data.snapshot.snapshot_bytes``) is read back as it was written.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder; pass a ministry workbook (.xlsx), a folder of "
            "them, or a tidy CSV/Parquet file",
            path=str(path),
        )
    if path.is_file() and path.suffix.lower() in (".parquet", ".pq") and is_snapshot(path):
        return read_snapshot(path)  # already canonical and checked
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
    previous["month"] = previous["month"].astype(str).map(next_month)
    keys = out.loc[:, ["month", "cpo"]].astype(str)
    before = keys.merge(previous.astype({"cpo": str}), on=["month", "cpo"], how="left")
    for change, source in CHANGE_SOURCES.items():
        current = out[source].astype("Int64")
        prior = before[source].astype("Int64").set_axis(out.index)
        derived = prior - current if change == "rank_change" else current - prior
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


def _read_file(path: Path) -> Table:
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
        table = read_workbook(path)
    elif suffix == ".csv":
        table = read_csv(path)
    else:
        table = read_parquet(path)
    parse(table)
    if not table.records:
        raise DataError(
            f"{path}: no operator rows below the header; the file holds no data",
            path=str(path),
        )
    check_duplicates(table.records)
    cross_check(table)
    return table


def _assemble(tables: list[Table]) -> pd.DataFrame:
    records = [r for t in tables for r in t.records]
    check_duplicates(records)
    frame = pd.DataFrame.from_records(records)
    national = frame.groupby("month")["total_chargers"].transform("sum").to_numpy()
    frame["market_share"] = [
        resolve_share(spec, total, nat, path, row)
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
    result.attrs["derived"] = [d for t in tables for d in t.derived]
    return result


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[column], errors="coerce")
