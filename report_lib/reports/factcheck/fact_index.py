"""What the facts given to the model can support: their values, one-step derivations, months.

Every number in ``Facts.values`` and in its tables is a fact with a ``family`` (what it
measures: ``total_chargers``, ``share``…, the same for a month's value, the previous month's and
a change of it) and a ``group`` (the record it sits in: ``national``, ``focus``, a table row).
Derived values follow from two facts by one step, between facts of one record (difference,
sum, ratio, percent share) or of one family (difference = change or percentage-point change,
percent change, percent share of a market total). Ranks only differ within a record.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from report_lib.reports.facts import Facts

COUNT, RANK, PERCENT, POINTS, INDEX, RATIO = "count", "rank", "percent", "pp", "index", "ratio"
PERCENT_UNITS = frozenset({PERCENT, POINTS})
TOTAL_GROUPS = frozenset({"national", "market"})
SHARE_BASE = "total_chargers"  # a record's counts as a percentage of its total
_MONTH_VALUE = re.compile(r"\d{4}-\d{2}")
_ALIASES = {
    "total": "total_chargers", "chargers": "total_chargers", "dc_pct": "fast_pct",
    "ac_pct": "slow_pct", "fast_ratio_pct": "fast_pct", "slow_ratio_pct": "slow_pct",
}
_LABEL_NUMBER = re.compile(r"(?:top|bottom)(\d+)")


@dataclass(frozen=True)
class Fact:
    """One number of the facts: its value, where it is, what it measures."""

    value: float
    path: str
    family: str
    group: str
    unit: str
    row: int | None = None  # the row, for a table cell
    timed: bool = False  # a cell of a table by month

    def written(self) -> str:
        """The fact as a reader would quote it, with where it comes from."""
        shown = f"{int(self.value):,}" if float(self.value).is_integer() else f"{self.value:,}"
        suffix = {PERCENT: "%", POINTS: "%p"}.get(self.unit, "")
        return f"{shown}{suffix} ({self.path})"


def _unit(key: str, family: str) -> str:
    if key.endswith("_pp"):
        return POINTS
    if family.endswith("%chg") or key == "pct" or key.endswith("_pct") or "share" in key:
        return PERCENT
    if key.startswith("hhi"):
        return INDEX
    if "per_station" in key:
        return RATIO
    return RANK if "rank" in key else COUNT


def _family(keys: list[str]) -> str:
    key = keys[-1]
    if key in ("abs", "pct") and len(keys) >= 2:  # national_mom.<column>.abs / .pct
        return keys[-2] if key == "abs" else keys[-2] + "%chg"
    key = re.sub(r"_(first|last|prev)$", "", key)
    return _ALIASES.get(key, key)


@lru_cache(maxsize=1024)
def _classify(key: str, parent: str) -> tuple[str, str]:
    """(family, unit) of a fact named ``key`` (``parent``: the column of national_mom)."""
    family = _family([parent, key] if parent else [key])
    return family, _unit(key, family)


def _walk(value: Any, keys: list[str]) -> Iterator[tuple[list[str], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, [*keys, str(key)])
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, [*keys, str(i)])
    else:
        yield keys, value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def collect(facts: Facts) -> tuple[list[Fact], set[str], set[str]]:
    """(numeric facts, months "YYYY-MM", names and other strings) of ``facts``."""
    found: list[Fact] = []
    months = {facts.target_month}
    strings: set[str] = set()

    def add(keys: list[str], group: str, value: Any, row: int | None = None,
            timed: bool = False) -> None:
        number = _number(value)
        if number is not None:
            parent = keys[-2] if len(keys) > 1 and keys[-1] in ("abs", "pct") else ""
            family, unit = _classify(keys[-1], parent)
            found.append(Fact(number, ".".join(keys), family, group, unit, row, timed))
        elif isinstance(value, str):
            (months if _MONTH_VALUE.fullmatch(value) else strings).add(value)

    add(["window_months"], "window", facts.window_months)
    for keys, value in _walk(facts.values, []):
        add(keys, ".".join(keys[:-1]) or "values", value)
    for name, table in facts.tables.items():
        timed = "month" in table.columns
        columns = [str(c) for c in table.columns]
        for i, row in enumerate(table.astype(object).to_numpy().tolist()):
            for column, value in zip(columns, row, strict=True):
                add([f"{name}[{i}]", column], f"{name}[{i}]", value, i, timed)
    if facts.focus_cpo:
        strings.add(facts.focus_cpo)
    return found, months, strings


def labels(facts: Facts) -> set[float]:
    """Numbers that name things rather than measure them: table sizes, "top3" in key names."""
    sizes = {float(len(table)) for table in facts.tables.values()}
    keys = " ".join(keys[-1] for keys, _ in _walk(facts.values, []))
    named = {float(n) for n in _LABEL_NUMBER.findall(keys + " " + " ".join(facts.tables))}
    return sizes | named


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (x, y) with x from ``a`` and y from ``b``."""
    x, y = np.meshgrid(a, b, indexing="ij", copy=False)
    return x.ravel(), y.ravel()


def _ratios(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    ok = y != 0
    return np.abs(x[ok] / y[ok] * scale)


def _series_pairs(members: list[Fact]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y) pairs one family can be compared in, and (later, earlier) pairs of time series.

    Outside tables any two facts; in a table's column the neighbouring rows and the first with
    the last row. A table with a ``month`` column is a time series: its pairs are ordered.
    """
    loose = np.array([f.value for f in members if f.row is None])
    xs, ys = _pairs(loose, loose) if len(loose) > 1 else (np.array([]), np.array([]))
    pairs_x, pairs_y, later, earlier = [xs], [ys], [], []
    columns: dict[str, list[Fact]] = defaultdict(list)
    for fact in members:
        if fact.row is not None:
            columns[fact.group.split("[")[0]].append(fact)
    for cells in columns.values():
        series = np.array([f.value for f in cells])
        if len(series) < 2:
            continue
        a = np.append(series[:-1], series[0])
        b = np.append(series[1:], series[-1])
        pairs_x += [a, b]
        pairs_y += [b, a]
        if cells[0].timed:
            later.append(b)
            earlier.append(a)
    later_all = np.concatenate(later) if later else np.array([])
    earlier_all = np.concatenate(earlier) if earlier else np.array([])
    return np.concatenate(pairs_x), np.concatenate(pairs_y), later_all, earlier_all


def _within_records(found: list[Fact], plain: list[np.ndarray], sums: list[np.ndarray],
                    ratios: list[np.ndarray], percent: list[np.ndarray]) -> None:
    """Differences, sums, ratios of the counts of one record; their shares of its total."""
    by_group: dict[str, list[Fact]] = defaultdict(list)
    for fact in found:
        by_group[fact.group].append(fact)
    for members in by_group.values():
        for unit in (COUNT, RANK):
            values = np.array([f.value for f in members if f.unit == unit])
            if len(values) < 2:
                continue
            x, y = _pairs(values, values)
            plain.append(np.abs(x - y))
            if unit == COUNT:
                sums.append(x + y)
                ratios.append(_ratios(x, y, 1.0))
        counts = np.array([f.value for f in members if f.unit == COUNT])
        totals = np.array([f.value for f in members if f.family == SHARE_BASE])
        if len(totals) and len(counts) > 1:
            percent.append(_ratios(*_pairs(counts, totals), 100.0))


def derive(found: list[Fact]) -> dict[str, np.ndarray]:
    """What follows from two facts by one step: ``plain`` (differences), ``sum`` (of counts),
    ``ratio``, ``share`` (a part as % of a whole), ``change`` (% change), ``points`` (%p).

    Sorted absolute values. Ratios are kept apart: they are matched only against figures
    written with decimals, since whole small numbers would otherwise all be some ratio.
    Percent changes are not compared with each other (a change of a growth rate is not a
    figure reports give), and a time series only changes forward.
    """
    plain: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    ratios: list[np.ndarray] = []
    shares: list[np.ndarray] = []
    changes: list[np.ndarray] = []
    points: list[np.ndarray] = []
    _within_records(found, plain, sums, ratios, shares)
    by_family: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for fact in found:
        by_family[(fact.family, fact.unit)].append(fact)
    totals = [f for f in found if f.group in TOTAL_GROUPS and f.unit == COUNT]
    for (family, unit), members in by_family.items():
        if unit in (RANK, POINTS) or len(members) < 2 or _is_change(family):
            continue
        x, y, later, earlier = _series_pairs(members)
        (points if unit == PERCENT else plain).append(np.abs(x - y))
        if unit != COUNT:
            continue
        loose = np.array([f.value for f in members if f.row is None])
        if len(loose) > 1:
            now, before = _pairs(loose, loose)
            changes.append(_ratios(now - before, before, 100.0))
        changes.append(_ratios(later - earlier, earlier, 100.0))
        base = np.array([f.value for f in totals if f.family == family])
        if len(base):
            shares.append(_ratios(*_pairs(np.array([f.value for f in members]), base), 100.0))
    parts = {"plain": plain, "sum": sums, "ratio": ratios, "share": shares, "change": changes,
             "points": points}
    return {name: _sorted(arrays) for name, arrays in parts.items()}


def _is_change(family: str) -> bool:
    return family.endswith(("%chg", "_change_pct", "growth_pct", "change_pct"))


def _sorted(parts: list[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(parts)) if parts else np.array([], dtype=float)


@dataclass
class FactIndex:
    """Sorted arrays to answer "does a fact (or a one-step derivation) round to this?"."""

    facts: list[Fact]
    months: frozenset[str]
    years: frozenset[str]
    strings: frozenset[str]
    labels: frozenset[float]
    signed_all: np.ndarray
    abs_all: np.ndarray
    signed_percent: np.ndarray
    abs_percent: np.ndarray
    derived: dict[str, np.ndarray]  # see derive()

    @classmethod
    def build(cls, facts: Facts) -> FactIndex:
        found, months, strings = collect(facts)
        values = np.array([f.value for f in found], dtype=float)
        percent = np.array([f.value for f in found if f.unit in PERCENT_UNITS], dtype=float)

        return cls(
            facts=found, months=frozenset(months), years=frozenset(m[:4] for m in months),
            strings=frozenset(strings), labels=frozenset(labels(facts)),
            signed_all=np.unique(values), abs_all=np.unique(np.abs(values)),
            signed_percent=np.unique(percent), abs_percent=np.unique(np.abs(percent)),
            derived=derive(found),
        )

    def nearest(self, value: float, percent: bool) -> Fact | None:
        """The fact closest to ``value`` (percentages first for a percentage)."""
        pool = [f for f in self.facts if not percent or f.unit in PERCENT_UNITS] or self.facts
        if not pool:
            return None
        return min(pool, key=lambda f: (abs(abs(f.value) - abs(value)), len(f.path)))


def near(values: np.ndarray, value: float, tolerance: float) -> bool:
    """Whether a value of the sorted array lies within ``tolerance`` of ``value``."""
    i = int(np.searchsorted(values, value - tolerance))
    return i < len(values) and values[i] <= value + tolerance
