"""The fact check as a run's reviewer: which figures to correct, and the follow-up that asks.

``FactReviewer`` implements jobs.Reviewer: ``review`` checks an answer against the facts of its
job's prompt (check_report; the facts and their index are parsed once per prompt and process),
``follow_up`` writes the repair turn's user message: each flagged figure with its line, what was
written, the nearest fact and the sentence (the line) it is in, then the request for the whole
report again with only those figures corrected. ``parse_follow_up`` reads the list back (the
emulator answers repair turns with it). ``repair_policy(rounds)`` is what a run's jobs carry
(None for 0 rounds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from report_lib.errors import ConfigError
from report_lib.records import RepairPolicy, ReportJob
from report_lib.reports.factcheck.check import check_report
from report_lib.reports.factcheck.fact_index import FactIndex
from report_lib.reports.facts import Facts
from report_lib.reports.prompts import parse_facts

MAX_ROUNDS = 5  # each round writes the whole report again
CORRECTIONS_OPEN, CORRECTIONS_CLOSE = "<corrections>", "</corrections>"
_ITEM = re.compile(r'^- line (\d+): wrote "([^"\n]*)"', re.MULTILINE)
_BLOCK = re.compile(r"^<corrections>[ \t]*\r?\n(.*?)^</corrections>[ \t]*$",
                    re.MULTILINE | re.DOTALL)

_ASK = {
    "ko": ("위 보고서의 다음 수치는 <facts>로 뒷받침되지 않습니다 (줄 번호, 쓴 값, 가장 가까운 "
           "사실 값):",
           "이 수치만 <facts>의 값으로 고치고 나머지 문장과 구성은 그대로 두어, 보고서 전체를 "
           "다시 써 주세요. 보고서만 답하세요."),
    "en": ("These figures of the report above are not supported by the <facts> (line, what was "
           "written, the nearest fact):",
           "Write the whole report again with only these figures corrected from the <facts>, "
           "every other sentence and the structure unchanged. Answer with the report only."),
}


def parse_repair(value: object, option: str = "--repair") -> int:
    """``off`` → 0, ``once`` → 1, a whole number 0..MAX_ROUNDS → itself; else a ConfigError."""
    text = str(value).strip().lower()
    rounds = {"off": 0, "once": 1}.get(text)
    if rounds is None and text.isdigit():
        rounds = int(text)
    if rounds is None or not 0 <= rounds <= MAX_ROUNDS or isinstance(value, bool):
        raise ConfigError(
            f"{option} {value!r}: expected off, once or a number of repair rounds from 0 to "
            f"{MAX_ROUNDS}"
        )
    return rounds


@lru_cache(maxsize=64)
def _facts(prompt: str) -> tuple[Facts, FactIndex] | None:
    facts = parse_facts(prompt)
    return None if facts is None else (facts, FactIndex.build(facts))


def _sentence(lines: list[str], number: int, limit: int = 200) -> str:
    """Line ``number`` (1-based) of the answer, trimmed, as the follow-up quotes it."""
    line = " ".join(lines[number - 1].split()) if 0 < number <= len(lines) else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def follow_up_message(unsupported: list[dict[str, Any]], language: str = "ko",
                      text: str = "") -> str:
    """The repair turn's user message for these flagged figures (result-contract items) of
    ``text``: each with its line, what was written, the nearest fact and the line itself."""
    ask, tell = _ASK.get(language, _ASK["en"])
    lines = text.split("\n")
    items = []
    for item in unsupported:
        entry = (f'- line {item["line"]}: wrote "{item["text"]}"; nearest fact: '
                 f'{item.get("nearest") or "none"}')
        sentence = _sentence(lines, int(item["line"])) if text else ""
        items.append(f"{entry}; in: {sentence}" if sentence else entry)
    return "\n".join([ask, CORRECTIONS_OPEN, *items, CORRECTIONS_CLOSE, tell])


def parse_follow_up(text: str) -> list[tuple[int, str]] | None:
    """(line, written text) of each figure a follow-up lists; None: not a repair follow-up."""
    block = _BLOCK.search(text or "")
    if block is None:
        return None
    return [(int(line), written) for line, written in _ITEM.findall(block.group(1))]


@dataclass(frozen=True)
class FactReviewer:
    """jobs.Reviewer for reports: the fact check of an answer, the follow-up for its flags."""

    def review(self, job: ReportJob, text: str) -> dict[str, Any] | None:
        found = _facts(job.prompt)
        if found is None:
            return None
        facts, index = found
        return check_report(text, facts, index=index).to_dict()

    def follow_up(self, job: ReportJob, text: str, check: dict[str, Any]) -> str:
        return follow_up_message(check["unsupported"], job.language, text)


def repair_policy(rounds: int) -> RepairPolicy | None:
    """The policy a run's jobs carry: up to ``rounds`` repair turns (None: no repair)."""
    return RepairPolicy(rounds, FactReviewer()) if rounds > 0 else None
