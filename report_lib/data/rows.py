"""Raw rows → checked records: values parsed, blank counts derived or refused, totals checked."""

from __future__ import annotations

import math
from typing import Any

from report_lib.data.schema import (
    CHANGE_COLUMNS,
    CHARGER_PARTS,
    CHARGER_TOTAL,
    COUNT_COLUMNS,
    HEADER_NAMES,
    LABELS,
    SUMMARY_FIELDS,
    TOTAL_NAMES,
    norm,
)
from report_lib.data.table import Table
from report_lib.data.values import (
    EXPECT_SHARE,
    BadValue,
    as_int,
    as_month,
    as_name,
    as_share,
    blank,
    shorten,
)
from report_lib.errors import DataError

_SKIP_NAMES = frozenset(norm(x) for x in (*HEADER_NAMES, *TOTAL_NAMES))


def parse(table: Table) -> None:
    """Fill ``table.records`` from its raw rows (blank rows, repeated headers, totals skipped)."""
    for row, raw in table.rows:
        if all(blank(v) for v in raw.values()):
            continue
        name = as_name(raw.get("cpo"))
        if name is not None and norm(name) in _SKIP_NAMES:
            continue  # repeated header row (page break) or a total row
        if name is None:
            bad = BadValue("is blank in a row with numbers", "a name")
            raise table.error(row, "cpo", raw.get("cpo"), bad)
        table.records.append(_parse_row(table, row, raw, name))
    fill_blank_counts(table)


def _parse_row(table: Table, row: int, raw: dict[str, Any], name: str) -> dict[str, Any]:
    record: dict[str, Any] = {"cpo": name, "_path": str(table.path), "_row": row}
    column = "month"
    try:
        record["month"] = table.month or as_month(raw.get("month"))
        for column in COUNT_COLUMNS:
            record[column] = as_int(raw.get(column), blank_as=None, negative=False)
        column = "rank"
        rank = as_int(raw.get("rank"), blank_as=None, negative=False)
        record["rank"] = rank if rank else None
        for column in CHANGE_COLUMNS:
            record[column] = as_int(raw.get(column), blank_as=None, negative=True, new_ok=True)
        column = "market_share"
        record["_share"] = as_share(raw.get("market_share"))
    except BadValue as bad:
        raise table.error(row, column, raw.get(column), bad) from bad
    return record


# --------------------------------------------------------------------------- blank counts


def fill_blank_counts(table: Table) -> None:
    """Derive each blank count that the given totals determine; refuse the rest.

    In a row, one blank among slow, fast and total chargers is derived from the other two
    (total = slow + fast). In a workbook with a summary block, the one blank of a column is
    the stated national total minus the other operators. Any blank count left is an error
    naming the row and column. Derived cells are listed in ``table.derived``.
    """
    if not any(r[c] is None for r in table.records for c in COUNT_COLUMNS):
        return
    for _ in range(2):  # a column total can complete a row and the other way round
        for record in table.records:
            _from_row(table, record)
        _from_summary(table)
    for record in table.records:
        for column in COUNT_COLUMNS:
            if record[column] is None:
                raise _underived(table, record, column)


def _from_row(table: Table, record: dict[str, Any]) -> None:
    names = (*CHARGER_PARTS, CHARGER_TOTAL)
    missing = [c for c in names if record[c] is None]
    if len(missing) != 1:
        return
    column = missing[0]
    slow, fast, total = (record[c] for c in names)
    if column == CHARGER_TOTAL:
        value, how = slow + fast, f"{LABELS[CHARGER_PARTS[0]]} + {LABELS[CHARGER_PARTS[1]]}"
    else:
        other = fast if column == CHARGER_PARTS[0] else slow
        other_name = CHARGER_PARTS[1] if column == CHARGER_PARTS[0] else CHARGER_PARTS[0]
        value, how = total - other, f"{LABELS[CHARGER_TOTAL]} − {LABELS[other_name]}"
    _derive(table, record, column, value, how)


def _from_summary(table: Table) -> None:
    for column in COUNT_COLUMNS:
        stated = (table.summary or {}).get(column)
        blanks = [r for r in table.records if r[column] is None]
        if stated is None or len(blanks) != 1:
            continue
        others = sum(r[column] for r in table.records if r[column] is not None)
        how = f"the summary block's {LABELS[column]} total {stated} − the other operators"
        _derive(table, blanks[0], column, stated - others, how)


def _derive(table: Table, record: dict[str, Any], column: str, value: int, how: str) -> None:
    if value < 0:
        raise DataError(
            f"{table.path}: {table.row_word} {record['_row']}, column {table.label(column)}: "
            f"the count is blank and {how} gives {value}, which is negative; fill in the "
            "counts so that they add up",
            path=str(table.path),
            column=column,
            row=record["_row"],
        )
    record[column] = value
    table.derived.append(
        {"path": str(table.path), "row": record["_row"], "column": column, "value": value}
    )


def _underived(table: Table, record: dict[str, Any], column: str) -> DataError:
    if column == "stations":
        reason = "no summary total gives it" if not table.summary else "it is not the only one"
    else:
        reason = (
            f"{LABELS[CHARGER_TOTAL]} = {LABELS[CHARGER_PARTS[0]]} + "
            f"{LABELS[CHARGER_PARTS[1]]} needs the other two of the row"
        )
    return DataError(
        f"{table.path}: {table.row_word} {record['_row']}, column {table.label(column)}: the "
        f"count is blank and cannot be derived ({reason}); fill it in (0 or '-' for none)",
        path=str(table.path),
        column=column,
        row=record["_row"],
    )


# --------------------------------------------------------------------------- checks


def cross_check(table: Table) -> None:
    """The summary block's national totals must equal the sums of the operator rows."""
    if not table.summary:
        return
    actual = {"operators": len(table.records)}
    actual.update({c: sum(r[c] for r in table.records) for c in COUNT_COLUMNS})
    for name in SUMMARY_FIELDS:
        stated = table.summary.get(name)
        if stated is not None and stated != actual[name]:
            raise DataError(
                f"{table.path}: the summary block (row 3, 전체CPO) gives {LABELS[name]} "
                f"({name}) = {stated} but the operator rows add up to {actual[name]}; "
                "correct the workbook so the totals agree",
                path=str(table.path),
                column=name,
                value=stated,
            )


def check_duplicates(records: list[dict[str, Any]]) -> None:
    """Each (month, operator) once, across files too; the error names both places."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record["month"], record["cpo"])
        first = seen.setdefault(key, record)
        if first is record:
            continue
        word = row_word(record["_path"])
        if first["_path"] == record["_path"]:
            where = f"{record['_path']}: {word} {first['_row']} and {word} {record['_row']}"
        else:
            where = " and ".join(
                f"{r['_path']} {row_word(r['_path'])} {r['_row']}" for r in (first, record)
            )
        raise DataError(
            f"duplicate operator {key[1]!r} for {key[0]} in {where}; each (month, operator) "
            "must appear once — remove or merge the duplicate rows",
            path=record["_path"],
            column="cpo",
            row=record["_row"],
            value=key[1],
        )


def row_word(path: str) -> str:
    return "line" if path.lower().endswith(".csv") else "row"


def resolve_share(
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
            f"{path}: {row_word(path)} {row}, column '시장점유율' (market_share): value "
            f"{shorten(spec[1])} is not a share; expected {EXPECT_SHARE} (0–100 %)",
            path=path,
            column="market_share",
            row=row,
            value=spec[1],
        )
    return value
