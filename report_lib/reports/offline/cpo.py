"""The ``cpo`` ranking and positioning report, one function per section (keys as in the prompt)."""

from __future__ import annotations

from typing import Any

from report_lib.reports.facts import Facts
from report_lib.reports.offline.markdown import (
    SectionWriter,
    bullets,
    cmp,
    move,
    name,
    table,
    topic,
)
from report_lib.reports.offline.numbers import num, pct, signed
from report_lib.reports.offline.phrases import Phrases


def _leader_line(f: Facts, t: Phrases) -> str | None:
    board = f.tables["top15"]
    if not len(board):
        return None
    leader = board.iloc[0]
    return t["cpo_leader"].format(leader=leader["cpo"], share=pct(leader["share"]),
                                  top15=pct(f.values["market"]["top15_share"]))


def _tail_line(f: Facts, t: Phrases) -> str:
    tail = f.values["long_tail"]
    if not tail["operators"]:
        return t["imp_notail"].format(n=f.values["market"]["operators"])
    return t["cpo_tail"].format(n=tail["operators"], chargers=num(tail["chargers"]),
                                share=pct(tail["share"]))


def _position(f: Facts, t: Phrases) -> str | None:
    """The focus operator's position against its peers (None without focus or peers)."""
    me = f.values.get("focus")
    if not me or not me["peers"]:
        return None
    eff = cmp(me["chargers_per_station"], me["peer_median_chargers_per_station"])
    cov = cmp(me["stations"], me["peer_median_stations"])
    return t["pos_" + ("h" if eff != "lower" else "l") + ("h" if cov != "lower" else "l")]


def summary(f: Facts, lang: str, t: Phrases) -> list[str]:
    market, me = f.values["market"], f.values.get("focus")
    items = [t["cpo_market"].format(
        n=market["operators"], total=num(market["total_chargers"]),
        stations=num(market["stations"]), cps=num(market["chargers_per_station"]),
        fast=pct(market["fast_pct"]))]
    leader = _leader_line(f, t)
    if leader is not None:
        items.append(leader)
    items.append(_tail_line(f, t))
    if me:
        items.append(t["cpo_focus"].format(
            cpo=me["cpo"], rank=me["rank"], move=move(me["rank_change"], t),
            share=pct(me["share"]), cps=num(me["chargers_per_station"]),
            fast=pct(me["fast_pct"])))
    return bullets(items)


def leaderboard(f: Facts, lang: str, t: Phrases) -> list[str]:
    board = f.tables["top15"]
    lines = table(t["board_head"], [
        [str(r.rank), name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.stations),
         num(r.chargers_per_station), num(r.ac_pct), num(r.dc_pct), pct(r.share),
         signed(r.rank_change)] for r in board.itertuples()
    ])
    movers = f.values.get("movers") or {}
    if board["rank_change"].isna().all():
        mover_lines = [t["no_rank_data"]]
    else:
        mover_lines = [
            t[f"mover_{d}"].format(cpo=m["cpo"], n=abs(m["rank_change"]), rank=m["rank"])
            for d in ("up", "down") if (m := movers.get(d))
        ] or [t["no_movers"]]
    return [*lines, "", " ".join(mover_lines)]


def structure(f: Facts, lang: str, t: Phrases) -> list[str]:
    market, small = f.values["market"], f.values["small_operators"]
    items = [
        _tail_line(f, t),
        t["cpo_small"].format(threshold=pct(small["threshold_pct"]), n=small["operators"],
                              chargers=num(small["chargers"]), share=pct(small["share"])),
        t["cpo_avg"].format(cps=num(market["chargers_per_station"]),
                            fast=pct(market["fast_pct"])),
    ]
    leader = _leader_line(f, t)
    if leader is not None:
        items.insert(0, leader)
    return bullets(items)


def focus(f: Facts, lang: str, t: Phrases) -> list[str]:
    me: dict[str, Any] = f.values["focus"]
    market = f.values["market"]
    lines = [*table(t["peers_head"], [
        [str(r.rank), name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.stations),
         num(r.chargers_per_station), num(r.fast_pct), pct(r.share)]
        for r in f.tables["peers"].itertuples()
    ]), ""]
    label = _position(f, t)
    if label is None:
        return [*lines, t["no_peers"]]
    cps, med_cps = me["chargers_per_station"], me["peer_median_chargers_per_station"]
    return lines + bullets([
        t["eff"].format(v=num(cps), med=num(med_cps), mkt=num(market["chargers_per_station"]),
                        c1=t[cmp(cps, med_cps)],
                        c2=t[cmp(cps, market["chargers_per_station"])]),
        t["cov"].format(v=num(me["stations"]), med=num(me["peer_median_stations"], 1),
                        c1=t[cmp(me["stations"], me["peer_median_stations"])]),
        t["fastpos"].format(v=pct(me["fast_pct"]), med=pct(me["peer_median_fast_pct"]),
                            mkt=pct(market["fast_pct"]),
                            c1=t[cmp(me["fast_pct"], me["peer_median_fast_pct"])],
                            c2=t[cmp(me["fast_pct"], market["fast_pct"])]),
        t["position"].format(label=label),
    ])


def implications(f: Facts, lang: str, t: Phrases) -> list[str]:
    market, tail, me = f.values["market"], f.values["long_tail"], f.values.get("focus")
    items = [
        t["imp_tail"].format(top15=pct(market["top15_share"]), n=tail["operators"],
                             tail=pct(tail["share"]))
        if tail["operators"] else t["imp_notail"].format(n=market["operators"])
    ]
    if me:
        items.append(t["imp_fast"].format(
            cpo=me["cpo"], v=pct(me["fast_pct"]), mkt=pct(market["fast_pct"]),
            c=t["imp_fast_" + cmp(me["fast_pct"], market["fast_pct"])]))
        label = _position(f, t)
        if label:
            items.append(t["imp_pos"].format(cpo_topic=topic(me["cpo"], lang), label=label))
    return bullets(items)


SECTIONS: dict[str, SectionWriter] = {
    section.__name__: section
    for section in (summary, leaderboard, structure, focus, implications)
}
