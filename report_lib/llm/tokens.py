"""One token estimate used everywhere a count is needed before the model answers."""

from __future__ import annotations

import math


def estimate_tokens(text: str) -> int:
    """Rough Claude token count: ~4 ASCII characters per token, ~0.7 token per other character.

    Used by the emulator (to bill and time its answers), the offline backend and the
    client-side limiter. Real Bedrock reports exact counts in ``usage``; those win when present.
    Counted at C speed from the UTF-8 length: Hangul and CJK take 3 bytes, so
    ``(bytes - chars) / 2`` is the number of such characters (2-byte letters count half).
    """
    if not text:
        return 0
    chars = len(text)
    other = (len(text.encode("utf-8", "surrogatepass")) - chars) / 2
    ascii_chars = chars - other
    return max(1, math.ceil(ascii_chars / 4 + other * 0.7))
