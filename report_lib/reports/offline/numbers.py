"""How the offline writer writes numbers: thousands separators, signs, %, %p / pp, "–" for none."""

from __future__ import annotations

from typing import Any

import pandas as pd

MISSING = "–"


def missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def num(value: Any, digits: int = 2) -> str:
    """459120 → "459,120"; floats with ``digits`` decimals; missing → "–"."""
    if missing(value):
        return MISSING
    if isinstance(value, float):
        return f"{value + 0.0:,.{digits}f}"
    return f"{int(value):,}"


def signed(value: Any, digits: int = 2) -> str:
    """3412 → "+3,412", -3412 → "-3,412" (ASCII minus); floats with ``digits`` decimals."""
    if missing(value):
        return MISSING
    if isinstance(value, float):
        value = round(value, digits) + 0.0
        return f"{value:,.{digits}f}" if value == 0 else f"{value:+,.{digits}f}"
    return f"{int(value):+,}" if value != 0 else "0"


def pct(value: Any) -> str:
    return MISSING if missing(value) else f"{float(value) + 0.0:.2f}%"


def spct(value: Any) -> str:
    return MISSING if missing(value) else signed(float(value)) + "%"


def pp(value: Any, language: str) -> str:
    if missing(value):
        return MISSING
    return signed(float(value)) + ("%p" if language == "ko" else " pp")
