"""The fact checker: every number and month of a report traced to the facts, wrong ones found."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest

from report_lib.data.sample import synthesize
from report_lib.reports.factcheck import check_report
from report_lib.reports.factcheck.mentions import MONTH, NUMBER, PERCENT, find_mentions
from report_lib.reports.facts import Facts, compute_facts, iter_facts
from report_lib.reports.offline.writer import write_report

# (cpo, total, fast, stations) per month; slow = total - fast. National 2025-11: 199,120
# chargers (+9,120, +4.80 %), 33,828 stations, 13,358 fast (6.71 %); 에버온 41,100 (20.64 %).
MONTHS: dict[str, list[tuple[str, int, int, int]]] = {
    "2025-10": [("GS차지비", 70000, 1500, 13000), ("환경부", 60000, 9000, 8000),
                ("에버온", 40000, 2000, 9000), ("충전사업자 035", 20000, 500, 3000)],
    "2025-11": [("GS차지비", 73912, 1558, 13228), ("환경부", 61234, 9100, 8100),
                ("에버온", 41100, 2100, 9400), ("충전사업자 035", 22874, 600, 3100)],
}


def frame() -> pd.DataFrame:
    rows = [
        {"month": month, "cpo": cpo, "rank": rank, "stations": stations,
         "slow_chargers": total - fast, "fast_chargers": fast, "total_chargers": total}
        for month, ops in MONTHS.items()
        for rank, (cpo, total, fast, stations) in enumerate(ops, start=1)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def kpi() -> Facts:
    return compute_facts(frame(), "kpi", focus_cpo="에버온")


def national(month: str, column: int = 1) -> int:
    return sum(op[column] for op in MONTHS[month])


def unsupported(text: str, facts: Facts) -> list[tuple[str, int]]:
    return [(u.text, u.line) for u in check_report(text, facts).unsupported]


# ---------------------------------------------------------------- reading figures
# (value, step, approx) -> the ways a report may write it
WRITTEN_NUMBERS: dict[tuple[float, float, bool], tuple[str, ...]] = {
    (459081, 1, False): ("459,081기", "45만 9,081기", "45만9081기"),
    (338000, 1000, False): ("33.8만 기",),
    (460000, 10000, True): ("약 46만 기", "46만여 기"),
    (120_000_000, 10_000_000, False): ("1억 2천만",),
    (20_000_000, 10_000_000, False): ("2천만 원",),
    (459000, 1000, True): ("약 459,000기", "about 459k"),
    (1_200_000, 100_000, False): ("1.2 million",),
    (16.10, 0.01, False): ("16.10",),
}


@pytest.mark.parametrize(("written", "value", "step", "approx"), [
    (written, value, step, approx)
    for (value, step, approx), ways in WRITTEN_NUMBERS.items() for written in ways
])
def test_numbers_as_written(written: str, value: float, step: float, approx: bool) -> None:
    [mention] = find_mentions(f"총 {written} 입니다", "2025-11")
    assert (mention.kind, mention.value, mention.approx) == (NUMBER, value, approx)
    assert mention.step == pytest.approx(step)


@pytest.mark.parametrize(("written", "value", "kind", "points"), [
    ("+4.80%", 4.80, PERCENT, False),
    ("−0.13%p", -0.13, PERCENT, True),
    ("▼0.41%p", -0.41, PERCENT, True),
    ("▲ 1,100기", 1100, NUMBER, False),
    ("-0.41 pp", -0.41, PERCENT, True),
    ("0.41 percentage points", 0.41, PERCENT, True),
    ("0.41%포인트", 0.41, PERCENT, True),
])
def test_signs_percent_and_points(written: str, value: float, kind: str, points: bool) -> None:
    [mention] = find_mentions(f"변화는 {written} 입니다", "2025-11")
    assert (mention.value, mention.kind, mention.points) == (value, kind, points)
    assert mention.signed == (written[0] in "+-−▲▼")


def test_a_range_dash_is_not_a_minus_sign() -> None:
    values = [m.value for m in find_mentions("HHI 1,500-2,500 구간", "2025-11")]
    assert values == [1500, 2500]


@pytest.mark.parametrize(("written", "month"), [
    ("2025-11", "2025-11"), ("2025.10", "2025-10"), ("2025년 10월", "2025-10"),
    ("(25.11.30 기준)", "2025-11"), ("11월", "2025-11"), ("12월", "2024-12"),
    ("November 2025", "2025-11"), ("in October", "2025-10"), ("2025-11-30", "2025-11"),
])
def test_months_as_written(written: str, month: str) -> None:
    months = [m.value for m in find_mentions(f"기준: {written} 데이터", "2025-11")
              if m.kind == MONTH]
    assert months == [month]


def test_digits_in_words_and_names_are_not_figures() -> None:
    text = "Q3 and top10 and H2"
    assert find_mentions(text, "2025-11") == []


# ---------------------------------------------------------------- checking
def report(facts: Facts) -> str:
    """A report a careful model would write from ``facts`` (every figure true)."""
    now, before = national("2025-11"), national("2025-10")
    v = facts.values
    return "\n".join([
        "# 2025-11 전기차 충전인프라 KPI 스냅샷",
        "",
        "## 1. 핵심 요약",
        f"1. 총 충전기 {now:,}기, 전월 대비 +{now - before:,}기(+4.80%)",
        f"2. 급속 충전기 {national('2025-11', 2):,}기 (급속 비중 6.71%, 전월 대비 -0.13%p)",
        f"3. 상위 3개 사업자 점유율 {v['concentration']['top3_share']:.2f}%, HHI 2,881.6",
        "",
        "## 상위 10개 사업자",
        "| 순위 | 사업자 | 총 충전기 |",
        "|---|---|---:|",
        *[f"| {i} | {cpo} | {total:,} |"
          for i, (cpo, total, _, _) in enumerate(MONTHS["2025-11"], start=1)],
        "",
        f"- 2025-10 총 충전기 {before:,}기에서 2025년 11월 {now:,}기로 늘었습니다.",  # derived
        "- 에버온: 3위, 점유율 20.64% (전월 21.05%, -0.41%p), 41,100기 (+1,100기, +2.75%)",
        "- 1위와 2위의 차이는 12,678기입니다.",  # 73,912 − 61,234: derived
        "- HHI가 27.0 내려 시장이 조금 더 분산되었습니다.",  # the size of a fall, in words
        "- 충전사업자 035: 22,874기.",
    ])


def test_a_true_report_checks_clean(kpi: Facts) -> None:
    check = check_report(report(kpi), kpi)
    assert check.unsupported == []
    assert check.supported == check.checked
    assert check.derived == 2  # 190,000 = 199,120 − 9,120 and 12,678 = 73,912 − 61,234
    assert check.verdict == f"{check.checked}/{check.checked}"


def test_counts_each_figure_once(kpi: Facts) -> None:
    line = f"총 충전기 {national('2025-11'):,}기, 급속 비중 6.71%, 기준월 2025-11"
    check = check_report(line, kpi)
    assert (check.checked, check.supported, check.derived) == (3, 3, 0)


@pytest.mark.parametrize(("true", "wrong", "kind"), [
    ("199,120기", "199,210기", NUMBER),  # digits swapped
    ("+4.80%", "+5.80%", PERCENT),  # off by a point
    ("-0.41%p", "+0.41%p", PERCENT),  # the sign of a change
    ("2025-10 총", "2025-08 총", MONTH),  # a month outside the data window
    ("12,678기", "12,768기", NUMBER),  # a derived figure with digits swapped
])
def test_a_planted_error_is_the_one_flagged(kpi: Facts, true: str, wrong: str,
                                            kind: str) -> None:
    text = report(kpi)
    assert true in text
    bad = text.replace(true, wrong, 1)
    line = next(i for i, row in enumerate(bad.splitlines(), start=1) if wrong in row)
    [flagged] = check_report(bad, kpi).unsupported
    assert (flagged.text, flagged.line, flagged.kind) == (wrong.split(" ")[0].rstrip("기"),
                                                         line, kind)


def test_nearest_fact_is_named(kpi: Facts) -> None:
    [flagged] = check_report("총 충전기 199,210기", kpi).unsupported
    assert flagged.value == 199210
    assert flagged.nearest == "199,120 (national.total_chargers)"
    [month] = check_report("2025-08 기준", kpi).unsupported
    assert (month.value, month.nearest) == ("2025-08", "2025-10")


@pytest.mark.parametrize("paraphrase", [
    "총 충전기 19만 9,120기", "총 충전기 약 20만 기", "총 충전기 19.9만 기", "약 199,000기",
    "total about 199k chargers", "전월 약 19만 기", "급속 비중 약 6.7%", "급속 비중 6.7%",
    "점유율 0.41%포인트 하락",
    "▲9,120기 증가", "HHI 약 2,900", "(25.11.30 기준)",
    "11월 기준",
])
def test_korean_style_paraphrases_are_supported(kpi: Facts, paraphrase: str) -> None:
    check = check_report(paraphrase, kpi)
    assert check.checked >= 1 and check.unsupported == []


@pytest.mark.parametrize("wrong", [
    "총 충전기 19만 9,210기", "총 충전기 약 21만 기", "총 충전기 19.7만 기", "급속 비중 약 6.9%",
    "총 충전기 약 25만 기",
    "1억 2천만 기", "9월 기준",
])
def test_wrong_paraphrases_are_flagged(kpi: Facts, wrong: str) -> None:
    assert len(check_report(wrong, kpi).unsupported) == 1


def test_exclusions_list_markers_headings_title_month_and_table_sizes(kpi: Facts) -> None:
    text = "\n".join([
        "# 2025-11 KPI",
        "## 2. 상위 10개 사업자",  # heading number; "10" names the top-10 table (4 rows: no)
        "1. 상위 3개 사업자",  # list marker; "3" is the N of top3_share
        "2) Top-5 share 100.00%",
    ])
    check = check_report(text, kpi)
    assert [(u.text, u.line) for u in check.unsupported] == []
    assert check.checked == 1  # 100.00%


def test_a_table_size_is_not_excluded_when_it_measures(kpi: Facts) -> None:
    flagged = unsupported("사업자 17개가 충전기를 운영합니다", kpi)
    assert flagged == [("17", 1)]


# ---------------------------------------------------------------- bad input
def test_no_figures_is_checked_zero(kpi: Facts) -> None:
    check = check_report("숫자가 없는 보고서입니다.", kpi)
    assert (check.checked, check.supported, check.unsupported) == (0, 0, [])
    assert check_report("", kpi).checked == 0


def test_a_malformed_number_is_unsupported_not_a_crash(kpi: Facts) -> None:
    [flagged] = check_report("총 충전기 1,99,120기", kpi).unsupported
    assert (flagged.text, flagged.value, flagged.kind) == ("1,99,120", "1,99,120", NUMBER)
    assert flagged.nearest == "199,120 (national.total_chargers)"
    [other] = check_report("전국 4,59,081기", kpi).unsupported
    assert (other.text, other.value) == ("4,59,081", "4,59,081")


@pytest.mark.slow
def test_a_megabyte_answer_is_checked(kpi: Facts) -> None:
    title, body = report(kpi).split("\n", 1)
    copies = 1_000_000 // len(body.encode()) + 1
    started = time.perf_counter()
    check = check_report(title + "\n" + (body + "\n") * copies, kpi)
    elapsed = time.perf_counter() - started
    assert check.checked == copies * check_report(report(kpi), kpi).checked
    assert check.unsupported == []
    assert elapsed < 30  # generous: a hang or a quadratic blow-up fails; speed is in benchmarks


def test_to_dict_is_the_result_contract(kpi: Facts) -> None:
    data: dict[str, Any] = check_report("총 충전기 199,210기, 2025-11", kpi).to_dict()
    assert data == {"checked": 2, "supported": 1, "derived": 0, "unsupported": [
        {"text": "199,210", "value": 199210.0, "line": 1, "kind": "number",
         "nearest": "199,120 (national.total_chargers)"},
    ]}


# ---------------------------------------------------------------- the offline writer
@pytest.mark.slow
def test_the_offline_writer_checks_clean_for_every_kind_month_and_operator() -> None:
    """All 3 kinds × 24 months × every operator of the sample data (Korean; English for the
    10 largest operators): not one figure the facts do not support."""
    df = synthesize()
    months = sorted(df["month"].unique())
    largest = set(df[df["month"] == months[-1]].nsmallest(10, "rank")["cpo"])
    reports = 0
    failures = []
    for month, cpo, facts in iter_facts(df, months=months):
        for language in ("ko", "en") if cpo in largest else ("ko",):
            check = check_report(write_report(facts, language), facts)
            reports += 1
            if check.unsupported or check.checked < 20:
                failures.append((month, cpo, facts.kind, language, check.verdict,
                                 [(u.text, u.line) for u in check.unsupported][:3]))
    operators_by_month = df.groupby("month")["cpo"].nunique()
    assert reports == 3 * int(operators_by_month.sum()) + 3 * 10 * len(months) - 3 * sum(
        len(largest - set(df[df["month"] == m]["cpo"])) for m in months)
    assert failures == []
