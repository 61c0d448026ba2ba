"""Facts of the ``cpo`` report: top-15 leaderboard, the long tail, the focus operator's peers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from report_lib.reports.facts.context import Context, national, rnd, top_share
from report_lib.reports.facts.model import Facts

CPO_TOP = 15
PEERS_EACH_SIDE = 2
SMALL_SHARE_PCT = 1.0


def _per_station(rows: pd.DataFrame) -> pd.Series:
    return (rows["total_chargers"] / rows["stations"].where(rows["stations"] > 0)).round(2)


def _mover(top: pd.DataFrame, up: bool) -> dict[str, Any] | None:
    moved = top[top["rank_change"].notna()]
    moved = moved[moved["rank_change"] > 0] if up else moved[moved["rank_change"] < 0]
    if moved.empty:
        return None
    best = moved.iloc[int(moved["rank_change"].astype("int64").abs().to_numpy().argmax())]
    return {"cpo": best["cpo"], "rank": int(best["rank"]), "rank_change": int(best["rank_change"])}


def _market(rows: pd.DataFrame) -> dict[str, Any]:
    nat = national(rows)
    return {
        "operators": nat["operators"],
        "total_chargers": nat["total_chargers"],
        "stations": nat["stations"],
        "chargers_per_station": (
            rnd(nat["total_chargers"] / nat["stations"]) if nat["stations"] else None
        ),
        "fast_pct": nat["fast_ratio_pct"],
        "top15_share": top_share(rows, CPO_TOP),
    }


def _group(rows: pd.DataFrame) -> dict[str, Any]:
    return {
        "operators": len(rows),
        "chargers": int(rows["total_chargers"].sum()),
        "share": rnd(rows["share_x"].sum()),
    }


def _peers(rows: pd.DataFrame, focus: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The focus operator with its neighbours on each side, and its positioning values."""
    pos = int(rows.index[rows["cpo"] == focus][0])
    peers = rows.iloc[max(0, pos - PEERS_EACH_SIDE): pos + PEERS_EACH_SIDE + 1].copy()
    peers["is_focus"] = peers["cpo"] == focus
    peers = peers.rename(columns={"dc_pct": "fast_pct"})[
        ["rank", "cpo", "total_chargers", "stations", "chargers_per_station", "fast_pct",
         "share", "is_focus"]
    ].reset_index(drop=True)
    others = peers[~peers["is_focus"]]
    me = rows.iloc[pos]
    values = {
        "cpo": focus,
        "rank": int(me["rank"]),
        "rank_change": me["rank_change"],
        "in_top15": pos < CPO_TOP,
        "total_chargers": int(me["total_chargers"]),
        "stations": int(me["stations"]),
        "chargers_per_station": rnd(me["chargers_per_station"]),
        "fast_pct": rnd(me["dc_pct"]),
        "share": rnd(me["share_x"]),
        "peers": len(others),
        "peer_median_chargers_per_station": rnd(others["chargers_per_station"].median()),
        "peer_median_stations": rnd(others["stations"].median(), 1),
        "peer_median_fast_pct": rnd(others["fast_pct"].median()),
    }
    return peers, values


def cpo_facts(ctx: Context) -> Facts:
    """Leaderboard (efficiency, mix), long tail, small operators, movers, the focus's peers."""
    rows = ctx.ranked_rows()
    total = rows["total_chargers"]
    rows["chargers_per_station"] = _per_station(rows)
    rows["ac_pct"] = (rows["slow_chargers"] / total.where(total > 0) * 100).round(2)
    rows["dc_pct"] = (rows["fast_chargers"] / total.where(total > 0) * 100).round(2)
    top = rows.head(CPO_TOP)
    small = _group(rows[rows["share_x"] < SMALL_SHARE_PCT])
    values: dict[str, Any] = {
        "previous_month": ctx.prev,
        "market": _market(rows),
        "long_tail": _group(rows.iloc[CPO_TOP:]),
        "small_operators": {"threshold_pct": SMALL_SHARE_PCT, **small},
        "movers": {"up": _mover(top, up=True), "down": _mover(top, up=False)},
    }
    tables = {
        "top15": top[["rank", "cpo", "total_chargers", "stations", "chargers_per_station",
                      "ac_pct", "dc_pct", "share", "rank_change"]].reset_index(drop=True),
    }
    if ctx.focus is not None:
        tables["peers"], values["focus"] = _peers(rows, ctx.focus)
    return ctx.facts("cpo", values, tables)
