"""Cell values → Python values: counts, changes, shares, months, operator names.

Each parser raises ``BadValue`` (what is wrong, what was expected); the caller adds the file,
row and column and turns it into a ``DataError``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from report_lib.data.schema import MAX_COUNT

EXPECT_INT = "a whole number such as 73912 or '73,912' ('-' means 0)"
EXPECT_SHARE = "a percentage such as 16.1, 0.161 or '16.1%'"
EXPECT_MONTH = "a month as YYYY-MM, YYYY-MM-DD, YYYYMM or YYMM (e.g. 2025-11)"

_DASHES = frozenset({"-", "–", "—", "−"})
_ARROWS = {"▲": 1, "△": 1, "↑": 1, "+": 1, "▼": -1, "▽": -1, "↓": -1, "-": -1, "−": -1}
_NEW_MARKERS = frozenset({"신규", "new", "n/a", "na"})
_INT_RE = re.compile(r"\d+(?:\.0*)?")
_MONTH_PATTERNS = (
    re.compile(r"(?P<y>\d{4})[-./](?P<m>\d{1,2})(?:[-./]\d{1,2}(?:[ T].*)?)?"),
    re.compile(r"(?P<y>\d{4})년(?P<m>\d{1,2})월(?:\d{1,2}일)?"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?:\d{2})?"),
    re.compile(r"(?P<yy>\d{2})(?P<m>\d{2})"),
)
_SHORT = 40


class BadValue(Exception):
    """A cell value that cannot be read; the caller adds file, row and column."""

    def __init__(self, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected


def shorten(value: object) -> str:
    """``repr`` of a value for a message, never longer than about 40 characters."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        digits = str(abs(int(value)))
        if len(digits) > 15:
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[0]}.{digits[1:4]}e+{len(digits) - 1} ({len(digits)} digits)"
        return str(int(value))
    text = repr(value)
    if len(text) <= _SHORT:
        return text
    return f"{text[: _SHORT - 12]}…{text[-6:]} ({len(str(value))} characters)"


def blank(value: object) -> bool:
    """None, NaN, or whitespace only."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def as_name(value: object) -> str | None:
    """An operator name with its whitespace collapsed; None when blank."""
    if blank(value):
        return None
    return " ".join(str(value).split()) or None


def as_int(
    value: object, *, blank_as: int | None, negative: bool, new_ok: bool = False
) -> int | None:
    """A count or change: ints, whole floats, '73,912', '-' (zero), blank → ``blank_as``."""
    if blank(value):
        return blank_as
    if isinstance(value, str):
        text = "".join(value.split()).replace(",", "")
        if text in _DASHES:
            return 0
        if new_ok and text.casefold() in _NEW_MARKERS:
            return None
        number = _int_text(text)
    else:
        number = _int_number(value)
    if abs(number) > MAX_COUNT:
        raise BadValue("is absurdly large", f"a count or change of at most {MAX_COUNT:,}")
    if number < 0 and not negative:
        raise BadValue(
            "is negative", "a count of zero or more (only the change columns may be negative)"
        )
    return number


def _int_text(text: str) -> int:
    sign = 1
    if text[:1] in _ARROWS:
        sign, text = _ARROWS[text[0]], text[1:]
    if not _INT_RE.fullmatch(text):
        raise BadValue("is not a number", EXPECT_INT)
    return sign * int(text.split(".")[0])


def _int_number(value: object) -> int:
    if isinstance(value, bool):
        raise BadValue("is not a number", EXPECT_INT)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise BadValue("is not a number", EXPECT_INT)
        if abs(number) > MAX_COUNT:
            raise BadValue("is absurdly large", f"a count or change of at most {MAX_COUNT:,}")
        if abs(number - round(number)) > 1e-6:
            raise BadValue("is not a whole number", EXPECT_INT)
        return round(number)
    raise BadValue("is not a number", EXPECT_INT)


def as_share(value: object) -> tuple[str, float] | None:
    """('pct', x) for '16.1%', ('bare', x) for 16.1 or 0.161; None when blank."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise BadValue("is not a percentage", EXPECT_SHARE)
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
            raise BadValue("is not a percentage", EXPECT_SHARE) from None
    else:
        raise BadValue("is not a percentage", EXPECT_SHARE)
    if not math.isfinite(number) or number < 0:
        raise BadValue("is not a percentage", EXPECT_SHARE)
    return kind, number


def as_month(value: object) -> str:
    """'YYYY-MM' from YYYY-MM, YYYY-MM-DD, YYYYMM, YYMM, a date or a Timestamp."""
    if blank(value):
        raise BadValue("is blank", EXPECT_MONTH)
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
    raise BadValue("is not a month", EXPECT_MONTH)


def month_from_name(path: Path) -> str | None:
    """'…_2511.xlsx' → '2025-11' (also '_202511')."""
    for pattern, century in ((r"_(\d{2})(\d{2})(?!\d)", 2000), (r"_(\d{4})(\d{2})(?!\d)", 0)):
        for match in re.finditer(pattern, path.stem):
            year, month = century + int(match[1]), int(match[2])
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
    return None


def month_from_title(top: list[list[Any]]) -> str | None:
    """'… (25.11.30 기준)' in C1 (or elsewhere on the title row) → '2025-11'."""
    first = top[0] if top else []
    cells = ([first[2]] if len(first) > 2 else []) + list(first)
    for cell in cells:
        if isinstance(cell, str):
            match = re.search(r"(?<!\d)(\d{2})\.\s*(\d{1,2})\.\s*(\d{1,2})(?!\d)", cell)
            if match and 1 <= int(match[2]) <= 12:
                return f"{2000 + int(match[1]):04d}-{int(match[2]):02d}"
    return None


def next_month(month: str) -> str:
    """'2025-12' → '2026-01'."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
