"""One token estimate used everywhere a count is needed before the model answers."""

from __future__ import annotations

import math


def estimate_tokens(text: str) -> int:
    """Rough Claude token count: ~4 ASCII characters per token, ~0.7 token per Hangul/CJK character.

    Used by the emulator (to bill and time its answers), the offline backend and the
    client-side limiter. Real Bedrock reports exact counts in ``usage``; those win when present.
    """
    if not text:
        return 0
    if text.isascii():  # fast path: the common case for English prompts and JSON
        return max(1, math.ceil(len(text) / 4))
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    other = len(text) - ascii_chars
    return max(1, math.ceil(ascii_chars / 4 + other * 0.7))
