"""How the offline writer writes Markdown: tables, lists, names, comparisons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from report_lib.reports.facts import Facts
from report_lib.reports.offline.numbers import missing
from report_lib.reports.offline.phrases import Phrases

SectionWriter = Callable[[Facts, str, Phrases], list[str]]  # (facts, language, phrases) → lines


def topic(name: str, language: str) -> str:
    """Korean topic particle: 은 after a final consonant, 는 after a vowel (English: the name)."""
    if language != "ko":
        return name
    last = name.rstrip()[-1:] or " "
    if "가" <= last <= "힣":
        return name + ("은" if (ord(last) - ord("가")) % 28 else "는")
    return name + "은(는)"


def cmp(a: Any, b: Any) -> str:
    """"higher", "lower" or "equal" (also when either is missing)."""
    if missing(a) or missing(b) or a == b:
        return "equal"
    return "higher" if a > b else "lower"


def table(header: str, rows: Sequence[Sequence[str]], left: int = 2) -> list[str]:
    """Markdown table; the first ``left`` columns left-aligned, the rest right-aligned."""
    cols = header.split("|")
    align = ["---" if i < left else "---:" for i in range(len(cols))]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def name(cpo: Any, focus: str | None) -> str:
    """The operator's name, in bold when it is the focus operator."""
    return f"**{cpo}**" if focus is not None and cpo == focus else str(cpo)


def move(change: Any, t: Phrases) -> str:
    if missing(change):
        return t["norank"]
    if change == 0:
        return t["same"]
    return t["up" if change > 0 else "down"].format(n=abs(int(change)))


def bullets(items: Sequence[str]) -> list[str]:
    return [f"- {item}" for item in items]
