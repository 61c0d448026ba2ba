"""Offline reports: the right numbers, formatted, in Korean and English, deterministic."""

from __future__ import annotations

import pandas as pd
import pytest

from report_lib.reports.facts import Facts, compute_all_facts, compute_facts
from report_lib.reports.offline.phrases import PHRASES
from report_lib.reports.offline.writer import WRITERS, write_report
from report_lib.reports.prompts import SECTIONS

NAMES = ["GS차지비", "환경부", "한국전력공사", "에버온", "파워큐브", "SK일렉링크", "대영채비",
         "차지인", "플러그링크", "이브이시스"] + [f"사업자{i:02d}" for i in range(10)]
TOTAL_NOV = [73912, 60480, 41234, 35012, 30555, 28100, 25987, 20011, 18765, 15432,
             12000, 9876, 7654, 5432, 4321, 3210, 2109, 1500, 980, 450]
# change Oct → Nov per operator; 환경부 shrinks
DELTA = [622, -150, 310, 420, 95, 130, 88, 240, 61, 12, 40, 33, 25, 10, 7, 5, 3, 2, 1, 0]


def month_rows(month: str, totals: list[int], stations_extra: int) -> list[dict[str, object]]:
    rows = []
    for name, total in zip(NAMES, totals, strict=True):
        fast = 1558 if name == "GS차지비" else total // 8
        stations = (13228 if name == "GS차지비" else total // 5) + stations_extra
        rows.append({"month": month, "cpo": name, "stations": stations, "fast_chargers": fast,
                     "slow_chargers": total - fast, "total_chargers": total})
    return rows


TOTAL_OCT = [t - d for t, d in zip(TOTAL_NOV, DELTA, strict=True)]
TOTAL_SEP = [int(t * 0.99) for t in TOTAL_OCT]
RAW = {
    "2025-09": month_rows("2025-09", TOTAL_SEP, 120),
    "2025-10": month_rows("2025-10", TOTAL_OCT, 100),  # 100 more stations each than in Nov
    "2025-11": month_rows("2025-11", TOTAL_NOV, 0),
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    df = pd.DataFrame([row for rows in RAW.values() for row in rows])
    df["rank"] = df.groupby("month")["total_chargers"].rank(ascending=False).astype("Int64")
    return df.sort_values(["month", "rank"], ignore_index=True)


@pytest.fixture(scope="module")
def facts(table: pd.DataFrame) -> dict[str, Facts]:
    return compute_all_facts(table, focus_cpo="GS차지비")


def total(month: str, key: str = "total_chargers") -> int:
    return sum(int(row[key]) for row in RAW[month])  # type: ignore[call-overload]


def share(month: str, cpo: str) -> float:
    row = next(r for r in RAW[month] if r["cpo"] == cpo)
    return int(row["total_chargers"]) / total(month) * 100  # type: ignore[call-overload]


# ---------------------------------------------------------------- kpi
def test_kpi_korean_numbers(facts: dict[str, Facts]) -> None:
    report = write_report(facts["kpi"], "ko")
    assert report.splitlines()[0] == "# 2025-11 전기차 충전인프라 KPI 스냅샷"
    now, before = total("2025-11"), total("2025-10")
    change = now - before
    assert f"총 충전기 {now:,}기, 전월 대비 {change:+,}기({change / before * 100:+.2f}%)" in report
    pp = round(round(share("2025-11", "GS차지비"), 2) - round(share("2025-10", "GS차지비"), 2), 2)
    assert (
        f"GS차지비: 1위, 점유율 {share('2025-11', 'GS차지비'):.2f}% (전월 대비 {pp:+.2f}%p), "
        f"총 충전기 73,912기 (전월 대비 +622기)"
    ) in report


def test_kpi_tables_use_thousands_separators_and_ascii_minus(facts: dict[str, Facts]) -> None:
    report = write_report(facts["kpi"], "ko")
    st_now, st_before = total("2025-11", "stations"), total("2025-10", "stations")
    assert st_now < st_before
    assert (f"| 충전소 | {st_now:,} | {st_before:,} | {st_now - st_before:,} | "
            f"{(st_now - st_before) / st_before * 100:.2f}% |") in report
    row = RAW["2025-11"][1]  # 환경부, rank 2
    assert (f"| 2 | 환경부 | {row['total_chargers']:,} | {row['fast_chargers']:,} | "
            f"{row['stations']:,} | {share('2025-11', '환경부'):.2f}% |") in report
    assert "| 1 | **GS차지비** | 73,912 | 1,558 | 13,228 |" in report
    assert "\u2212" not in report  # minus is ASCII "-"


def test_kpi_concentration_sentence(facts: dict[str, Facts]) -> None:
    shares = [t / total("2025-11") * 100 for t in TOTAL_NOV]
    hhi = round(sum(s * s for s in shares), 1)
    assert hhi < 1500  # this market is unconcentrated
    top3 = round(sum(sorted(shares, reverse=True)[:3]), 2)
    ko, en = write_report(facts["kpi"], "ko"), write_report(facts["kpi"], "en")
    assert f"HHI {hhi:,.1f}" in ko and "1,500 미만으로 비집중 시장" in ko
    assert f"상위 3개 사업자 점유율 {top3:.2f}%" in ko
    assert f"HHI {hhi:,.1f}" in en and "unconcentrated market" in en


def test_kpi_english(facts: dict[str, Facts]) -> None:
    report = write_report(facts["kpi"], "en")
    assert report.splitlines()[0] == "# 2025-11 EV Charging Infrastructure KPI Snapshot"
    now, before = total("2025-11"), total("2025-10")
    change = now - before
    assert (f"Total chargers {now:,}, {change:+,} month over month "
            f"({change / before * 100:+.2f}%)") in report
    pp = round(round(share("2025-11", "GS차지비"), 2) - round(share("2025-10", "GS차지비"), 2), 2)
    assert (f"GS차지비: rank 1, share {share('2025-11', 'GS차지비'):.2f}% "
            f"({pp:+.2f} pp month over month)") in report
    assert "## Focus operator: GS차지비" in report
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in report.replace("GS차지비", "")
                   .split("## Top 10")[0])  # no Korean prose before the tables


# ---------------------------------------------------------------- cpo
def test_cpo_leaderboard_long_tail_and_positioning(facts: dict[str, Facts]) -> None:
    report = write_report(facts["cpo"], "ko")
    assert report.splitlines()[0] == "# 2025-11 충전사업자(CPO) 순위 및 포지셔닝"
    gs = RAW["2025-11"][0]
    assert (f"| 1 | **GS차지비** | 73,912 | 13,228 | {73912 / 13228:.2f} | "
            f"{(73912 - 1558) / 73912 * 100:.2f} | {1558 / 73912 * 100:.2f} | "
            f"{share('2025-11', 'GS차지비'):.2f}% | 0 |") in report
    assert gs["stations"] == 13228
    tail = TOTAL_NOV[15:]
    assert (f"상위 15개 밖 {len(tail)}개 사업자가 충전기 {sum(tail):,}기"
            f"({sum(tail) / total('2025-11') * 100:.2f}%) 보유") in report
    small = [t for t in TOTAL_NOV if t / total("2025-11") * 100 < 1]
    assert f"점유율 1.00% 미만 사업자 {len(small)}개, 충전기 {sum(small):,}기" in report
    assert "## 관심 사업자 포지셔닝: GS차지비" in report
    assert f"효율(충전소당 충전기) {73912 / 13228:.2f}기" in report


def test_cpo_rank_movers(table: pd.DataFrame) -> None:
    moved = table.copy()
    # in November 차지인 (8th) and 대영채비 (7th) swap places
    nov = moved["month"] == "2025-11"
    swap = {"대영채비": 8, "차지인": 7}
    moved.loc[nov, "rank"] = moved.loc[nov, "cpo"].map(swap).fillna(moved.loc[nov, "rank"])
    report = write_report(compute_facts(moved, "cpo"), "en")
    assert "Biggest climber: 차지인 (up 1, now rank 7)." in report
    assert "Biggest faller: 대영채비 (down 1, now rank 8)." in report


def test_cpo_english(facts: dict[str, Facts]) -> None:
    report = write_report(facts["cpo"], "en")
    assert "## Positioning of GS차지비" in report
    assert f"{len(NAMES)} operators, {total('2025-11'):,} chargers" in report


# ---------------------------------------------------------------- trend
def test_trend_growth(facts: dict[str, Facts]) -> None:
    first, last = total("2025-09"), total("2025-11")
    growth = last - first
    ko = write_report(facts["trend"], "ko")
    assert ko.splitlines()[0] == "# 2025-11 기준 전기차 충전인프라 월별 추이 (최근 3개월)"
    assert (f"총 충전기 {first:,}기 → {last:,}기, {growth:+,}기"
            f"({growth / first * 100:+.2f}%)") in ko
    gs_first = next(r["total_chargers"] for r in RAW["2025-09"] if r["cpo"] == "GS차지비")
    gs_growth = (73912 - gs_first) / gs_first * 100
    assert f"GS차지비: {gs_first:,}기 → 73,912기 ({gs_growth:+.2f}%)" in ko
    assert f"같은 기간 시장 {growth / first * 100:+.2f}%" in ko
    en = write_report(facts["trend"], "en")
    assert (f"Total chargers {first:,} → {last:,}, {growth:+,} "
            f"({growth / first * 100:+.2f}%)") in en
    assert "## Trend of GS차지비" in en


def test_trend_monthly_rows(facts: dict[str, Facts]) -> None:
    report = write_report(facts["trend"], "ko")
    nov, oct_ = total("2025-11"), total("2025-10")
    fast = total("2025-11", "fast_chargers")
    assert (f"| 2025-11 | {total('2025-11', 'stations'):,} | "
            f"{total('2025-11', 'slow_chargers'):,} | {fast:,} | {nov:,} | {nov - oct_:+,} | "
            f"{(nov - oct_) / oct_ * 100:+.2f}% |") in report
    assert f"| 2025-11 | {100 - fast / nov * 100:.2f}% | {fast / nov * 100:.2f}% |" in report


# ---------------------------------------------------------------- general
@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_deterministic_and_stable_through_json(facts: dict[str, Facts], kind: str) -> None:
    for lang in ("ko", "en"):
        text = write_report(facts[kind], lang)
        assert text == write_report(facts[kind], lang)
        assert text == write_report(Facts.from_json(facts[kind].to_json()), lang)
    assert write_report(facts[kind], "ko") != write_report(facts[kind], "en")
    assert write_report(facts[kind]) == write_report(facts[kind], "ko")


@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_closing_line_says_offline_without_llm(facts: dict[str, Facts], kind: str) -> None:
    for lang, words in (("ko", ("오프라인", "LLM 없이")), ("en", ("offline", "no LLM"))):
        last = write_report(facts[kind], lang).strip().splitlines()[-1]
        assert all(w in last for w in words)


@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_without_focus_operator(table: pd.DataFrame, kind: str) -> None:
    report = write_report(compute_facts(table, kind), "ko")
    assert "관심 사업자가 지정되지 않아" in report
    assert "## 관심 사업자" not in report
    assert "**" not in report  # nobody highlighted


@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_single_month_reports(table: pd.DataFrame, kind: str) -> None:
    one = table[table["month"] == "2025-09"]
    for lang in ("ko", "en"):
        report = write_report(compute_facts(one, kind, focus_cpo="에버온"), lang)
        assert report.startswith("# ") and "에버온" in report
    assert "전월 데이터 없음" in write_report(compute_facts(one, "kpi"), "ko")


def test_report_length_on_a_realistic_market() -> None:
    rows = []
    months = [str(p) for p in pd.period_range(end="2025-11", periods=14, freq="M")]
    for m_i, month in enumerate(months):
        for i in range(100):
            total_ = int(60000 / (i + 1) ** 1.1 * (1 + 0.01 * m_i)) + 20
            rows.append({"month": month, "cpo": NAMES[i] if i < 20 else f"운영사{i:03d}",
                         "rank": i + 1, "stations": total_ // 5 + 1,
                         "fast_chargers": total_ // (7 + i % 5),
                         "slow_chargers": total_ - total_ // (7 + i % 5),
                         "total_chargers": total_})
    facts = compute_all_facts(pd.DataFrame(rows), focus_cpo="에버온")
    for kind, f in facts.items():
        for lang in ("ko", "en"):
            length = len(write_report(f, lang))
            assert 1200 <= length <= 4000, (kind, lang, length)


def test_unknown_language(facts: dict[str, Facts]) -> None:
    with pytest.raises(ValueError, match="ko, en"):
        write_report(facts["kpi"], "de")


def test_phrases_have_the_same_keys_in_every_language() -> None:
    assert set(PHRASES["ko"]) == set(PHRASES["en"])


@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_every_prompt_section_has_one_writer(kind: str) -> None:
    for language, sections in SECTIONS[kind].items():
        assert [s.key for s in sections] == list(WRITERS[kind]), language


def test_sections_follow_the_prompt_order_by_key(
    facts: dict[str, Facts], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reordering the prompt's sections reorders the report: headings are found by key."""
    swapped = {lang: [s[1], s[0], *s[2:]] for lang, s in SECTIONS["kpi"].items()}
    monkeypatch.setitem(SECTIONS, "kpi", swapped)
    heads = [line for line in write_report(facts["kpi"], "en").splitlines()
             if line.startswith("## ")]
    assert heads[:2] == ["## National totals", "## Key takeaways"]
    body = write_report(facts["kpi"], "en").split("## Key takeaways")[1]
    assert body.splitlines()[1].startswith("- Total chargers ")
