"""The ``trend`` report, one function per section (keys as in prompts.SECTIONS)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from report_lib.reports.facts import Facts
from report_lib.reports.offline.markdown import SectionWriter, bullets, cmp, table, topic
from report_lib.reports.offline.numbers import MISSING, missing, num, pct, pp, signed, spct
from report_lib.reports.offline.phrases import Phrases


def _extreme(frame: pd.DataFrame, column: str, largest: bool) -> pd.Series:
    """The row holding the largest (or smallest) value of ``column``, missing values skipped."""
    values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
    return frame.iloc[int(np.nanargmax(values) if largest else np.nanargmin(values))]


def _several(f: Facts) -> bool:
    return bool(f.values["months"]["count"] > 1)


def summary(f: Facts, lang: str, t: Phrases) -> list[str]:
    market, me = f.values["market"], f.values.get("focus")
    items = [
        t["tr_total"].format(a=num(market["total_first"]), b=num(market["total_last"]),
                             abs=signed(market["growth_abs"]), pct=spct(market["growth_pct"]),
                             avg=signed(market["avg_monthly_change"], 0)),
        t["tr_fast"].format(f0=pct(market["fast_pct_first"]), f1=pct(market["fast_pct_last"]),
                            pp=pp(market["fast_pct_change_pp"], lang),
                            fg=spct(market["fast_growth_pct"]),
                            sg=spct(market["slow_growth_pct"])),
        t["tr_top5"].format(t0=pct(market["top5_share_first"]),
                            t1=pct(market["top5_share_last"]),
                            pp=pp(market["top5_share_change_pp"], lang)),
    ] if _several(f) else [t["tr_one"]]
    if me and me["months_present"] > 1:
        items.append(t["tr_focus"].format(
            cpo=me["cpo"], a=num(me["total_first"]), b=num(me["total_last"]),
            pct=spct(me["growth_pct"]), mkt=spct(me["market_growth_pct"]),
            vs=pp(me["vs_market_pp"], lang)))
    return bullets(items)


def national(f: Facts, lang: str, t: Phrases) -> list[str]:
    nat = f.tables["national"]
    lines = table(t["nat_head"], [
        [str(r.month), num(r.stations), num(r.slow_chargers), num(r.fast_chargers),
         num(r.total_chargers), signed(r.total_change), spct(r.total_change_pct)]
        for r in nat.itertuples()
    ], left=1)
    changes = nat.dropna(subset=["total_change"])
    if len(changes) > 1:
        changes = changes.assign(total_change=changes["total_change"].astype("int64"))
        hi, lo = _extreme(changes, "total_change", True), _extreme(changes, "total_change", False)
        lines += ["", t["tr_best"].format(m1=hi["month"], a1=signed(hi["total_change"]),
                                          p1=spct(hi["total_change_pct"]), m2=lo["month"],
                                          a2=signed(lo["total_change"]),
                                          p2=spct(lo["total_change_pct"]))]
    return lines


def mix(f: Facts, lang: str, t: Phrases) -> list[str]:
    nat, market = f.tables["national"], f.values["market"]
    lines = table(t["mix_head"], [
        [str(r.month), pct(r.slow_pct), pct(r.fast_pct)] for r in nat.itertuples()
    ], left=1)
    if _several(f):
        hi, lo = _extreme(nat, "fast_pct", True), _extreme(nat, "fast_pct", False)
        lines += ["", t["tr_mix"].format(f0=pct(market["fast_pct_first"]),
                                         f1=pct(market["fast_pct_last"]),
                                         pp=pp(market["fast_pct_change_pp"], lang),
                                         hi=pct(hi["fast_pct"]), mhi=hi["month"],
                                         lo=pct(lo["fast_pct"]), mlo=lo["month"])]
    return lines


def top5(f: Facts, lang: str, t: Phrases) -> list[str]:
    nat, market, months = f.tables["national"], f.values["market"], f.values["months"]
    hi, lo = _extreme(nat, "top5_share", True), _extreme(nat, "top5_share", False)
    lines = [t["tr_series"].format(
        m0=months["first"], t0=pct(market["top5_share_first"]), m1=months["last"],
        t1=pct(market["top5_share_last"]), hi=pct(hi["top5_share"]), mhi=hi["month"],
        lo=pct(lo["top5_share"]), mlo=lo["month"])]
    change = market["top5_share_change_pp"]
    if _several(f) and change is not None:
        key = "tr_conc_same" if change == 0 else ("tr_conc_up" if change > 0 else "tr_conc_down")
        lines += ["", t[key].format(pp=pp(abs(change), lang).lstrip("+"))]
    return lines


def focus(f: Facts, lang: str, t: Phrases) -> list[str]:
    me: dict[str, Any] = f.values["focus"]
    lines = [*table(t["focus_head"], [
        [str(r.month), num(r.total_chargers), num(r.fast_chargers), pct(r.share),
         MISSING if missing(r.rank) else str(r.rank), spct(r.total_change_pct),
         spct(r.market_change_pct)] for r in f.tables["focus"].itertuples()
    ], left=1), ""]
    if me["months_present"] > 1:
        items = [
            t["tr_cum"].format(since=me["since"], last=f.values["months"]["last"],
                               abs=signed(me["growth_abs"]), pct=spct(me["growth_pct"]),
                               mkt=spct(me["market_growth_pct"]),
                               vs=pp(me["vs_market_pp"], lang)),
            t["tr_share"].format(s0=pct(me["share_first"]), s1=pct(me["share_last"]),
                                 pp=pp(me["share_change_pp"], lang), r0=me["rank_first"],
                                 r1=me["rank_last"]),
        ]
    else:
        items = [t["tr_focus_one"].format(cpo=me["cpo"])]
    if me["months_compared"]:
        items.append(t["tr_beat"].format(k=me["months_beating_market"],
                                         n=me["months_compared"]))
    return lines + bullets(items)


def implications(f: Facts, lang: str, t: Phrases) -> list[str]:
    market, me = f.values["market"], f.values.get("focus")
    items = []
    if _several(f):
        items.append(t["imp_tr_fast"].format(
            fg=spct(market["fast_growth_pct"]), sg=spct(market["slow_growth_pct"]),
            cmp=t["fast_cmp_" + cmp(market["fast_growth_pct"], market["slow_growth_pct"])],
            pp=pp(market["fast_pct_change_pp"], lang)))
    if me and me["vs_market_pp"] is not None and me["months_present"] > 1:
        items.append(t["imp_tr_focus"].format(
            cpo_topic=topic(me["cpo"], lang),
            vs=pp(abs(me["vs_market_pp"]), lang).lstrip("+"),
            cmp=t["grow_" + cmp(me["growth_pct"], me["market_growth_pct"])],
            pp=pp(me["share_change_pp"], lang)))
    return bullets(items or [t["tr_one"]])


SECTIONS: dict[str, SectionWriter] = {
    section.__name__: section
    for section in (summary, national, mix, top5, focus, implications)
}
