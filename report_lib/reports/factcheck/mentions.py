"""Every number and month a report writes, read the way a reader reads it.

``find_mentions(text, ...)`` returns one ``Mention`` per figure: Korean and English forms
(thousands separators, decimals, signs + - − ▲ ▼, ``%``, ``%p``/``pp``, counts with units,
Korean large units as in ``45만 9,081기``, ``33.8만 기``, ``1억 2천만``, ``약``/``about``) and
months (``2025-11``, ``2025년 11월``, ``25.11``, ``11월`` read against the report month,
``November 2025``). ``step`` is the value of the last digit shown (``33.8만`` → 1,000), so a
checker can tell which facts round to the figure.

Not figures: list markers (``1. ``), heading numbers (``## 2. 전국 현황``), digits inside an
operator's name (the caller masks them) or glued to a word (``Q3``, ``top10``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

NUMBER, PERCENT, MONTH = "number", "percent", "month"

_NUM = r"\d+(?:,\d+)*(?:\.\d+)?"
_NUM_AT = re.compile(_NUM)
_WELL_FORMED = re.compile(r"\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?")
_KO_UNITS = {"억": 10**8, "만": 10**4, "천": 10**3, "백": 10**2}
_KO_UNIT_AT = re.compile(r" ?(천만|백만|억|만|천|백)(?!큼|원)")
_REMAINDER_AT = re.compile(r" ?(" + _NUM + ")")
_EN_UNIT_AT = re.compile(r"(?:k\b| ?(thousand|million|billion)\b)", re.IGNORECASE)
_EN_UNITS = {"k": 10**3, "thousand": 10**3, "million": 10**6, "billion": 10**9}
_PP_AT = re.compile(
    r" ?(?:%\s?p\b|%\s?P\b|%p|%포인트|퍼센트\s?포인트|포인트|p\.p\.|pp\b|percentage points?\b)"
)
_PCT_AT = re.compile(r" ?(?:%|퍼센트|percent\b|per cent\b)")
_APPROX_AFTER = re.compile(
    r"(?:\s*[가-힣]{0,2}\s*(?:가량|정도|내외|남짓|안팎)|여(?=\s?[기개곳명대]))"
)
_SIGNS = {"+": 1, "-": -1, "−": -1, "▲": 1, "▼": -1, "△": 1, "▽": -1}

_MONTH_NAMES = {
    name: i + 1
    for i, names in enumerate([
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
        ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
        ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
        ("december", "dec"),
    ])
    for name in names
}
_MONTH_PREFIXES = tuple({name[:3] for name in _MONTH_NAMES})
_MONTH_WORD = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
_MONTH_PATTERNS = [  # tried in order where a token of month shape starts
    re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월(?:\s*\d{1,2}\s*일)?"),
    re.compile(r"(\d{4})[-./](\d{1,2})(?:[-./]\d{1,2})?(?![\d,.]*\d)(?!\s*(?:[%개만]|기(?!준)))"),
    re.compile(r"(\d{2})\.(\d{2})(?:\.\d{2})?(?=\s*기준|\))"),
    re.compile(r"(\d{4})\s*년(?!\s*\d)"),
    re.compile(r"(\d{1,2})\s*월"),
]
_EN_MONTH_YEAR = re.compile(rf"\b({_MONTH_WORD})\.?\s+(?:\d{{1,2}},?\s+)?(\d{{4}})\b",
                            re.IGNORECASE)
_EN_MONTH_ALONE = re.compile(rf"\b(?:in|of|since|from|to|until|by)\s+({_MONTH_WORD})\b(?!\.?\s+\d)",
                             re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """One figure as written: ``value`` (float; "YYYY-MM" for a month; the text if malformed)."""

    text: str
    value: float | str
    line: int  # 1-based
    start: int  # offsets in the report text
    end: int
    kind: str  # number | percent | month
    step: float = 1.0  # value of the last digit shown
    approx: bool = False  # 약 / about / 가량 ...
    signed: bool = False  # an explicit + - ▲ ▼
    points: bool = False  # %p / pp
    malformed: bool = False
    year_only: bool = False  # "2025년": any month of that year


def _read_number(text: str, i: int) -> tuple[float, float, int, bool] | None:
    """(magnitude, step, end, malformed) of the number starting at ``i``, units included."""
    m = _NUM_AT.match(text, i)
    if m is None:
        return None
    raw = m.group(0)
    malformed = _WELL_FORMED.fullmatch(raw) is None
    digits = raw.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value, step, end = float(digits), 10.0**-decimals, m.end()
    total, below, unit_seen = 0.0, value, False
    while True:  # Korean large units: 1억 2천만, 45만 9,081, 33.8만
        unit = _KO_UNIT_AT.match(text, end)
        if unit is None:
            break
        mult = _KO_UNITS[unit.group(1)[0]] * (10**4 if unit.group(1) in ("천만", "백만") else 1)
        if mult >= 10**4:
            total += below * mult
            below = 0.0
        else:
            below *= mult
        step, end, unit_seen = step * mult, unit.end(), True
        nxt = _REMAINDER_AT.match(text, end)
        if nxt is None:
            break
        follow = _KO_UNIT_AT.match(text, nxt.end())
        if follow is None:  # a plain remainder: 45만 9,081
            if mult >= 10**4 and float(nxt.group(1).replace(",", "")) < mult:
                rest = nxt.group(1).replace(",", "")
                below = float(rest)
                step = 10.0 ** -(len(rest.split(".")[1]) if "." in rest else 0)
                end = nxt.end()
            break
        below = float(nxt.group(1).replace(",", ""))
        step, end = 1.0, nxt.end()
    if unit_seen:
        return total + below, step, end, malformed
    english = _EN_UNIT_AT.match(text, end)
    if english is not None:
        mult = _EN_UNITS[(english.group(1) or "k").lower()]
        return value * mult, step * mult, english.end(), malformed
    return value, step, end, malformed


def _month_at(text: str, i: int, target: tuple[int, int]) -> tuple[str, int, bool] | None:
    """("YYYY-MM", end, year_only) of a month written at ``i``, or None."""
    for pattern in _MONTH_PATTERNS:
        m = pattern.match(text, i)
        if m is None:
            continue
        groups = m.groups()
        if len(groups) == 1 and "년" in m.group(0):
            return f"{int(groups[0]):04d}", m.end(), True
        if len(groups) == 1:  # "11월": the latest such month up to the report month
            month = int(groups[0])
            if not 1 <= month <= 12:
                return None
            year = target[0] if month <= target[1] else target[0] - 1
            return f"{year:04d}-{month:02d}", m.end(), False
        year, month = int(groups[0]), int(groups[1])
        year += 2000 if year < 100 else 0
        if not (1 <= month <= 12 and 1990 <= year <= 2100):
            return None
        return f"{year:04d}-{month:02d}", m.end(), False
    return None


def _signed_start(text: str, i: int, line_start: int) -> tuple[int, int]:
    """(start, sign) including a sign written before ``i``: +3, -3 (not in 1,500-2,500), ▲ 3."""
    j = i - 1
    if j > line_start and text[j] == " " and text[j - 1] in "▲▼△▽":
        j -= 1
    if j < line_start or text[j] not in _SIGNS:
        return i, 0
    before = text[j - 1] if j > line_start else " "
    if text[j] in "+-−" and (before.isalnum() or before in ".,%)_"):
        return i, 0
    return j, _SIGNS[text[j]]


_TOKEN = re.compile(r"\d+(?:,\d+)*(?:\.\d+)?")
_MONTH_SHAPE = re.compile(r"\d{4}(?:$|\.)|\d{1,2}(?:\.\d{2})?$")  # a token a month may start
_SUFFIX_STARTS = frozenset("억만천백kK%퍼포pPtmb")
_APPROX_WORDS = re.compile(
    r"(?:약|대략|거의|about|approximately|approx\.|around|roughly|nearly|some|~|≈)\s*",
    re.IGNORECASE,
)
_LIST_MARKERS = re.compile(r"^\s*(?:[-*+]\s+)?(?:#{1,6}\s+)?\d+(?:\.\d+)*[.)]\s", re.MULTILINE)


class _Scan:
    """One pass over a report: line numbers, list markers and approximation words."""

    def __init__(self, text: str, scan: str, target: tuple[int, int]) -> None:
        self.text, self.scan, self.target = text, scan, target
        self.newlines = [m.start() for m in re.finditer("\n", scan)]
        self.skipped = {m.end() for m in _LIST_MARKERS.finditer(scan)}  # a marker ends here
        self.markers = [(m.start(), m.end()) for m in _LIST_MARKERS.finditer(scan)]
        self.approx_ends = {m.end() for m in _APPROX_WORDS.finditer(scan)}
        self.found: list[Mention] = []

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.newlines, pos - 1) + 1

    def line_start(self, pos: int) -> int:
        line = self.line_of(pos)
        return self.newlines[line - 2] + 1 if line > 1 else 0

    def add(self, start: int, end: int, value: float | str, kind: str, **extra: Any) -> None:
        line = self.line_of(start)
        self.found.append(Mention(self.text[start:end], value, line, start, end, kind, **extra))


def find_mentions(
    text: str, target_month: str, *, masked: str | None = None
) -> list[Mention]:
    """Every figure of ``text``; ``masked`` is the same text with names blanked (same length)."""
    scan = masked if masked is not None else text
    state = _Scan(text, scan, (int(target_month[:4]), int(target_month[5:7])))
    taken = _english_months(state)
    in_marker = {pos for start, end in state.markers for pos in range(start, end)}
    pos = 0
    for m in _TOKEN.finditer(scan):
        i = m.start()
        if i < pos or i in in_marker:
            continue
        if i in taken:
            pos = taken[i]
            continue
        pos = _scan_at(state, i, m.end())
    state.found.sort(key=lambda mention: mention.start)
    return state.found


def _english_months(state: _Scan) -> dict[int, int]:
    """English months (``November 2025``, ``in November``); returns {year start: year end}."""
    taken: dict[int, int] = {}
    lowered = state.scan.lower()
    if not any(prefix in lowered for prefix in _MONTH_PREFIXES):
        return taken
    target = state.target
    for m in _EN_MONTH_YEAR.finditer(state.scan):
        value = f"{int(m.group(2)):04d}-{_MONTH_NAMES[m.group(1).lower()]:02d}"
        state.add(m.start(), m.end(), value, MONTH, step=0)
        taken[m.start(2)] = m.end()
    for m in _EN_MONTH_ALONE.finditer(state.scan):
        month = _MONTH_NAMES[m.group(1).lower()]
        year = target[0] if month <= target[1] else target[0] - 1
        state.add(m.start(1), m.end(1), f"{year:04d}-{month:02d}", MONTH, step=0)
    return taken


def _scan_at(state: _Scan, i: int, token_end: int) -> int:
    """Read the figure whose first digit is at ``i``; returns where scanning goes on."""
    scan = state.scan
    before = scan[i - 1] if i else " "
    if (before.isascii() and before.isalpha()) or before == "_":  # Q3, top10, H2
        return token_end
    if _MONTH_SHAPE.match(scan, i, token_end):
        month = _month_at(scan, i, state.target)
        if month is not None:
            value, end, year_only = month
            state.add(i, end, value, MONTH, step=0, year_only=year_only)
            return end
    nxt = scan[token_end:token_end + 2]
    if nxt[:1] in _SUFFIX_STARTS or (nxt[:1] == " " and nxt[1:] in _SUFFIX_STARTS):
        number = _read_number(scan, i)
        if number is None:
            return i + 1
        magnitude, step, end, malformed = number
    else:  # the common case: a plain number
        raw = scan[i:token_end]
        malformed = "," in raw and _WELL_FORMED.fullmatch(raw) is None
        digits = raw.replace(",", "")
        magnitude, end = float(digits), token_end
        step = 10.0 ** -(len(digits) - digits.index(".") - 1) if "." in digits else 1.0
    return _add_number(state, i, end, magnitude, step, malformed)


def _add_number(state: _Scan, i: int, end: int, magnitude: float, step: float,
                malformed: bool) -> int:
    scan = state.scan
    start, sign = _signed_start(scan, i, state.line_start(i))
    points = _PP_AT.match(scan, end)
    percent = None if points else _PCT_AT.match(scan, end)
    suffix = points or percent
    if suffix is not None:
        end = suffix.end()
    approx = start in state.approx_ends or (
        i in state.approx_ends) or _APPROX_AFTER.match(scan, end) is not None
    if approx and step == 1 and magnitude >= 100:  # 약 459,000: the zeros are rounding
        shown = str(int(magnitude))
        step = 10.0 ** min(len(shown) - len(shown.rstrip("0")), len(shown) - 1)
    value: float | str = state.text[start:end] if malformed else magnitude * (sign or 1)
    state.add(start, end, value, PERCENT if suffix else NUMBER, step=step, approx=approx,
              signed=bool(sign), points=bool(points), malformed=malformed)
    return end
