"""Deterministic Markdown reports written from the facts alone (the ``offline`` backend).

Same facts and language → the same text, byte for byte. Titles and sections are those the prompt
asks the model for (prompts.report_title / report_sections); every number comes from the facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from report_lib.reports.facts import Facts
from report_lib.reports.prompts import report_sections, report_title

MISSING = "–"

_T: dict[str, dict[str, str]] = {
    "ko": {
        "meta_prev": "기준월 {month} · 비교월 {prev}",
        "meta_noprev": "기준월 {month} · 전월 데이터 없음",
        "meta_window": "분석 기간 {first}~{last} ({count}개월)",
        "meta_focus": " · 관심 사업자 {focus}",
        "with_change": "{label} {value}{unit}, 전월 대비 {abs}{unit}({pct})",
        "with_change_nopct": "{label} {value}{unit}, 전월 대비 {abs}{unit}",
        "no_change": "{label} {value}{unit} (전월 데이터 없음)",
        "chargers": "기", "stations": "개소", "operators": "개",
        "total": "총 충전기", "slow": "완속 충전기", "fast": "급속 충전기",
        "n_stations": "충전소", "n_operators": "사업자 수",
        "mix": "완속 {slow}기({slow_pct}), 급속 {fast}기({fast_pct})",
        "mix_change": "; 급속 비중 전월 대비 {pp}",
        "conc_line": "상위 3개 사업자 점유율 {top3}, HHI {hhi} ({level})",
        "focus_kpi": "{cpo}: {rank}위, 점유율 {share}{share_chg}, 총 충전기 {total}기{total_chg}",
        "vs_prev": " (전월 대비 {x})",
        "item": "항목", "change": "증감", "change_pct": "증감률",
        "ratio": "완속 : 급속 비율은 {slow_pct} : {fast_pct}입니다.",
        "ratio_change": " 급속 비중은 전월 대비 {pp} 변했습니다.",
        "top_head": "순위|사업자|총 충전기|급속|충전소|점유율",
        "top_note": "상위 10개 사업자가 전체 충전기의 {top10}를 보유합니다.",
        "gap": " 1위 {a}({a_share})와 2위 {b}({b_share})의 차이는 {gap}기입니다.",
        "tops": "상위 3개 {t3} · 상위 5개 {t5} · 상위 10개 {t10}",
        "hhi": "HHI {hhi}{prev} — {meaning}",
        "hhi_prev": " (전월 {prev}, {chg})",
        "unconcentrated": "1,500 미만으로 비집중 시장입니다",
        "moderately concentrated": "1,500–2,500 구간으로 중간 수준의 집중 시장입니다",
        "highly concentrated": "2,500을 넘어 고도로 집중된 시장입니다",
        "level_unconcentrated": "비집중",
        "level_moderately concentrated": "중간 수준 집중",
        "level_highly concentrated": "고도 집중",
        "focus_rank": "순위 {rank}위 ({move}), 점유율 {share}{share_prev}",
        "share_prev": " (전월 {prev}, {pp})",
        "focus_size": "총 충전기 {total}기 = 완속 {slow}기 + 급속 {fast}기 (급속 비중 {fast_pct}), "
        "충전소 {stations}개소, 충전소당 {cps}기",
        "focus_growth": "총 충전기 전월 대비 {abs}기({pct}), 시장 증감률 {mkt}보다 {cmp}",
        "up": "{n}계단 상승", "down": "{n}계단 하락",
        "same": "순위 변동 없음", "norank": "전월 순위 없음",
        "higher": "높음", "lower": "낮음", "equal": "같음",
        "imp_mix": "급속 충전기 증감률({fast})이 완속 충전기({slow})보다 {cmp}, "
        "급속 비중은 전월 대비 {pp} 변했습니다.",
        "cmp_higher": "높고", "cmp_lower": "낮고", "cmp_equal": "같고",
        "imp_hhi_up": "HHI가 {chg} 올라 집중도가 높아졌습니다.",
        "imp_hhi_down": "HHI가 {chg} 내려 시장이 조금 더 분산되었습니다.",
        "imp_hhi_same": "HHI는 전월과 같습니다.",
        "imp_focus": "{cpo}의 충전기 증감률({pct})이 시장({mkt})보다 {cmp}, "
        "점유율은 {pp} 변했습니다.",
        "imp_noprev": "전월 데이터가 없어 변화에 대한 시사점은 계산하지 않았습니다.",
        "imp_level": "시장 집중도는 {level} 수준입니다 (HHI {hhi}).",
        "no_focus": "관심 사업자가 지정되지 않아 사업자별 분석은 생략했습니다.",
        "footer": "_이 보고서는 LLM 없이 데이터에서 오프라인으로 생성되었습니다 (결정적 작성기)._",
    },
    "en": {
        "meta_prev": "Month {month} · compared with {prev}",
        "meta_noprev": "Month {month} · previous month not in the data",
        "meta_window": "Window {first} to {last} ({count} months)",
        "meta_focus": " · focus operator {focus}",
        "with_change": "{label} {value}, {abs} month over month ({pct})",
        "with_change_nopct": "{label} {value}, {abs} month over month",
        "no_change": "{label} {value} (previous month not in the data)",
        "chargers": "", "stations": "", "operators": "",
        "total": "Total chargers", "slow": "Slow chargers", "fast": "Fast chargers",
        "n_stations": "Stations", "n_operators": "Operators",
        "mix": "Slow {slow} ({slow_pct}), fast {fast} ({fast_pct})",
        "mix_change": "; fast share {pp} month over month",
        "conc_line": "Top-3 share {top3}, HHI {hhi} ({level})",
        "focus_kpi": "{cpo}: rank {rank}, share {share}{share_chg}, total chargers {total}"
        "{total_chg}",
        "vs_prev": " ({x} month over month)",
        "item": "Item", "change": "Change", "change_pct": "Change %",
        "ratio": "Slow : fast ratio is {slow_pct} : {fast_pct}.",
        "ratio_change": " The fast share moved {pp} month over month.",
        "top_head": "Rank|Operator|Total|Fast|Stations|Share",
        "top_note": "The top 10 operators hold {top10} of all chargers.",
        "gap": " Leader {a} ({a_share}) is {gap} chargers ahead of {b} ({b_share}).",
        "tops": "Top 3 {t3} · top 5 {t5} · top 10 {t10}",
        "hhi": "HHI {hhi}{prev} — {meaning}",
        "hhi_prev": " (previous month {prev}, {chg})",
        "unconcentrated": "below 1,500: an unconcentrated market",
        "moderately concentrated": "between 1,500 and 2,500: a moderately concentrated market",
        "highly concentrated": "above 2,500: a highly concentrated market",
        "level_unconcentrated": "unconcentrated",
        "level_moderately concentrated": "moderately concentrated",
        "level_highly concentrated": "highly concentrated",
        "focus_rank": "Rank {rank} ({move}), share {share}{share_prev}",
        "share_prev": " (previous month {prev}, {pp})",
        "focus_size": "Total chargers {total} = slow {slow} + fast {fast} (fast share {fast_pct}), "
        "{stations} stations, {cps} chargers per station",
        "focus_growth": "Total chargers {abs} month over month ({pct}), {cmp} the market's {mkt}",
        "up": "up {n}", "down": "down {n}", "same": "unchanged", "norank": "no previous rank",
        "higher": "above", "lower": "below", "equal": "level with",
        "imp_mix": "Fast chargers grew {cmp} slow chargers ({fast} vs {slow}); "
        "the fast share moved {pp}.",
        "cmp_higher": "faster than", "cmp_lower": "slower than", "cmp_equal": "in line with",
        "imp_hhi_up": "HHI rose {chg}: the market became more concentrated.",
        "imp_hhi_down": "HHI fell {chg}: the market became a little less concentrated.",
        "imp_hhi_same": "HHI is unchanged from the previous month.",
        "imp_focus": "{cpo} grew {pct}, {cmp} the market's {mkt}; its share moved {pp}.",
        "imp_noprev": "The previous month is not in the data, so no changes are discussed.",
        "imp_level": "The market is {level} (HHI {hhi}).",
        "no_focus": "No focus operator was selected, so the operator section is omitted.",
        "footer": "_Generated offline from the data by the deterministic writer (no LLM)._",
    },
}

_T["ko"].update({
    "cpo_market": "사업자 {n}개, 총 충전기 {total}기, 충전소 {stations}개소 "
    "(충전소당 {cps}기, 급속 비중 {fast})",
    "cpo_leader": "1위 {leader} (점유율 {share}), 상위 15개 점유율 {top15}",
    "cpo_tail": "상위 15개 밖 {n}개 사업자가 충전기 {chargers}기({share}) 보유",
    "cpo_small": "점유율 {threshold} 미만 사업자 {n}개, 충전기 {chargers}기, 합계 점유율 {share}",
    "cpo_avg": "시장 평균: 충전소당 {cps}기, 급속 비중 {fast}",
    "cpo_focus": "{cpo}: {rank}위 ({move}), 점유율 {share}, 충전소당 {cps}기, 급속 비중 {fast}",
    "board_head": "순위|사업자|총 충전기|충전소|충전소당|완속%|급속%|점유율|순위변동",
    "peers_head": "순위|사업자|총 충전기|충전소|충전소당|급속%|점유율",
    "mover_up": "순위 상승폭 최대: {cpo} ({n}계단 상승, 현재 {rank}위).",
    "mover_down": "순위 하락폭 최대: {cpo} ({n}계단 하락, 현재 {rank}위).",
    "no_movers": "상위 15개 안에서 순위 변동이 없었습니다.",
    "no_rank_data": "전월 순위 데이터가 없어 순위 변동은 표시하지 않았습니다.",
    "eff": "효율(충전소당 충전기) {v}기: 인접 경쟁사 중앙값 {med}기보다 {c1}, "
    "시장 평균 {mkt}기보다 {c2}",
    "cov": "커버리지(충전소 수) {v}개소: 인접 경쟁사 중앙값 {med}개소보다 {c1}",
    "fastpos": "급속 비중 {v}: 인접 경쟁사 중앙값 {med}보다 {c1}, 시장 평균 {mkt}보다 {c2}",
    "position": "포지션: {label}",
    "pos_hh": "규모·효율 모두 우위 (충전소 많고 충전소당 충전기도 많음)",
    "pos_hl": "거점 집약형 (충전소는 적지만 충전소당 충전기가 많음)",
    "pos_lh": "광역 커버리지형 (충전소는 많지만 충전소당 충전기가 적음)",
    "pos_ll": "규모·효율 모두 열위 (충전소도 적고 충전소당 충전기도 적음)",
    "no_peers": "비교할 인접 경쟁사가 없습니다.",
    "imp_tail": "상위 15개 사업자가 {top15}를 차지하고 나머지 {n}개 사업자가 {tail}를 나눠 갖는 "
    "롱테일 구조입니다.",
    "imp_notail": "사업자가 {n}개뿐이라 상위 15개 밖의 롱테일은 없습니다.",
    "imp_fast": "{cpo}의 급속 비중({v})은 시장 평균({mkt})보다 {c}.",
    "imp_fast_higher": "높습니다", "imp_fast_lower": "낮습니다", "imp_fast_equal": "같습니다",
    "imp_pos": "{cpo_topic} 인접 경쟁사와 비교해 '{label}' 포지션입니다.",
})
_T["en"].update({
    "cpo_market": "{n} operators, {total} chargers, {stations} stations "
    "({cps} chargers per station, fast share {fast})",
    "cpo_leader": "Leader {leader} (share {share}), top-15 share {top15}",
    "cpo_tail": "{n} operators outside the top 15 hold {chargers} chargers ({share})",
    "cpo_small": "{n} operators under {threshold} share: {chargers} chargers, {share} combined",
    "cpo_avg": "Market average: {cps} chargers per station, fast share {fast}",
    "cpo_focus": "{cpo}: rank {rank} ({move}), share {share}, {cps} chargers per station, "
    "fast share {fast}",
    "board_head": "Rank|Operator|Total|Stations|Per station|AC%|DC%|Share|Rank change",
    "peers_head": "Rank|Operator|Total|Stations|Per station|Fast%|Share",
    "mover_up": "Biggest climber: {cpo} (up {n}, now rank {rank}).",
    "mover_down": "Biggest faller: {cpo} (down {n}, now rank {rank}).",
    "no_movers": "No rank changes within the top 15.",
    "no_rank_data": "No previous ranks in the data, so rank changes are not shown.",
    "eff": "Efficiency (chargers per station) {v}: {c1} the peer median {med}, {c2} the market "
    "average {mkt}",
    "cov": "Coverage (stations) {v}: {c1} the peer median {med}",
    "fastpos": "Fast share {v}: {c1} the peer median {med}, {c2} the market average {mkt}",
    "position": "Position: {label}",
    "pos_hh": "ahead on both scale and density (more stations, more chargers per station)",
    "pos_hl": "dense hubs (fewer stations, more chargers per station)",
    "pos_lh": "wide coverage (more stations, fewer chargers per station)",
    "pos_ll": "behind on both (fewer stations, fewer chargers per station)",
    "no_peers": "No neighbouring competitors to compare with.",
    "imp_tail": "The top 15 hold {top15}; the other {n} operators share {tail}: a long tail.",
    "imp_notail": "With only {n} operators there is no long tail beyond the top 15.",
    "imp_fast": "{cpo}'s fast share ({v}) is {c} the market average ({mkt}).",
    "imp_fast_higher": "above", "imp_fast_lower": "below", "imp_fast_equal": "level with",
    "imp_pos": "Against its neighbours {cpo_topic} is positioned as: {label}.",
})
_T["ko"].update({
    "tr_total": "총 충전기 {a}기 → {b}기, {abs}기({pct}), 월평균 {avg}기",
    "tr_one": "데이터가 1개월뿐이라 증감을 계산할 수 없습니다.",
    "tr_focus_one": "{cpo}의 데이터가 기간 중 1개월뿐이라 증감을 계산할 수 없습니다.",
    "tr_fast": "급속 비중 {f0} → {f1} ({pp}); 급속 충전기 {fg}, 완속 충전기 {sg}",
    "tr_top5": "상위 5개 점유율 {t0} → {t1} ({pp})",
    "tr_focus": "{cpo}: {a}기 → {b}기 ({pct}), 같은 기간 시장 {mkt}, 시장 대비 {vs}",
    "nat_head": "월|충전소|완속|급속|총 충전기|전월 대비|증감률",
    "tr_best": "월간 증가가 가장 컸던 달은 {m1}({a1}기, {p1}), "
    "가장 작았던 달은 {m2}({a2}기, {p2})입니다.",
    "mix_head": "월|완속 비중|급속 비중",
    "tr_mix": "급속 비중은 {f0}에서 {f1}로 {pp} 변했습니다. "
    "기간 중 최고 {hi}({mhi}), 최저 {lo}({mlo}).",
    "tr_series": "상위 5개 사업자 합계 점유율: {m0} {t0} → {m1} {t1}; "
    "기간 중 최고 {hi}({mhi}), 최저 {lo}({mlo})",
    "tr_conc_up": "상위 5개 점유율이 {pp} 올라 집중도가 높아졌습니다.",
    "tr_conc_down": "상위 5개 점유율이 {pp} 내려 시장이 분산되었습니다.",
    "tr_conc_same": "상위 5개 점유율은 기간 처음과 끝이 같습니다.",
    "focus_head": "월|총 충전기|급속|점유율|순위|증감률|시장 증감률",
    "tr_cum": "{since}~{last} 누적 {abs}기({pct}), 같은 기간 시장 {mkt}: 시장 대비 {vs}",
    "tr_share": "점유율 {s0} → {s1} ({pp}), 순위 {r0}위 → {r1}위",
    "tr_beat": "시장보다 빠르게 성장한 달: {k}/{n}개월",
    "imp_tr_fast": "급속 충전기({fg})가 완속 충전기({sg})보다 {cmp} 늘어 "
    "급속 비중이 {pp} 변했습니다.",
    "fast_cmp_higher": "빠르게", "fast_cmp_lower": "느리게", "fast_cmp_equal": "같은 속도로",
    "imp_tr_focus": "{cpo_topic} 시장보다 {vs} {cmp} 성장했고 점유율은 {pp} 변했습니다.",
    "grow_higher": "빠르게", "grow_lower": "느리게", "grow_equal": "같은 속도로",
})
_T["en"].update({
    "tr_total": "Total chargers {a} → {b}, {abs} ({pct}), {avg} a month on average",
    "tr_one": "Only one month of data, so no changes can be computed.",
    "tr_focus_one": "{cpo} has one month in the window, so no changes can be computed.",
    "tr_fast": "Fast share {f0} → {f1} ({pp}); fast chargers {fg}, slow chargers {sg}",
    "tr_top5": "Top-5 share {t0} → {t1} ({pp})",
    "tr_focus": "{cpo}: {a} → {b} ({pct}) while the market grew {mkt}: {vs} against the market",
    "nat_head": "Month|Stations|Slow|Fast|Total|Change|Change %",
    "tr_best": "The largest monthly increase was in {m1} ({a1}, {p1}), the smallest in {m2} "
    "({a2}, {p2}).",
    "mix_head": "Month|Slow share|Fast share",
    "tr_mix": "The fast share moved from {f0} to {f1} ({pp}); high {hi} ({mhi}), low {lo} ({mlo}).",
    "tr_series": "Combined share of the top 5: {t0} in {m0} → {t1} in {m1}; "
    "high {hi} ({mhi}), low {lo} ({mlo})",
    "tr_conc_up": "The top-5 share rose {pp}: concentration increased.",
    "tr_conc_down": "The top-5 share fell {pp}: the market became less concentrated.",
    "tr_conc_same": "The top-5 share ended where it started.",
    "focus_head": "Month|Total|Fast|Share|Rank|Change %|Market change %",
    "tr_cum": "{since} to {last}: {abs} ({pct}) against the market's {mkt}: "
    "{vs} against the market",
    "tr_share": "Share {s0} → {s1} ({pp}), rank {r0} → {r1}",
    "tr_beat": "Months growing faster than the market: {k} of {n}",
    "imp_tr_fast": "Fast chargers ({fg}) grew {cmp} than slow chargers ({sg}), so the fast share "
    "moved {pp}.",
    "fast_cmp_higher": "faster", "fast_cmp_lower": "slower", "fast_cmp_equal": "no faster",
    "imp_tr_focus": "{cpo_topic} grew {vs} {cmp} the market; its share moved {pp}.",
    "grow_higher": "faster than", "grow_lower": "slower than", "grow_equal": "in line with",
})


# ---------------------------------------------------------------- number formatting
def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def num(value: Any, digits: int = 2) -> str:
    """459120 → "459,120"; floats with ``digits`` decimals; missing → "–"."""
    if _missing(value):
        return MISSING
    if isinstance(value, float):
        return f"{value + 0.0:,.{digits}f}"
    return f"{int(value):,}"


def signed(value: Any, digits: int = 2) -> str:
    """3412 → "+3,412", -3412 → "-3,412" (ASCII minus); floats with ``digits`` decimals."""
    if _missing(value):
        return MISSING
    if isinstance(value, float):
        value = round(value, digits) + 0.0
        return f"{value:,.{digits}f}" if value == 0 else f"{value:+,.{digits}f}"
    return f"{int(value):+,}" if value != 0 else "0"


def pct(value: Any) -> str:
    return MISSING if _missing(value) else f"{float(value) + 0.0:.2f}%"


def spct(value: Any) -> str:
    return MISSING if _missing(value) else signed(float(value)) + "%"


def pp(value: Any, language: str) -> str:
    if _missing(value):
        return MISSING
    return signed(float(value)) + ("%p" if language == "ko" else " pp")


def _topic(name: str, language: str) -> str:
    """Korean topic particle: 은 after a final consonant, 는 after a vowel (English: the name)."""
    if language != "ko":
        return name
    last = name.rstrip()[-1:] or " "
    if "가" <= last <= "힣":
        return name + ("은" if (ord(last) - ord("가")) % 28 else "는")
    return name + "은(는)"


def _cmp(a: Any, b: Any) -> str:
    if _missing(a) or _missing(b) or a == b:
        return "equal"
    return "higher" if a > b else "lower"


def _table(header: str, rows: Sequence[Sequence[str]], left: int = 2) -> list[str]:
    """Markdown table; the first ``left`` columns left-aligned, the rest right-aligned."""
    cols = header.split("|")
    align = ["---" if i < left else "---:" for i in range(len(cols))]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _name(cpo: str, focus: str | None) -> str:
    return f"**{cpo}**" if focus is not None and cpo == focus else cpo


def _move(change: Any, t: dict[str, str]) -> str:
    if _missing(change):
        return t["norank"]
    if change == 0:
        return t["same"]
    return t["up" if change > 0 else "down"].format(n=abs(int(change)))


def _with_change(t: dict[str, str], label: str, value: Any, change: dict[str, Any] | None,
                 unit: str) -> str:
    if not change:
        return t["no_change"].format(label=label, value=num(value), unit=t[unit])
    key = "with_change" if change.get("pct") is not None else "with_change_nopct"
    return t[key].format(label=label, value=num(value), unit=t[unit],
                         abs=signed(change["abs"]), pct=spct(change.get("pct")))


def _bullets(items: Sequence[str]) -> list[str]:
    return [f"- {item}" for item in items]


# ---------------------------------------------------------------- kpi
def _kpi(f: Facts, lang: str, t: dict[str, str], heads: list[str]) -> list[str]:
    v = f.values
    nat, mom, conc, focus = v["national"], v.get("national_mom"), v["concentration"], v.get("focus")
    prev = v.get("previous_month")
    level = t[f"level_{conc['hhi_level']}"] if conc.get("hhi_level") else MISSING
    fast_pp = v.get("fast_ratio_change_pp")
    mix = t["mix"].format(slow=num(nat["slow_chargers"]), slow_pct=pct(nat["slow_ratio_pct"]),
                          fast=num(nat["fast_chargers"]), fast_pct=pct(nat["fast_ratio_pct"]))
    if fast_pp is not None:
        mix += t["mix_change"].format(pp=pp(fast_pp, lang))
    summary = [
        _with_change(t, t["total"], nat["total_chargers"], mom and mom["total_chargers"],
                     "chargers"),
        mix,
        t["conc_line"].format(top3=pct(conc["top3_share"]), hhi=num(conc["hhi"], 1), level=level),
    ]
    if focus:
        summary.append(t["focus_kpi"].format(
            cpo=focus["cpo"], rank=focus["rank"], share=pct(focus["share"]),
            share_chg="" if focus["share_change_pp"] is None
            else t["vs_prev"].format(x=pp(focus["share_change_pp"], lang)),
            total=num(focus["total_chargers"]),
            total_chg="" if focus["total_change"] is None
            else t["vs_prev"].format(x=signed(focus["total_change"]) + t["chargers"]),
        ))
    out = [f"## {heads[0]}", *_bullets(summary), "", f"## {heads[1]}"]
    keys = [("n_operators", "operators"), ("n_stations", "stations"), ("slow", "slow_chargers"),
            ("fast", "fast_chargers"), ("total", "total_chargers")]
    if mom:
        header = f"{t['item']}|{f.target_month}|{prev}|{t['change']}|{t['change_pct']}"
        rows = [[t[label], num(nat[k]), num(nat[k] - mom[k]["abs"]), signed(mom[k]["abs"]),
                 spct(mom[k]["pct"])] for label, k in keys]
    else:
        header = f"{t['item']}|{f.target_month}"
        rows = [[t[label], num(nat[k])] for label, k in keys]
    ratio = t["ratio"].format(slow_pct=pct(nat["slow_ratio_pct"]),
                              fast_pct=pct(nat["fast_ratio_pct"]))
    if fast_pp is not None:
        ratio += t["ratio_change"].format(pp=pp(fast_pp, lang))
    out += [*_table(header, rows, left=1), "", ratio, "", f"## {heads[2]}"]
    top = f.tables["top10"]
    out += _table(t["top_head"], [
        [str(r.rank), _name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.fast_chargers),
         num(r.stations), pct(r.share)] for r in top.itertuples()
    ], left=2)
    note = t["top_note"].format(top10=pct(conc["top10_share"]))
    if len(top) >= 2:
        a, b = top.iloc[0], top.iloc[1]
        note += t["gap"].format(a=a["cpo"], a_share=pct(a["share"]), b=b["cpo"],
                                b_share=pct(b["share"]),
                                gap=num(int(a["total_chargers"] - b["total_chargers"])))
    hhi_prev = "" if conc.get("hhi_prev") is None else t["hhi_prev"].format(
        prev=num(conc["hhi_prev"], 1), chg=signed(conc["hhi_change"], 1))
    out += ["", note, "", f"## {heads[3]}", *_bullets([
        t["tops"].format(t3=pct(conc["top3_share"]), t5=pct(conc["top5_share"]),
                         t10=pct(conc["top10_share"])),
        t["hhi"].format(hhi=num(conc["hhi"], 1), prev=hhi_prev,
                        meaning=t.get(conc.get("hhi_level") or "", MISSING)),
    ])]
    heads = heads[4:]
    if focus:
        fast_pct = focus["fast_chargers"] / focus["total_chargers"] * 100 if focus[
            "total_chargers"] else None
        cps = focus["total_chargers"] / focus["stations"] if focus["stations"] else None
        items = [
            t["focus_rank"].format(
                rank=focus["rank"], move=_move(focus["rank_change"], t), share=pct(focus["share"]),
                share_prev="" if focus["share_prev"] is None else t["share_prev"].format(
                    prev=pct(focus["share_prev"]), pp=pp(focus["share_change_pp"], lang))),
            t["focus_size"].format(
                total=num(focus["total_chargers"]), slow=num(focus["slow_chargers"]),
                fast=num(focus["fast_chargers"]), fast_pct=pct(fast_pct),
                stations=num(focus["stations"]), cps=num(cps)),
        ]
        if focus["total_change"] is not None and mom:
            items.append(t["focus_growth"].format(
                abs=signed(focus["total_change"]), pct=spct(focus["total_change_pct"]),
                mkt=spct(mom["total_chargers"]["pct"]),
                cmp=t[_cmp(focus["total_change_pct"], mom["total_chargers"]["pct"])]))
        out += ["", f"## {heads[0]}", *_bullets(items)]
        heads = heads[1:]
    implications = []
    if mom:
        implications.append(t["imp_mix"].format(
            fast=spct(mom["fast_chargers"]["pct"]), slow=spct(mom["slow_chargers"]["pct"]),
            cmp=t["cmp_" + _cmp(mom["fast_chargers"]["pct"], mom["slow_chargers"]["pct"])],
            pp=pp(fast_pp, lang)))
        chg = conc.get("hhi_change")
        if chg is not None:
            key = "imp_hhi_same" if chg == 0 else ("imp_hhi_up" if chg > 0 else "imp_hhi_down")
            implications.append(t[key].format(chg=num(abs(chg), 1)))
        if focus and focus["total_change_pct"] is not None:
            implications.append(t["imp_focus"].format(
                cpo=focus["cpo"], pct=spct(focus["total_change_pct"]),
                mkt=spct(mom["total_chargers"]["pct"]),
                cmp=t["cmp_" + _cmp(focus["total_change_pct"], mom["total_chargers"]["pct"])],
                pp=pp(focus["share_change_pp"], lang)))
    else:
        implications.append(t["imp_noprev"])
    implications.append(t["imp_level"].format(level=level, hhi=num(conc["hhi"], 1)))
    return [*out, "", f"## {heads[0]}", *_bullets(implications)]


# ---------------------------------------------------------------- cpo
def _cpo(f: Facts, lang: str, t: dict[str, str], heads: list[str]) -> list[str]:
    v = f.values
    market, tail, small, focus = v["market"], v["long_tail"], v["small_operators"], v.get("focus")
    board = f.tables["top15"]
    leader = board.iloc[0] if len(board) else None
    tail_line = t["cpo_tail"].format(n=tail["operators"], chargers=num(tail["chargers"]),
                                     share=pct(tail["share"])) if tail["operators"] else (
        t["imp_notail"].format(n=market["operators"]))
    small_line = t["cpo_small"].format(
        threshold=pct(small["threshold_pct"]), n=small["operators"],
        chargers=num(small["chargers"]), share=pct(small["share"]))
    summary = [
        t["cpo_market"].format(n=market["operators"], total=num(market["total_chargers"]),
                               stations=num(market["stations"]),
                               cps=num(market["chargers_per_station"]),
                               fast=pct(market["fast_pct"])),
    ]
    if leader is not None:
        summary.append(t["cpo_leader"].format(leader=leader["cpo"], share=pct(leader["share"]),
                                              top15=pct(market["top15_share"])))
    summary.append(tail_line)
    if focus:
        summary.append(t["cpo_focus"].format(
            cpo=focus["cpo"], rank=focus["rank"], move=_move(focus["rank_change"], t),
            share=pct(focus["share"]), cps=num(focus["chargers_per_station"]),
            fast=pct(focus["fast_pct"])))
    out = [f"## {heads[0]}", *_bullets(summary), "", f"## {heads[1]}"]
    out += _table(t["board_head"], [
        [str(r.rank), _name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.stations),
         num(r.chargers_per_station), num(r.ac_pct), num(r.dc_pct), pct(r.share),
         signed(r.rank_change)] for r in board.itertuples()
    ])
    movers = v.get("movers") or {}
    if board["rank_change"].isna().all():
        mover_lines = [t["no_rank_data"]]
    else:
        mover_lines = [
            t[f"mover_{d}"].format(cpo=m["cpo"], n=abs(m["rank_change"]), rank=m["rank"])
            for d in ("up", "down") if (m := movers.get(d))
        ] or [t["no_movers"]]
    structure = [tail_line, small_line, t["cpo_avg"].format(
        cps=num(market["chargers_per_station"]), fast=pct(market["fast_pct"]))]
    if leader is not None:
        structure.insert(0, t["cpo_leader"].format(leader=leader["cpo"],
                                                   share=pct(leader["share"]),
                                                   top15=pct(market["top15_share"])))
    out += ["", " ".join(mover_lines), "", f"## {heads[2]}", *_bullets(structure)]
    heads = heads[3:]
    label = None
    if focus:
        peers = f.tables["peers"]
        out += ["", f"## {heads[0]}", *_table(t["peers_head"], [
            [str(r.rank), _name(r.cpo, f.focus_cpo), num(r.total_chargers), num(r.stations),
             num(r.chargers_per_station), num(r.fast_pct), pct(r.share)]
            for r in peers.itertuples()
        ]), ""]
        if focus["peers"]:
            eff = _cmp(focus["chargers_per_station"], focus["peer_median_chargers_per_station"])
            cov = _cmp(focus["stations"], focus["peer_median_stations"])
            label = t["pos_" + ("h" if eff != "lower" else "l") + ("h" if cov != "lower" else "l")]
            out += _bullets([
                t["eff"].format(v=num(focus["chargers_per_station"]),
                                med=num(focus["peer_median_chargers_per_station"]),
                                mkt=num(market["chargers_per_station"]), c1=t[eff],
                                c2=t[_cmp(focus["chargers_per_station"],
                                          market["chargers_per_station"])]),
                t["cov"].format(v=num(focus["stations"]),
                                med=num(focus["peer_median_stations"], 1), c1=t[cov]),
                t["fastpos"].format(v=pct(focus["fast_pct"]),
                                    med=pct(focus["peer_median_fast_pct"]),
                                    mkt=pct(market["fast_pct"]),
                                    c1=t[_cmp(focus["fast_pct"], focus["peer_median_fast_pct"])],
                                    c2=t[_cmp(focus["fast_pct"], market["fast_pct"])]),
                t["position"].format(label=label),
            ])
        else:
            out.append(t["no_peers"])
        heads = heads[1:]
    implications = [
        t["imp_tail"].format(top15=pct(market["top15_share"]), n=tail["operators"],
                             tail=pct(tail["share"]))
        if tail["operators"] else t["imp_notail"].format(n=market["operators"])
    ]
    if focus:
        implications.append(t["imp_fast"].format(
            cpo=focus["cpo"], v=pct(focus["fast_pct"]), mkt=pct(market["fast_pct"]),
            c=t["imp_fast_" + _cmp(focus["fast_pct"], market["fast_pct"])]))
        if label:
            implications.append(t["imp_pos"].format(cpo_topic=_topic(focus["cpo"], lang),
                                                    label=label))
    return [*out, "", f"## {heads[0]}", *_bullets(implications)]


# ---------------------------------------------------------------- trend
def _trend(f: Facts, lang: str, t: dict[str, str], heads: list[str]) -> list[str]:
    v = f.values
    months, market, focus = v["months"], v["market"], v.get("focus")
    nat = f.tables["national"]
    several = months["count"] > 1
    summary = []
    if several:
        summary += [
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
        ]
    else:
        summary.append(t["tr_one"])
    if focus and focus["months_present"] > 1:
        summary.append(t["tr_focus"].format(
            cpo=focus["cpo"], a=num(focus["total_first"]), b=num(focus["total_last"]),
            pct=spct(focus["growth_pct"]), mkt=spct(focus["market_growth_pct"]),
            vs=pp(focus["vs_market_pp"], lang)))
    out = [f"## {heads[0]}", *_bullets(summary), "", f"## {heads[1]}"]
    out += _table(t["nat_head"], [
        [r.month, num(r.stations), num(r.slow_chargers), num(r.fast_chargers),
         num(r.total_chargers), signed(r.total_change), spct(r.total_change_pct)]
        for r in nat.itertuples()
    ], left=1)
    changes = nat.dropna(subset=["total_change"])
    if len(changes) > 1:
        hi = changes.loc[changes["total_change"].astype("int64").idxmax()]
        lo = changes.loc[changes["total_change"].astype("int64").idxmin()]
        out += ["", t["tr_best"].format(m1=hi["month"], a1=signed(hi["total_change"]),
                                        p1=spct(hi["total_change_pct"]), m2=lo["month"],
                                        a2=signed(lo["total_change"]),
                                        p2=spct(lo["total_change_pct"]))]
    out += ["", f"## {heads[2]}", *_table(t["mix_head"], [
        [r.month, pct(r.slow_pct), pct(r.fast_pct)] for r in nat.itertuples()
    ], left=1)]
    if several:
        hi = nat.loc[nat["fast_pct"].idxmax()]
        lo = nat.loc[nat["fast_pct"].idxmin()]
        out += ["", t["tr_mix"].format(f0=pct(market["fast_pct_first"]),
                                       f1=pct(market["fast_pct_last"]),
                                       pp=pp(market["fast_pct_change_pp"], lang),
                                       hi=pct(hi["fast_pct"]), mhi=hi["month"],
                                       lo=pct(lo["fast_pct"]), mlo=lo["month"])]
    hi, lo = nat.loc[nat["top5_share"].idxmax()], nat.loc[nat["top5_share"].idxmin()]
    out += ["", f"## {heads[3]}", t["tr_series"].format(
        m0=months["first"], t0=pct(market["top5_share_first"]), m1=months["last"],
        t1=pct(market["top5_share_last"]), hi=pct(hi["top5_share"]), mhi=hi["month"],
        lo=pct(lo["top5_share"]), mlo=lo["month"])]
    top5_pp = market["top5_share_change_pp"]
    if several and top5_pp is not None:
        key = "tr_conc_same" if top5_pp == 0 else ("tr_conc_up" if top5_pp > 0 else "tr_conc_down")
        out += ["", t[key].format(pp=pp(abs(top5_pp), lang).lstrip("+"))]
    heads = heads[4:]
    if focus:
        several_focus = focus["months_present"] > 1
        series_table = f.tables["focus"]
        out += ["", f"## {heads[0]}", *_table(t["focus_head"], [
            [r.month, num(r.total_chargers), num(r.fast_chargers), pct(r.share),
             MISSING if _missing(r.rank) else str(r.rank), spct(r.total_change_pct),
             spct(r.market_change_pct)] for r in series_table.itertuples()
        ], left=1), ""]
        items = [] if not several_focus else [
            t["tr_cum"].format(since=focus["since"], last=months["last"],
                               abs=signed(focus["growth_abs"]), pct=spct(focus["growth_pct"]),
                               mkt=spct(focus["market_growth_pct"]),
                               vs=pp(focus["vs_market_pp"], lang)),
            t["tr_share"].format(s0=pct(focus["share_first"]), s1=pct(focus["share_last"]),
                                 pp=pp(focus["share_change_pp"], lang), r0=focus["rank_first"],
                                 r1=focus["rank_last"]),
        ]
        if not several_focus:
            items.append(t["tr_focus_one"].format(cpo=focus["cpo"]))
        if focus["months_compared"]:
            items.append(t["tr_beat"].format(k=focus["months_beating_market"],
                                             n=focus["months_compared"]))
        out += _bullets(items)
        heads = heads[1:]
    implications = []
    if several:
        implications.append(t["imp_tr_fast"].format(
            fg=spct(market["fast_growth_pct"]), sg=spct(market["slow_growth_pct"]),
            cmp=t["fast_cmp_" + _cmp(market["fast_growth_pct"], market["slow_growth_pct"])],
            pp=pp(market["fast_pct_change_pp"], lang)))
    if focus and focus["vs_market_pp"] is not None and focus["months_present"] > 1:
        implications.append(t["imp_tr_focus"].format(
            cpo_topic=_topic(focus["cpo"], lang),
            vs=pp(abs(focus["vs_market_pp"]), lang).lstrip("+"),
            cmp=t["grow_" + _cmp(focus["growth_pct"], focus["market_growth_pct"])],
            pp=pp(focus["share_change_pp"], lang)))
    if not implications:
        implications.append(t["tr_one"])
    return [*out, "", f"## {heads[0]}", *_bullets(implications)]


_WRITERS: dict[str, Callable[[Facts, str, dict[str, str], list[str]], list[str]]] = {
    "kpi": _kpi, "cpo": _cpo, "trend": _trend,
}


def write_report(facts: Facts, language: str = "ko") -> str:
    """The report for ``facts`` as Markdown, in Korean (default) or English."""
    if language not in _T:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(_T)}")
    if facts.kind not in _WRITERS:
        raise ValueError(f"unknown report kind {facts.kind!r}; valid kinds: {', '.join(_WRITERS)}")
    t = _T[language]
    heads = [heading for heading, _ in report_sections(facts, language)]
    v = facts.values
    if facts.kind == "trend":
        meta = t["meta_window"].format(**v["months"])
    elif v.get("previous_month"):
        meta = t["meta_prev"].format(month=facts.target_month, prev=v["previous_month"])
    else:
        meta = t["meta_noprev"].format(month=facts.target_month)
    if facts.focus_cpo:
        meta += t["meta_focus"].format(focus=facts.focus_cpo)
    lines = [f"# {report_title(facts, language)}", "", meta, ""]
    if not facts.focus_cpo:
        lines += [t["no_focus"], ""]
    lines += _WRITERS[facts.kind](facts, language, t, heads)
    lines += ["", "---", t["footer"], ""]
    return "\n".join(lines)
