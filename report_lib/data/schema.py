"""One vocabulary for reading and writing CPO statistics.

The canonical table's columns, the ministry workbook's Korean headers (the reader's aliases
and the sample writer's header row come from the same names), the summary block's labels
and the file suffixes the loader accepts.
"""

from __future__ import annotations

COLUMNS: tuple[str, ...] = (
    "month", "cpo", "rank", "stations", "slow_chargers", "fast_chargers", "total_chargers",
    "market_share", "rank_change", "stations_change", "slow_change", "fast_change", "total_change",
)  # fmt: skip
COUNT_COLUMNS: tuple[str, ...] = ("stations", "slow_chargers", "fast_chargers", "total_chargers")
# total_chargers = slow_chargers + fast_chargers: the identity a blank count is derived from.
CHARGER_PARTS: tuple[str, str] = ("slow_chargers", "fast_chargers")
CHARGER_TOTAL = "total_chargers"
CHANGE_COLUMNS: tuple[str, ...] = (
    "rank_change", "stations_change", "slow_change", "fast_change", "total_change",
)  # fmt: skip
# change column → the column it is the month-over-month change of
CHANGE_SOURCES: dict[str, str] = dict(zip(CHANGE_COLUMNS, ("rank", *COUNT_COLUMNS), strict=True))
SUMMARY_FIELDS: tuple[str, ...] = ("operators", *COUNT_COLUMNS)
REQUIRED: tuple[str, ...] = ("cpo", *COUNT_COLUMNS)
# Counts above this are refused as absurd (the whole country has about half a million chargers).
MAX_COUNT = 10**9

# The operator table of the ministry workbook, left to right from column D.
WORKBOOK_COLUMNS: tuple[str, ...] = COLUMNS[1:]
# Korean headers (of the ministry workbook and of Korean tidy files) → canonical names.
# The first name of each column is the one the workbook writer uses.
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
# canonical name (or "operators") → its Korean label
LABELS: dict[str, str] = {v: k for k, v in reversed(KOREAN_COLUMNS.items())}
LABELS["operators"] = "운영기관수"
WORKBOOK_HEADER: tuple[str, ...] = tuple(LABELS[c] for c in WORKBOOK_COLUMNS)
NOTES_HEADER = "CH기준"  # the notes column right of the table (ignored by the reader)

# The summary block K2:P4: a caption row of headers, the national totals, the month's changes.
SUMMARY_CAPTION = "구분"
SUMMARY_TOTAL_LABEL = "전체CPO"
SUMMARY_CHANGE_LABEL = "당월증감량"
SUMMARY_HEADER: tuple[str, ...] = tuple(LABELS[f] for f in SUMMARY_FIELDS)
SUMMARY_HEADERS: dict[str, str] = {**{LABELS[f]: f for f in SUMMARY_FIELDS}, "CPO수": "operators"}

# Names in the operator column that are not operators: a repeated header, a total row.
HEADER_NAMES: tuple[str, ...] = ("CPO", "CPO명", "cpo", "운영기관")
TOTAL_NAMES: tuple[str, ...] = ("합계", "총계", "계", "전체", SUMMARY_TOTAL_LABEL, "total")

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TIDY_SUFFIXES = (".csv", ".parquet", ".pq")
HEADER_ROW_HINT = "the header row (row 5 in the ministry layout)"


def norm(value: object) -> str:
    """Header/label key: no whitespace, case-folded."""
    return "".join(str(value).split()).casefold()


# any accepted header (Korean or English, any spacing/case) → canonical name
ALIASES: dict[str, str] = {norm(k): v for k, v in KOREAN_COLUMNS.items()}
ALIASES.update({norm(c): c for c in COLUMNS})
SUMMARY_ALIASES: dict[str, str] = {norm(k): v for k, v in SUMMARY_HEADERS.items()}


def workbook_name(month: str) -> str:
    """'2025-11' → '충전인프라 현황_2511.xlsx' (the ministry's file name)."""
    return f"충전인프라 현황_{month[2:4]}{month[5:7]}.xlsx"
