"""estimate_tokens: the weights it documents, and monotonic on prefixes."""

from __future__ import annotations

import math

from report_lib.llm.tokens import estimate_tokens


def test_ascii_is_four_characters_per_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 25) == 25
    assert estimate_tokens("a") == 1


def test_hangul_weighs_point_seven_per_character() -> None:
    text = "충전기" * 10  # 30 Hangul syllables
    assert estimate_tokens(text) == math.ceil(30 * 0.7)
    mixed = "총 충전기 459,120기"  # 5 Hangul + 9 ASCII characters
    assert estimate_tokens(mixed) == math.ceil(9 / 4 + 5 * 0.7)


def test_prefixes_never_weigh_more_than_the_whole() -> None:
    text = "GS차지비 점유율 16.1% (전월 대비 -0.1%p), total 73,912"
    counts = [estimate_tokens(text[:i]) for i in range(1, len(text) + 1)]
    assert counts == sorted(counts)
