"""``check_report(text, facts) -> FactCheck``: is every figure of a report backed by the facts?

A figure written with k decimals (or in 만 with k decimals) is supported when a fact rounds to
it at that precision; with 약/about, when a fact lies within one unit of its last digit (약 27.1%
for 27.15 rounded twice), trailing zeros counting as rounding (약 459,000). A sign written
(+, -, ▲, ▼) must match; without one, the size is compared (a fall written in words). A
figure no fact gives may follow from two facts by one step (factcheck.fact_index): it is then
supported and counted as ``derived`` (a sum only when written to the unit: a rounded figure is
too easily near some sum). Months must be months of the data window.

Not checked: list markers and heading numbers, the title's own month, and numbers that name a
table or a group rather than measure ("상위 10개", "top-5") when they equal a table's length or
the N of a ``topN`` fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from report_lib.reports.factcheck.fact_index import FactIndex, near
from report_lib.reports.factcheck.mentions import MONTH, PERCENT, Mention, find_mentions
from report_lib.reports.facts import Facts

_LABEL_BEFORE = re.compile(r"(?:상위|하위|top|bottom|largest|biggest)[\s-]*$", re.IGNORECASE)
_LABEL_AFTER = re.compile(r"\s?(?:대\s|대$)")
_EPSILON = 1e-9
SUPPORTED, DERIVED, UNSUPPORTED = "supported", "derived", "unsupported"


@dataclass(frozen=True)
class Unsupported:
    """One figure no fact supports: as written, where, and the closest fact."""

    text: str
    value: float | str
    line: int
    kind: str  # number | percent | month
    nearest: str | None
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "value": self.value, "line": self.line, "kind": self.kind,
                "nearest": self.nearest}


@dataclass
class FactCheck:
    """How many figures were checked, how many the facts support (derived ones included)."""

    checked: int = 0
    supported: int = 0
    derived: int = 0
    unsupported: list[Unsupported] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported

    @property
    def verdict(self) -> str:
        """``57/57``, or ``52/57 !`` when a figure is unsupported."""
        return verdict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The result contract's ``fact_check`` entry of one report."""
        return {"checked": self.checked, "supported": self.supported, "derived": self.derived,
                "unsupported": [u.to_dict() for u in self.unsupported]}


def delivered(check: dict[str, Any] | None) -> dict[str, Any] | None:
    """The check of the delivered text: after a repair turn its ``repair.delivered``, else the
    entry itself (the result contract's ``fact_check`` entry of one report)."""
    repair = (check or {}).get("repair")
    if repair and repair.get("delivered") is not None:
        return dict(repair["delivered"])
    return check


def corrected(check: dict[str, Any] | None) -> int:
    """How many figures the repair turns corrected (0 without a repair)."""
    repair = (check or {}).get("repair")
    return int(repair["fixed"]) if repair else 0


def verdict(check: dict[str, Any] | None) -> str:
    """``57/57``, ``52/57 !`` (some figure unsupported) or ``-`` (not checked), of the
    delivered text, from the result contract's ``fact_check`` entry of one report; ``+3``
    when a repair corrected 3 figures."""
    final = delivered(check)
    if not final:
        return "-"
    fixed = corrected(check)
    return (f"{final['supported']}/{final['checked']}" + (f" +{fixed}" if fixed else "")
            + (" !" if final["unsupported"] else ""))


def _mask(text: str, strings: frozenset[str]) -> str:
    """The text with every operator name (and other fact string) blanked, same length."""
    for name in sorted((s for s in strings if any(ch.isdigit() for ch in s)), key=len,
                       reverse=True):
        text = text.replace(name, " " * len(name))
    return text


def _excluded(mention: Mention, text: str, index: FactIndex, title_line: int | None,
              target: str) -> bool:
    if mention.kind == MONTH:
        return mention.line == title_line and mention.value == target
    if mention.signed or mention.kind == PERCENT or mention.malformed:
        return False
    if float(mention.value) not in index.labels:
        return False
    line_start = text.rfind("\n", 0, mention.start) + 1
    before = text[max(line_start, mention.start - 12): mention.start]
    return bool(_LABEL_BEFORE.search(before) or _LABEL_AFTER.match(text, mention.end))


def _tolerance(mention: Mention) -> float:
    return (mention.step if mention.approx else mention.step / 2) * (1 + _EPSILON) + _EPSILON


def judge(mention: Mention, index: FactIndex) -> str:
    """supported, derived or unsupported, for one figure."""
    if mention.kind == MONTH:
        pool = index.years if mention.year_only else index.months
        return SUPPORTED if mention.value in pool else UNSUPPORTED
    if mention.malformed:
        return UNSUPPORTED
    value, tol = float(mention.value), _tolerance(mention)
    percent = mention.kind == PERCENT
    if mention.signed:
        atomic = index.signed_percent if percent else index.signed_all
        found = near(atomic, value, tol)
    else:
        found = near(index.abs_percent if percent else index.abs_all, abs(value), tol)
    if found:
        return SUPPORTED
    if mention.signed and near(index.abs_percent if percent else index.abs_all, abs(value), tol):
        return UNSUPPORTED  # the fact, with the other sign
    return DERIVED if any(near(index.derived[name], abs(value), tol)
                          for name in _derivations(mention)) else UNSUPPORTED


def _derivations(mention: Mention) -> tuple[str, ...]:
    """Which one-step derivations can give this figure (see index.derive)."""
    if mention.points:
        return ("points",)
    if mention.kind == PERCENT:  # a change is written with a sign, a share without
        return ("change",) if mention.signed else ("change", "share")
    if mention.step < 1:
        return ("plain", "sum", "ratio", "change", "points", "share")
    return ("plain", "sum") if mention.step == 1 else ("plain",)


def _nearest(mention: Mention, index: FactIndex) -> str | None:
    if mention.kind == MONTH:
        months = sorted(index.months)
        if not months:
            return None
        key = str(mention.value)
        return min(months, key=lambda m: (abs(_month_number(m) - _month_number(key)), m))
    digits = re.sub(r"[^\d.]", "", str(mention.value)) if mention.malformed else mention.value
    try:
        value = float(digits)
    except ValueError:
        return None
    fact = index.nearest(value, mention.kind == PERCENT)
    return None if fact is None else fact.written()


def _month_number(month: str) -> int:
    year, _, mon = month.partition("-")
    return int(year) * 12 + (int(mon) if mon else 6)


def _title_line(text: str) -> int | None:
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("# "):
            return number
    return None


def checkable_mentions(text: str, facts: Facts, index: FactIndex | None = None) -> list[Mention]:
    """The figures of ``text`` that are checked: every mention but the exclusions above."""
    index = index or FactIndex.build(facts)
    mentions = find_mentions(text, facts.target_month, masked=_mask(text, index.strings))
    title_line = _title_line(text)
    return [m for m in mentions
            if not _excluded(m, text, index, title_line, facts.target_month)]


def check_report(text: str, facts: Facts, *, index: FactIndex | None = None) -> FactCheck:
    """Check every number and month of ``text`` against ``facts`` (see the module docstring)."""
    index = index or FactIndex.build(facts)
    text = text or ""
    result = FactCheck()
    verdicts: dict[tuple[Any, ...], str] = {}
    for mention in checkable_mentions(text, facts, index):
        key = (mention.kind, mention.value, mention.step, mention.approx, mention.signed,
               mention.malformed, mention.year_only)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = judge(mention, index)
        result.checked += 1
        if verdict == UNSUPPORTED:
            result.unsupported.append(Unsupported(
                mention.text, mention.value, mention.line, mention.kind,
                _nearest(mention, index), mention.start, mention.end,
            ))
            continue
        result.supported += 1
        result.derived += verdict == DERIVED
    return result
