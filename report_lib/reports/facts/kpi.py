"""Facts of the ``kpi`` snapshot: national totals, their monthly change, top 10, concentration."""

from __future__ import annotations

from typing import Any

import pandas as pd

from report_lib.reports.facts.context import (
    HHI_HIGH,
    HHI_MODERATE,
    NATIONAL_KEYS,
    Context,
    change,
    diff,
    hhi,
    hhi_level,
    national,
    pct_of,
    rnd,
    top_share,
)
from report_lib.reports.facts.model import Facts

KPI_TOP = 10


def _concentration(rows: pd.DataFrame, prev_rows: pd.DataFrame | None) -> dict[str, Any]:
    now = hhi(rows)
    before = hhi(prev_rows) if prev_rows is not None else None
    return {
        "top3_share": top_share(rows, 3),
        "top5_share": top_share(rows, 5),
        "top10_share": top_share(rows, 10),
        "hhi": now,
        "hhi_prev": before,
        "hhi_change": diff(now, before, 1),
        "hhi_level": hhi_level(now),
        "hhi_bands": {"moderate_from": int(HHI_MODERATE), "high_above": int(HHI_HIGH)},
    }


def _focus(rows: pd.DataFrame, prev_rows: pd.DataFrame | None, focus: str) -> dict[str, Any]:
    me = rows[rows["cpo"] == focus].iloc[0]
    before = prev_rows[prev_rows["cpo"] == focus] if prev_rows is not None else None
    was = before.iloc[0] if before is not None and len(before) else None
    total_change = None if was is None else int(me["total_chargers"] - was["total_chargers"])
    return {
        "cpo": focus,
        "rank": int(me["rank"]),
        "rank_prev": None if was is None else int(was["rank"]),
        "rank_change": me["rank_change"],
        "total_chargers": int(me["total_chargers"]),
        "slow_chargers": int(me["slow_chargers"]),
        "fast_chargers": int(me["fast_chargers"]),
        "stations": int(me["stations"]),
        "share": rnd(me["share_x"]),
        "share_prev": None if was is None else rnd(was["share_x"]),
        "share_change_pp": None if was is None else diff(me["share_x"], was["share_x"]),
        "total_change": total_change,
        "total_change_pct": None if was is None else rnd(
            pct_of(total_change, was["total_chargers"])
        ),
    }


def kpi_facts(ctx: Context) -> Facts:
    """National totals, month-over-month change, top-10 table, concentration, the focus operator."""
    rows = ctx.ranked_rows()
    prev_rows = ctx.rows(ctx.prev) if ctx.prev else None
    nat = national(rows)
    prev_nat = national(prev_rows) if prev_rows is not None else None
    values: dict[str, Any] = {
        "previous_month": ctx.prev,
        "national": nat,
        "national_mom": (
            {k: change(nat[k], prev_nat[k]) for k in NATIONAL_KEYS} if prev_nat else None
        ),
        "fast_ratio_change_pp": diff(nat["fast_ratio_pct"],
                                     prev_nat["fast_ratio_pct"] if prev_nat else None),
        "concentration": _concentration(rows, prev_rows),
    }
    if ctx.focus is not None:
        values["focus"] = _focus(rows, prev_rows, ctx.focus)
    top = rows.head(KPI_TOP)[["rank", "cpo", "total_chargers", "fast_chargers", "stations",
                              "share"]].reset_index(drop=True)
    return ctx.facts("kpi", values, {"top10": top})
