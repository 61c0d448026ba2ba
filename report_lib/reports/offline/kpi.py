"""The ``kpi`` snapshot, one function per section (keys as in prompts.SECTIONS)."""

from __future__ import annotations

from typing import Any

from report_lib.reports.facts import Facts
from report_lib.reports.offline.markdown import SectionWriter, bullets, cmp, move, name, table
from report_lib.reports.offline.numbers import MISSING, num, pct, pp, signed, spct
from report_lib.reports.offline.phrases import Phrases

_NATIONAL_ROWS = [("n_operators", "operators"), ("n_stations", "stations"),
                  ("slow", "slow_chargers"), ("fast", "fast_chargers"), ("total", "total_chargers")]


def _with_change(t: Phrases, label: str, value: Any, change: dict[str, Any] | None,
                 unit: str) -> str:
    if not change:
        return t["no_change"].format(label=label, value=num(value), unit=t[unit])
    key = "with_change" if change.get("pct") is not None else "with_change_nopct"
    return t[key].format(label=label, value=num(value), unit=t[unit],
                         abs=signed(change["abs"]), pct=spct(change.get("pct")))


def _level(f: Facts, t: Phrases) -> str:
    level = f.values["concentration"].get("hhi_level")
    return t[f"level_{level}"] if level else MISSING


def summary(f: Facts, lang: str, t: Phrases) -> list[str]:
    v = f.values
    nat, mom, conc, focus = v["national"], v.get("national_mom"), v["concentration"], v.get("focus")
    fast_pp = v.get("fast_ratio_change_pp")
    mix = t["mix"].format(slow=num(nat["slow_chargers"]), slow_pct=pct(nat["slow_ratio_pct"]),
                          fast=num(nat["fast_chargers"]), fast_pct=pct(nat["fast_ratio_pct"]))
    if fast_pp is not None:
        mix += t["mix_change"].format(pp=pp(fast_pp, lang))
    items = [
        _with_change(t, t["total"], nat["total_chargers"], mom and mom["total_chargers"],
                     "chargers"),
        mix,
        t["conc_line"].format(top3=pct(conc["top3_share"]), hhi=num(conc["hhi"], 1),
                              level=_level(f, t)),
    ]
    if focus:
        items.append(t["focus_kpi"].format(
            cpo=focus["cpo"], rank=focus["rank"], share=pct(focus["share"]),
            share_chg="" if focus["share_change_pp"] is None
            else t["vs_prev"].format(x=pp(focus["share_change_pp"], lang)),
            total=num(focus["total_chargers"]),
            total_chg="" if focus["total_change"] is None
            else t["vs_prev"].format(x=signed(focus["total_change"]) + t["chargers"]),
        ))
    return bullets(items)


def national(f: Facts, lang: str, t: Phrases) -> list[str]:
    v = f.values
    nat, mom, fast_pp = v["national"], v.get("national_mom"), v.get("fast_ratio_change_pp")
    if mom:
        header = f"{t['item']}|{f.target_month}|{v.get('previous_month')}|{t['change']}|" \
                 f"{t['change_pct']}"
        rows = [[t[label], num(nat[k]), num(nat[k] - mom[k]["abs"]), signed(mom[k]["abs"]),
                 spct(mom[k]["pct"])] for label, k in _NATIONAL_ROWS]
    else:
        header = f"{t['item']}|{f.target_month}"
        rows = [[t[label], num(nat[k])] for label, k in _NATIONAL_ROWS]
    ratio = t["ratio"].format(slow_pct=pct(nat["slow_ratio_pct"]),
                              fast_pct=pct(nat["fast_ratio_pct"]))
    if fast_pp is not None:
        ratio += t["ratio_change"].format(pp=pp(fast_pp, lang))
    return [*table(header, rows, left=1), "", ratio]


def top10(f: Facts, lang: str, t: Phrases) -> list[str]:
    top = f.tables["top10"]
    lines = table(t["top_head"], [
        [str(r.rank), name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.fast_chargers),
         num(r.stations), pct(r.share)] for r in top.itertuples()
    ], left=2)
    note = t["top_note"].format(top10=pct(f.values["concentration"]["top10_share"]))
    if len(top) >= 2:
        a, b = top.iloc[0], top.iloc[1]
        note += t["gap"].format(a=a["cpo"], a_share=pct(a["share"]), b=b["cpo"],
                                b_share=pct(b["share"]),
                                gap=num(int(a["total_chargers"] - b["total_chargers"])))
    return [*lines, "", note]


def concentration(f: Facts, lang: str, t: Phrases) -> list[str]:
    conc = f.values["concentration"]
    hhi_prev = "" if conc.get("hhi_prev") is None else t["hhi_prev"].format(
        prev=num(conc["hhi_prev"], 1), chg=signed(conc["hhi_change"], 1))
    bands = conc["hhi_bands"]
    meaning = t.get(conc.get("hhi_level") or "", MISSING).format(
        low=num(bands["moderate_from"]), high=num(bands["high_above"]))
    return bullets([
        t["tops"].format(t3=pct(conc["top3_share"]), t5=pct(conc["top5_share"]),
                         t10=pct(conc["top10_share"])),
        t["hhi"].format(hhi=num(conc["hhi"], 1), prev=hhi_prev,
                        meaning=meaning),
    ])


def focus(f: Facts, lang: str, t: Phrases) -> list[str]:
    me: dict[str, Any] = f.values["focus"]
    mom = f.values.get("national_mom")
    total = me["total_chargers"]
    fast_pct = me["fast_chargers"] / total * 100 if total else None
    cps = total / me["stations"] if me["stations"] else None
    items = [
        t["focus_rank"].format(
            rank=me["rank"], move=move(me["rank_change"], t), share=pct(me["share"]),
            share_prev="" if me["share_prev"] is None else t["share_prev"].format(
                prev=pct(me["share_prev"]), pp=pp(me["share_change_pp"], lang))),
        t["focus_size"].format(
            total=num(total), slow=num(me["slow_chargers"]), fast=num(me["fast_chargers"]),
            fast_pct=pct(fast_pct), stations=num(me["stations"]), cps=num(cps)),
    ]
    if me["total_change"] is not None and mom:
        items.append(t["focus_growth"].format(
            abs=signed(me["total_change"]), pct=spct(me["total_change_pct"]),
            mkt=spct(mom["total_chargers"]["pct"]),
            cmp=t[cmp(me["total_change_pct"], mom["total_chargers"]["pct"])]))
    return bullets(items)


def implications(f: Facts, lang: str, t: Phrases) -> list[str]:
    v = f.values
    mom, conc, me = v.get("national_mom"), v["concentration"], v.get("focus")
    items = []
    if mom:
        items.append(t["imp_mix"].format(
            fast=spct(mom["fast_chargers"]["pct"]), slow=spct(mom["slow_chargers"]["pct"]),
            cmp=t["cmp_" + cmp(mom["fast_chargers"]["pct"], mom["slow_chargers"]["pct"])],
            pp=pp(v.get("fast_ratio_change_pp"), lang)))
        chg = conc.get("hhi_change")
        if chg is not None:
            key = "imp_hhi_same" if chg == 0 else ("imp_hhi_up" if chg > 0 else "imp_hhi_down")
            items.append(t[key].format(chg=num(abs(chg), 1)))
        if me and me["total_change_pct"] is not None:
            items.append(t["imp_focus"].format(
                cpo=me["cpo"], pct=spct(me["total_change_pct"]),
                mkt=spct(mom["total_chargers"]["pct"]),
                cmp=t["cmp_" + cmp(me["total_change_pct"], mom["total_chargers"]["pct"])],
                pp=pp(me["share_change_pp"], lang)))
    else:
        items.append(t["imp_noprev"])
    items.append(t["imp_level"].format(level=_level(f, t), hhi=num(conc["hhi"], 1)))
    return bullets(items)


SECTIONS: dict[str, SectionWriter] = {
    section.__name__: section
    for section in (summary, national, top10, concentration, focus, implications)
}
