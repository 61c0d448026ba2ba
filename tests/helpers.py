"""Helpers shared by the tests (fixtures that use them live in conftest.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from report_lib.data.loader import COLUMNS

SAMPLE_KWARGS: dict[str, Any] = {"months": 14, "operators": 30, "seed": 1}

# 2 months × 4 operators. National totals: 2025-10 → 30 stations, 83 slow, 17 fast, 100 chargers;
# 2025-11 → 40 stations, 158 slow, 42 fast, 200 chargers. In 2025-11 에버온 overtakes GS차지비.
_TINY_ROWS: list[tuple[Any, ...]] = [
    # month, cpo, rank, stations, slow, fast, total, share, Δrank, Δstations, Δslow, Δfast, Δtotal
    ("2025-10", "GS차지비", 1, 10, 45, 5, 50, 50.0, None, None, None, None, None),
    ("2025-10", "에버온", 2, 10, 20, 10, 30, 30.0, None, None, None, None, None),
    ("2025-10", "파워큐브", 3, 5, 15, 0, 15, 15.0, None, None, None, None, None),
    ("2025-10", "차지인", 4, 5, 3, 2, 5, 5.0, None, None, None, None, None),
    ("2025-11", "에버온", 1, 14, 50, 20, 70, 35.0, 1, 4, 30, 10, 40),
    ("2025-11", "GS차지비", 2, 12, 54, 6, 60, 30.0, -1, 2, 9, 1, 10),
    ("2025-11", "파워큐브", 3, 8, 40, 10, 50, 25.0, 0, 3, 25, 10, 35),
    ("2025-11", "차지인", 4, 6, 14, 6, 20, 10.0, 0, 1, 11, 4, 15),
]


def make_tiny_frame() -> pd.DataFrame:
    """A canonical table small enough to check every number by hand (see _TINY_ROWS)."""
    frame = pd.DataFrame(_TINY_ROWS, columns=list(COLUMNS))
    frame["month"] = frame["month"].astype(str)
    frame["cpo"] = frame["cpo"].astype(str)
    for column in (
        "rank",
        "rank_change",
        "stations_change",
        "slow_change",
        "fast_change",
        "total_change",
    ):
        frame[column] = frame[column].astype("Int64")
    for column in ("stations", "slow_chargers", "fast_chargers", "total_chargers"):
        frame[column] = frame[column].astype("int64")
    frame["market_share"] = frame["market_share"].astype("float64")
    return frame


def converse_response(
    text: str | list[str], inp: int, out: int, stop: str = "end_turn"
) -> dict[str, Any]:
    """A Bedrock Converse response body (for botocore's Stubber), one content block per text."""
    texts = [text] if isinstance(text, str) else text
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": t} for t in texts]}},
        "stopReason": stop,
        "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
        "metrics": {"latencyMs": 3},
    }
