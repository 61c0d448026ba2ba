"""Facts of the ``trend`` report: national totals month by month, mix, top-5 share, the focus."""

from __future__ import annotations

from typing import Any

import pandas as pd

from report_lib.data.schema import COUNT_COLUMNS
from report_lib.reports.facts.context import Context, diff, pct_of, rnd, shift
from report_lib.reports.facts.model import Facts

TREND_TOP = 5
_MARKET_CHANGES = ("growth_abs", "growth_pct", "avg_monthly_change", "stations_growth_pct",
                   "slow_growth_pct", "fast_growth_pct", "fast_pct_change_pp",
                   "top5_share_change_pp")
_FOCUS_CHANGES = ("growth_abs", "growth_pct", "market_growth_pct", "vs_market_pp",
                  "share_change_pp")
_NATIONAL_COLUMNS = ["month", "operators", "stations", "slow_chargers", "fast_chargers",
                     "total_chargers", "total_change", "total_change_pct", "slow_pct", "fast_pct",
                     "top5_share"]


def _mom(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Change and % change vs the calendar previous month (NA when that month is missing)."""
    prev = series.reindex([shift(m, -1) for m in series.index]).to_numpy()
    change = series - prev
    pct = (change / pd.Series(prev, index=series.index).where(lambda s: s != 0) * 100).round(2)
    return change, pct


def _national_by_month(frame: pd.DataFrame) -> pd.DataFrame:
    nat = frame.groupby("month").agg(
        operators=("cpo", "size"), **{c: (c, "sum") for c in COUNT_COLUMNS}
    )
    nat["total_change"], nat["total_change_pct"] = _mom(nat["total_chargers"])
    denom = nat["total_chargers"].where(nat["total_chargers"] > 0)
    nat["slow_pct"] = (nat["slow_chargers"] / denom * 100).round(2)
    nat["fast_pct"] = (nat["fast_chargers"] / denom * 100).round(2)
    top5 = frame.groupby("month").head(TREND_TOP).groupby("month")["share_x"].sum()
    nat["top5_share"] = top5.round(2)
    return nat


def _growth_pct(first: pd.Series, last: pd.Series, column: str) -> float | None:
    return rnd(pct_of(last[column] - first[column], first[column]))


def _market(win: pd.DataFrame) -> dict[str, Any]:
    first, last = win.iloc[0], win.iloc[-1]
    span = len(win) - 1
    growth = int(last["total_chargers"] - first["total_chargers"])
    market = {
        "total_first": int(first["total_chargers"]),
        "total_last": int(last["total_chargers"]),
        "growth_abs": growth,
        "growth_pct": _growth_pct(first, last, "total_chargers"),
        "avg_monthly_change": rnd(growth / span, 1) if span else None,
        "stations_growth_pct": _growth_pct(first, last, "stations"),
        "slow_growth_pct": _growth_pct(first, last, "slow_chargers"),
        "fast_growth_pct": _growth_pct(first, last, "fast_chargers"),
        "fast_pct_first": rnd(first["fast_pct"]),
        "fast_pct_last": rnd(last["fast_pct"]),
        "fast_pct_change_pp": diff(last["fast_pct"], first["fast_pct"]),
        "top5_share_first": rnd(first["top5_share"]),
        "top5_share_last": rnd(last["top5_share"]),
        "top5_share_change_pp": diff(last["top5_share"], first["top5_share"]),
    }
    if not span:  # one month: nothing to grow from
        market.update(dict.fromkeys(_MARKET_CHANGES))
    return market


def _focus_series(frame: pd.DataFrame, win: pd.DataFrame, focus: str) -> pd.DataFrame:
    own = frame[frame["cpo"] == focus].set_index("month")
    own_change, own_pct = _mom(own["total_chargers"])
    series = pd.DataFrame({
        "total_chargers": own["total_chargers"],
        "fast_chargers": own["fast_chargers"],
        "share": own["share_x"].round(2),
        "rank": own["rank"],
        "total_change": own_change,
        "total_change_pct": own_pct,
    }).reindex(list(win.index))
    series["market_change_pct"] = win["total_change_pct"]
    for col in ("total_chargers", "fast_chargers", "rank", "total_change"):
        series[col] = series[col].astype("Int64")
    return series


def _focus(series: pd.DataFrame, win: pd.DataFrame, focus: str) -> dict[str, Any]:
    present = series[series["total_chargers"].notna()]
    since = present.index[0]
    f0, f1 = present.iloc[0], present.iloc[-1]
    m0 = win.loc[since, "total_chargers"]
    focus_growth = pct_of(f1["total_chargers"] - f0["total_chargers"], f0["total_chargers"])
    market_growth = pct_of(win.iloc[-1]["total_chargers"] - m0, m0)
    compared = series.dropna(subset=["total_change_pct", "market_change_pct"])
    values = {
        "cpo": focus,
        "since": since,
        "months_present": len(present),
        "total_first": int(f0["total_chargers"]),
        "total_last": int(f1["total_chargers"]),
        "growth_abs": int(f1["total_chargers"] - f0["total_chargers"]),
        "growth_pct": rnd(focus_growth),
        "market_growth_pct": rnd(market_growth),
        "vs_market_pp": diff(focus_growth, market_growth),
        "share_first": rnd(f0["share"]),
        "share_last": rnd(f1["share"]),
        "share_change_pp": diff(f1["share"], f0["share"]),
        "rank_first": int(f0["rank"]),
        "rank_last": int(f1["rank"]),
        "months_compared": len(compared),
        "months_beating_market": int(
            (compared["total_change_pct"] > compared["market_change_pct"]).sum()
        ),
    }
    if len(present) == 1:
        values.update(dict.fromkeys(_FOCUS_CHANGES))
    return values


def trend_facts(ctx: Context) -> Facts:
    """The last ``window`` months up to the target: totals, growth, mix, top-5 share, the focus."""
    frame = ctx.frame[ctx.frame["month"] <= ctx.target]
    nat = ctx.cached("national by month", lambda: _national_by_month(frame))
    win = nat[nat.index >= shift(ctx.target, -(ctx.window - 1))].copy()
    win["total_change"] = win["total_change"].astype("Int64")
    months = list(win.index)
    values: dict[str, Any] = {
        "months": {"first": months[0], "last": months[-1], "count": len(months),
                   "requested": ctx.window},
        "market": _market(win),
    }
    tables = {"national": win.reset_index()[_NATIONAL_COLUMNS]}
    if ctx.focus is not None:
        series = _focus_series(frame, win, ctx.focus)
        values["focus"] = _focus(series, win, ctx.focus)
        tables["focus"] = series.rename_axis("month").reset_index()
    return ctx.facts("trend", values, tables, window_months=len(months))
