"""What the emulator says: the answer model it serves, and the text mechanics around it.

The server asks an ``AnswerModel`` for the full answer to a conversation, then applies the
request's ``stopSequences`` and ``maxTokens`` (``limit_answer``) and splits it into stream
deltas (``split_chunks``). The model knows nothing of HTTP, quotas or faults; the emulator knows
nothing of reports. The default model is registered by path (``ANSWER_MODELS``, like the
offline backend in ``llm.backends.BACKENDS``): ``reports`` answers a facts prompt with the
offline writer's report (report_lib.reports.offline.model_answers), with the mistakes asked
for planted. ``generic_answer`` is the deterministic filler for any other prompt.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from report_lib.llm.tokens import estimate_tokens
from report_lib.registry import Registry

Turns = tuple[tuple[str, str], ...]  # (role, text) of each message, in order


@dataclass(frozen=True)
class Answer:
    """The full answer; ``kind``/``language`` are set when the prompt carried facts."""

    text: str
    tokens: int  # estimate_tokens(text), computed once per prompt
    kind: str | None = None
    language: str | None = None
    changes: tuple[dict[str, Any], ...] = ()  # figures changed on purpose, with the truth


@dataclass(frozen=True)
class Mistakes:
    """What the emulator was asked to get wrong (its --hallucinate ... options)."""

    hallucinate: float = 0.0  # fraction of a report's figures made wrong
    paraphrase: bool = False  # figures rewritten the way LLMs do, still true
    seed: int = 0
    repair_quality: float = 1.0  # chance a repair turn corrects a listed planted figure
    repeat: bool = False  # a repair turn keeps the first listed figure wrong


class AnswerModel(Protocol):
    """What the emulated model says. ``is_heavy`` answers run on a worker thread, so the
    server's event loop keeps answering other requests meanwhile."""

    def is_heavy(self, user: str) -> bool: ...

    def answer(self, system: str, turns: Turns, mistakes: Mistakes) -> Answer: ...


ANSWER_MODELS: Registry[AnswerModel] = Registry("answer model")
ANSWER_MODELS.register("reports", "report_lib.reports.offline.model_answers:REPORT_ANSWERS")


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
