"""What the emulated model writes for our prompts: the offline report, wrong where asked.

A prompt carrying a ``<facts>`` block (report_lib.reports.prompts) is answered with
``write_report(facts, language)``, so an emulated run produces the same reports as the offline
backend, unless ``--paraphrase``/``--hallucinate`` rewrite or falsify some of its figures
(reports.offline.mistakes; the changes travel with the answer). Any other prompt gets the
emulator's deterministic generic answer. Answers are cached per prompt: the emulator must stay
cheap per request.

A repair turn (the facts prompt, an assistant answer, then a user follow-up listing flagged
figures: reports.factcheck.reviewer) is answered with that assistant answer again, each listed
figure the emulator planted corrected with probability ``--repair-quality`` (the first one kept
with ``--hallucinate-repeat``); ``answer_conversation`` tells the two apart.

The emulator (report_lib.emulator) serves ``REPORT_ANSWERS``, registered there by path as the
``reports`` answer model: the emulator itself never imports the reports layer.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from typing import Any

from report_lib.emulator.answers import Answer, Mistakes, Turns, generic_answer
from report_lib.llm.tokens import estimate_tokens
from report_lib.reports import prompts
from report_lib.reports.factcheck import parse_follow_up
from report_lib.reports.offline import mistakes
from report_lib.reports.offline.writer import write_report


@lru_cache(maxsize=512)
def answer_for(
    system: str, user: str, hallucinate: float = 0.0, paraphrase: bool = False, seed: int = 0
) -> Answer:
    """The answer to a prompt (``user`` = the user messages' text, ``system`` = system text).

    ``hallucinate``/``paraphrase`` change the figures of a facts answer (reports.offline.mistakes),
    the same way for the same prompt and ``seed``.
    """
    facts_answer = _facts_answer(system, user, hallucinate, paraphrase, seed)
    if facts_answer is not None:
        return facts_answer
    text = generic_answer(system + "\n" + user)
    return Answer(text, estimate_tokens(text))


def _facts_answer(
    system: str, user: str, hallucinate: float, paraphrase: bool, seed: int
) -> Answer | None:
    if "<facts" not in user:
        return None
    facts = prompts.parse_facts(user)
    if facts is None:
        return None
    language = prompts.parse_language(system + "\n" + user)
    text = write_report(facts, language)
    changes: list[mistakes.Change] = []
    rng = random.Random(f"{seed}-{hashlib.sha256(user.encode()).hexdigest()}")
    if paraphrase:
        text, changed = mistakes.paraphrase(text, facts, rng, language)
        changes += changed
    if hallucinate:
        text, changed = mistakes.hallucinate(text, facts, hallucinate, rng)
        changes += changed
    about = {"report": facts.kind, "month": facts.target_month, "focus": facts.focus_cpo}
    return Answer(text, estimate_tokens(text), facts.kind, language,
                  tuple({**about, **c.to_dict()} for c in changes))


def answer_conversation(
    system: str,
    turns: Turns,
    hallucinate: float = 0.0,
    paraphrase: bool = False,
    seed: int = 0,
    repair_quality: float = 1.0,
    repeat: bool = False,
) -> Answer:
    """The answer to a whole Converse conversation: a repair turn (see the module doc), or
    ``answer_for`` the user messages' text."""
    repair = _repair_parts(turns)
    if repair is not None:
        first_user, previous, corrections = repair
        return repair_answer(system, first_user, previous, corrections, hallucinate,
                             paraphrase, seed, repair_quality, repeat)
    user = "\n".join(text for role, text in turns if role == "user")
    return answer_for(system, user, hallucinate, paraphrase, seed)


def _repair_parts(turns: Turns) -> tuple[str, str, tuple[tuple[int, str], ...]] | None:
    """(facts prompt, the answer to repair, listed figures) of a repair turn, else None."""
    if len(turns) < 3 or turns[-1][0] != "user" or turns[-2][0] != "assistant":
        return None
    if "<facts" not in turns[0][1]:
        return None
    corrections = parse_follow_up(turns[-1][1])
    if corrections is None:
        return None
    return turns[0][1], turns[-2][1], tuple(corrections)


@lru_cache(maxsize=256)
def repair_answer(
    system: str,
    first_user: str,
    previous: str,
    corrections: tuple[tuple[int, str], ...],
    hallucinate: float = 0.0,
    paraphrase: bool = False,
    seed: int = 0,
    quality: float = 1.0,
    repeat: bool = False,
) -> Answer:
    """``previous`` with each listed figure that this emulator planted in its answer to
    ``first_user`` put back as it was, with probability ``quality`` (the first one kept when
    ``repeat``). A listed figure the emulator did not plant is left as written."""
    original = answer_for(system, first_user, hallucinate, paraphrase, seed)
    planted = {(c["line"], c["now"]): c["was"] for c in original.changes
               if c["change"] == mistakes.HALLUCINATED}
    rng = random.Random(f"{seed}-repair-{hashlib.sha256(previous.encode()).hexdigest()}")
    lines = previous.split("\n")
    changes: list[dict[str, Any]] = []
    for n, (line, written) in enumerate(corrections):
        truth = planted.get((line, written))
        if truth is None or not 0 < line <= len(lines) or written not in lines[line - 1]:
            continue
        kept = (repeat and n == 0) or rng.random() >= quality
        if not kept:
            lines[line - 1] = lines[line - 1].replace(written, truth, 1)
        changes.append({"line": line, "was": written, "now": written if kept else truth,
                        "change": "kept" if kept else "corrected",
                        "how": "--hallucinate-repeat" if repeat and n == 0 else
                        ("missed (--repair-quality)" if kept else "repair turn")})
    text = "\n".join(lines)
    about = {"report": original.kind, "month": None, "focus": None}
    facts = prompts.parse_facts(first_user)
    if facts is not None:
        about = {"report": facts.kind, "month": facts.target_month, "focus": facts.focus_cpo}
    return Answer(text, estimate_tokens(text), original.kind, original.language,
                  tuple({**about, **c} for c in changes))


class ReportAnswers:
    """The ``reports`` answer model (emulator.answers.AnswerModel)."""

    def is_heavy(self, user: str) -> bool:
        return "<facts" in user  # pandas work

    def answer(self, system: str, turns: Turns, mistakes: Mistakes) -> Answer:
        return answer_conversation(system, turns, mistakes.hallucinate, mistakes.paraphrase,
                                   mistakes.seed, mistakes.repair_quality, mistakes.repeat)


REPORT_ANSWERS = ReportAnswers()
