"""Wrong on purpose: the emulator's answers with planted errors or LLM-style rewrites.

``hallucinate(text, facts, rate, rng)`` changes about ``rate`` of the checkable figures: digits
swapped in a count, a month moved out of the data window, a percentage off by one point.
A change is planted only when its new value is no value of the facts at the precision written
(checked here directly against the facts, independently of the fact checker), so every planted
figure is wrong. ``paraphrase(text, facts, rng)`` rewrites figures the way LLMs do while staying
true: 만 units (``45만 9,081기``, ``45.9만 기``, ``약 46만 기``), ``약`` with one decimal fewer,
``%포인트``/``percentage points``, ▲/▼ for signs. Both return the new text and the list of
``Change``s, which the server reports under ``GET /stats`` so that tests know the truth.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, dataclass
from typing import Any

from report_lib.reports.factcheck import FactIndex, checkable_mentions
from report_lib.reports.factcheck.mentions import MONTH, PERCENT, Mention
from report_lib.reports.facts import Facts

HALLUCINATED, PARAPHRASED = "hallucinated", "paraphrased"


@dataclass(frozen=True)
class Change:
    """One figure changed: where, what it was, what it is now and how."""

    line: int
    was: str
    now: str
    change: str  # hallucinated | paraphrased
    how: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fact_values(facts: Facts) -> list[float]:
    index = FactIndex.build(facts)
    return [abs(f.value) for f in index.facts]


def _is_a_fact(value: float, step: float, values: list[float]) -> bool:
    return any(abs(abs(value) - v) <= step / 2 + 1e-9 for v in values)


def _swap_digits(text: str, rng: random.Random) -> str | None:
    """The text with two neighbouring different digits swapped, or None (e.g. "11")."""
    spots = [i for i in range(len(text) - 1)
             if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]
             and not (i == 0 and text[i + 1] == "0")]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _shift_month(mention: Mention, index: FactIndex, rng: random.Random) -> str | None:
    """The month written again, moved just outside the data window (YYYY-MM / YYYY년 M월)."""
    text = mention.text
    last, first = max(index.months), min(index.months)
    year, month = divmod(int(last[:4]) * 12 + int(last[5:7]) - 1 + rng.randint(1, 3), 12)
    if rng.random() < 0.5:
        year, month = divmod(int(first[:4]) * 12 + int(first[5:7]) - 1 - rng.randint(1, 3), 12)
    month += 1
    if "년" in text and "월" in text:
        return f"{year}년 {month}월" + text[text.index("월") + 1:]
    if len(text) >= 7 and text[:4].isdigit() and text[4] in "-./":
        return f"{year:04d}{text[4]}{month:02d}" + text[7:]
    return None


def _wrong(mention: Mention, index: FactIndex, values: list[float],
           rng: random.Random) -> tuple[str, str] | None:
    """(new text, how) for a planted error in ``mention``, or None when none fits."""
    if mention.kind == MONTH:
        if mention.year_only:
            return None
        new = _shift_month(mention, index, rng)
        return None if new is None else (new, "month shifted")
    if mention.malformed or mention.approx or isinstance(mention.value, str):
        return None
    if mention.kind == PERCENT and not mention.points and abs(float(mention.value)) >= 1:
        delta = rng.choice((1.0, -1.0))
        for off in (delta, -delta):
            size = abs(float(mention.value)) + off
            if size > 0 and not _is_a_fact(size, mention.step, values):
                decimals = max(0, -round(math.log10(mention.step)))
                head = mention.text[: len(mention.text) - len(mention.text.lstrip("+-−▲▼ "))]
                tail = mention.text[len(re.sub(r"[%pP 포인트]+$", "", mention.text)):]
                return f"{head}{size:,.{decimals}f}{tail}", "share off by a point"
        return None
    if abs(float(mention.value)) < 10:
        return None
    for _ in range(4):
        new = _swap_digits(mention.text, rng)
        if new is None:
            return None
        digits = new.lstrip("+-−▲▼ ").replace(",", "")
        number = "".join(ch for ch in digits if ch.isdigit() or ch == ".")
        try:
            value = float(number)
        except ValueError:
            return None
        if not _is_a_fact(value, mention.step, values):
            return new, "digits swapped"
    return None


def hallucinate(text: str, facts: Facts, rate: float,
                rng: random.Random) -> tuple[str, list[Change]]:
    """Plant errors in about ``rate`` of the checkable figures of ``text``.

    Figures with no fitting error (one digit, a change in %p, a rounded figure) are left alone;
    the others are picked a little more often so that the expected share of changed figures
    is ``rate`` of all of them.
    """
    if rate <= 0:
        return text, []
    index = FactIndex.build(facts)
    values = _fact_values(facts)
    mentions = checkable_mentions(text, facts, index)
    candidates = [(m, w) for m in mentions if (w := _wrong(m, index, values, rng)) is not None]
    if not candidates:
        return text, []
    chance = min(1.0, rate * len(mentions) / len(candidates))
    edits = [(m, *w) for m, w in candidates if rng.random() < chance]
    return _apply(text, edits, HALLUCINATED)


def _in_man(value: float, rng: random.Random) -> tuple[str, str] | None:
    """A count of 10,000 or more in 만 units, one of the ways LLMs write it."""
    man, rest = divmod(int(value), 10_000)
    style = rng.randrange(3)
    if style == 0 and rest:
        return f"{man:,}만 {rest:,}", "만 units"
    if style == 1:
        return f"{value / 10_000:,.1f}만", "만 units, one decimal"
    return f"약 {round(value / 10_000):,}만", "만 units, rounded with 약"


def _reworded(mention: Mention, language: str, rng: random.Random) -> tuple[str, str] | None:
    if mention.kind == MONTH or mention.malformed or isinstance(mention.value, str):
        return None
    value, text = float(mention.value), mention.text
    if mention.points:
        size = text.lstrip("+-−▲▼ ").split("%")[0].split(" ")[0]
        if language == "ko":
            return f"{size}%포인트", "%p as %포인트, sign in words"
        return f"{size} percentage points", "pp spelled out, sign in words"
    if mention.kind == PERCENT and mention.step == 0.01 and not mention.signed:
        return f"약 {abs(value):.1f}%", "rounded with 약"
    if mention.signed and mention.step >= 1 and value != 0:
        arrow = "▲" if value > 0 else "▼"
        return f"{arrow}{abs(value):,.0f}", "sign as ▲/▼"
    if mention.step == 1 and abs(value) >= 10_000 and not mention.signed:
        if language == "ko":
            return _in_man(abs(value), rng)
        return f"about {round(abs(value), -3):,.0f}", "rounded with about"
    return None


def paraphrase(text: str, facts: Facts, rng: random.Random,
               language: str = "ko") -> tuple[str, list[Change]]:
    """Rewrite figures the way LLMs do, keeping them true."""
    index = FactIndex.build(facts)
    edits = []
    for mention in checkable_mentions(text, facts, index):
        if text[mention.start - 1: mention.start] in ("|", " ") and "|" in text[
                text.rfind("\n", 0, mention.start) + 1: mention.start]:
            continue  # leave table cells as they are
        new = _reworded(mention, language, rng)
        if new is not None:
            edits.append((mention, *new))
    return _apply(text, edits, PARAPHRASED)


def _apply(text: str, edits: list[tuple[Mention, str, str]],
           change: str) -> tuple[str, list[Change]]:
    changes = []
    for mention, new, how in sorted(edits, key=lambda e: e[0].start, reverse=True):
        text = text[: mention.start] + new + text[mention.end:]
        changes.append(Change(mention.line, mention.text, new, change, how))
    return text, changes[::-1]
