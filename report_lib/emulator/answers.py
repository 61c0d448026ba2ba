"""What the emulator answers: the offline report for a facts prompt, else generic text.

A prompt carrying a ``<facts>`` block (report_lib.reports.prompts) is answered with
``write_report(facts, language)``, so an emulated run produces the same reports as the offline
backend, unless ``--paraphrase``/``--hallucinate`` rewrite or falsify some of its figures
(emulator.mistakes; the changes travel with the answer). Any other prompt gets a deterministic
generic answer derived from a hash of the prompt. Answers are cached per prompt: the emulator
must stay cheap per request.

A repair turn (the facts prompt, an assistant answer, then a user follow-up listing flagged
figures: reports.factcheck.reviewer) is answered with that assistant answer again, each listed
figure the emulator planted corrected with probability ``--repair-quality`` (the first one kept
with ``--hallucinate-repeat``); ``answer_conversation`` tells the two apart.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from report_lib.emulator import mistakes
from report_lib.llm.tokens import estimate_tokens
from report_lib.reports import prompts
from report_lib.reports.factcheck import parse_follow_up
from report_lib.reports.offline.writer import write_report

Turns = tuple[tuple[str, str], ...]  # (role, text) of each message, in order


@dataclass(frozen=True)
class Answer:
    """The full answer; ``kind``/``language`` are set when the prompt carried facts."""

    text: str
    tokens: int  # estimate_tokens(text), computed once per prompt
    kind: str | None = None
    language: str | None = None
    changes: tuple[dict[str, Any], ...] = ()  # figures changed on purpose (emulator.mistakes)


@lru_cache(maxsize=512)
def answer_for(
    system: str, user: str, hallucinate: float = 0.0, paraphrase: bool = False, seed: int = 0
) -> Answer:
    """The answer to a prompt (``user`` = the user messages' text, ``system`` = system text).

    ``hallucinate``/``paraphrase`` change the figures of a facts answer (emulator.mistakes),
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


_OPENINGS = (
    "This is an emulated answer from the local Bedrock emulator.",
    "The local Bedrock emulator wrote this text; no model was called.",
    "Emulated response: the text below is deterministic filler derived from the prompt.",
)
_SUBJECTS = (
    "The charging network",
    "Fast-charger coverage",
    "The operator's market share",
    "Station density",
    "The slow/fast charger mix",
    "Month-over-month growth",
    "The long tail of small operators",
    "Concentration among the top operators",
    "Utilisation per charger",
    "The national total",
)
_VERBS = (
    "grew by",
    "changed by",
    "moved by",
    "shifted by",
    "expanded by",
    "contracted by",
)
_OBJECTS = (
    "compared with the previous month",
    "against the market average",
    "relative to the nearest competitors",
    "over the reporting window",
    "in the target month",
    "across all regions",
)
_CLOSERS = (
    "The figures here are placeholders, not analysis.",
    "Replace the emulator with the bedrock backend for real text.",
    "Numbers in this paragraph are generated, not computed from data.",
    "Treat this paragraph as load-testing filler.",
)


def _sentence_pool(size: int = 512) -> tuple[str, ...]:
    """Filler sentences drawn once, so that an answer costs a few list picks."""
    rng = random.Random("report-lib-emulator")
    return tuple(
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.uniform(0.1, 25.0):.1f}% "
        f"{rng.choice(_OBJECTS)}."
        for _ in range(size)
    )


_SENTENCES = _sentence_pool()


def generic_answer(prompt: str) -> str:
    """A few deterministic paragraphs (≈600–900 tokens) chosen by a hash of ``prompt``."""
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
    rng = random.Random(int(digest, 16))
    budget = 4 * rng.randint(600, 900)  # characters: the text is ASCII, ~4 characters a token
    paragraphs = [f"# Emulated answer {digest[:8]}", rng.choice(_OPENINGS)]
    used = sum(len(p) + 2 for p in paragraphs)
    while used < budget:
        closer = rng.choice(_CLOSERS)
        sentences = []
        used += len(closer) + 3
        for _ in range(rng.randint(4, 7)):
            sentence = rng.choice(_SENTENCES)
            if used + len(sentence) + 1 > budget:
                break
            sentences.append(sentence)
            used += len(sentence) + 1
        if not sentences:
            break
        paragraphs.append(" ".join([*sentences, closer]))
    return "\n\n".join(paragraphs) + "\n"


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` whose estimate_tokens is at most ``max_tokens``."""
    if estimate_tokens(text) <= max_tokens:
        return text
    return _truncate(text, max_tokens)[0]


@lru_cache(maxsize=1024)
def _truncate(text: str, max_tokens: int) -> tuple[str, int]:
    """(longest fitting prefix, its tokens) of a ``text`` known to exceed ``max_tokens``."""
    if text.isascii():  # fast path: about 4 ASCII characters a token; checked, not assumed
        guess = text[: 4 * max_tokens]
        tokens = estimate_tokens(guess)
        if tokens <= max_tokens < estimate_tokens(text[: len(guess) + 1]):
            return guess, tokens
    lo, hi = 0, len(text)  # estimate_tokens(text[:lo]) <= max_tokens < estimate_tokens(text[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate_tokens(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid
    return text[:lo], estimate_tokens(text[:lo])


def limit_answer(
    answer: Answer, max_tokens: int | None, stop_sequences: tuple[str, ...] = ()
) -> tuple[str, str, int]:
    """Apply stopSequences then maxTokens; returns (text, stopReason, output tokens)."""
    text, tokens, reason = answer.text, answer.tokens, "end_turn"
    cut = min((i for s in stop_sequences if s and (i := text.find(s)) >= 0), default=-1)
    if cut >= 0:
        text, reason = text[:cut], "stop_sequence"
        tokens = estimate_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        text, tokens = _truncate(text, max_tokens)
        reason = "max_tokens"
    return text, reason, tokens


def split_chunks(text: str, seed: str, low: int = 20, high: int = 40) -> list[str]:
    """Split ``text`` into stream deltas of ``low``–``high`` estimated tokens each."""
    rng = random.Random(seed)
    chunks: list[str] = []
    start = 0
    cost = 0.0
    want = rng.randint(low, high)
    for i, ch in enumerate(text):
        cost += 0.25 if ord(ch) < 128 else 0.7  # the weights of tokens.estimate_tokens
        if cost >= want:
            chunks.append(text[start : i + 1])
            start, cost, want = i + 1, 0.0, rng.randint(low, high)
    if start < len(text):
        chunks.append(text[start:])
    return chunks
