"""The facts every report is written from, computed with pandas from the canonical table.

``compute_facts(df, kind)`` turns the canonical table (docs/ARCHITECTURE.md) into a ``Facts``
record for one report kind: ``kpi`` snapshot (kpi.py), ``cpo`` ranking and positioning (cpo.py)
and ``trend`` over the last months (trend.py). ``context.py`` holds what they share (the month and
operator resolved, the prepared table, rounding conventions); ``model.py`` the record and its JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import pandas as pd

from report_lib import config
from report_lib.errors import ConfigError
from report_lib.reports.facts.context import Context, resolve_cpo, resolve_month, shift
from report_lib.reports.facts.cpo import cpo_facts
from report_lib.reports.facts.kpi import kpi_facts
from report_lib.reports.facts.model import Facts
from report_lib.reports.facts.trend import trend_facts

__all__ = [
    "Facts", "compute_all_facts", "compute_facts", "iter_facts", "resolve_cpo", "resolve_month",
]

KINDS: dict[str, Callable[[Context], Facts]] = {
    "kpi": kpi_facts, "cpo": cpo_facts, "trend": trend_facts,
}


def _check_kinds(kinds: Iterable[str]) -> list[str]:
    kinds = list(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError(
                f"unknown report kind {kind!r}; valid kinds: {', '.join(config.REPORT_KINDS)}"
            )
    return kinds


def compute_facts(
    df: pd.DataFrame,
    kind: str,
    *,
    month: str = "latest",
    focus_cpo: str | None = None,
    window: int = config.DEFAULT_WINDOW_MONTHS,
) -> Facts:
    """Facts for one report kind (``kpi``, ``cpo`` or ``trend``) in the target month."""
    _check_kinds([kind])
    return KINDS[kind](Context.build(df, month, focus_cpo, window))


def compute_all_facts(
    df: pd.DataFrame,
    *,
    month: str = "latest",
    focus_cpo: str | None = None,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    kinds: Iterable[str] = config.REPORT_KINDS,
) -> dict[str, Facts]:
    """Facts for several kinds at once, preparing the table a single time."""
    kinds = _check_kinds(kinds)
    ctx = Context.build(df, month, focus_cpo, window)
    return {kind: KINDS[kind](ctx) for kind in kinds}


def iter_facts(
    df: pd.DataFrame,
    *,
    months: Iterable[str],
    focus_cpos: Iterable[str | None] | None = None,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    kinds: Iterable[str] = config.REPORT_KINDS,
) -> Iterator[tuple[str, str | None, Facts]]:
    """(month, focus operator, facts) for many months × operators × kinds, the table prepared
    once. ``focus_cpos`` None: every operator present in each month."""
    kinds = _check_kinds(kinds)
    base = Context.build(df, "latest", None, window)
    for month in months:
        target = resolve_month(base.frame, month)
        prev = shift(target, -1)
        ctx = replace(base, target=target, prev=prev if (base.frame["month"] == prev).any()
                      else None)
        present = list(ctx.rows()["cpo"])
        for cpo in present if focus_cpos is None else focus_cpos:
            focused = replace(ctx, focus=resolve_cpo(base.frame, cpo))
            if focused.focus is not None and focused.focus not in present:
                continue
            for kind in kinds:
                yield target, focused.focus, KINDS[kind](focused)
