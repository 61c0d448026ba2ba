"""Prompts: role, context, the parseable facts block, the no-invention rule, the structure."""

from __future__ import annotations

import pandas as pd
import pytest

from report_lib.reports.facts import Facts, compute_all_facts, compute_facts
from report_lib.reports.prompts import Prompt, build_prompt, parse_facts, parse_language

KINDS = ("kpi", "cpo", "trend")
LANGS = ("ko", "en")

ROWS = [  # (month, cpo, stations, fast, total)
    ("2025-10", "환경부", 64, 40, 320), ("2025-10", "GS차지비", 70, 50, 280),
    ("2025-10", "에버온", 24, 12, 120), ("2025-11", "GS차지비", 100, 40, 400),
    ("2025-11", "환경부", 50, 60, 300), ("2025-11", "에버온", 30, 15, 150),
]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    df = pd.DataFrame(ROWS, columns=["month", "cpo", "stations", "fast_chargers",
                                     "total_chargers"])
    df["slow_chargers"] = df["total_chargers"] - df["fast_chargers"]
    df["rank"] = df.groupby("month")["total_chargers"].rank(ascending=False).astype("Int64")
    return df


@pytest.fixture(scope="module")
def facts(table: pd.DataFrame) -> dict[str, Facts]:
    return compute_all_facts(table, focus_cpo="GS차지비")


# words that must appear, per language: role, the no-invention rule
ROLE = {"ko": ("전기차 충전인프라", "애널리스트"), "en": ("EV charging infrastructure", "analyst")}
NO_INVENTION = {"ko": "지어내지", "en": "never invent"}
TITLE = {  # the top heading the report must have, per kind and language
    ("kpi", "ko"): "# 2025-11 전기차 충전인프라 KPI 스냅샷",
    ("kpi", "en"): "# 2025-11 EV Charging Infrastructure KPI Snapshot",
    ("cpo", "ko"): "# 2025-11 충전사업자(CPO) 순위 및 포지셔닝",
    ("cpo", "en"): "# 2025-11 Charging Operator (CPO) Ranking and Positioning",
    ("trend", "ko"): "# 2025-11 기준 전기차 충전인프라 월별 추이 (최근 2개월)",
    ("trend", "en"): "# EV Charging Infrastructure Monthly Trend to 2025-11 (last 2 months)",
}
TOPICS = {  # a word each required section's heading carries
    ("kpi", "ko"): ("핵심 요약", "전국 현황", "상위 10개", "집중도", "GS차지비", "시사점"),
    ("kpi", "en"): ("Key takeaways", "National totals", "Top 10", "concentration", "GS차지비",
                    "Implications"),
    ("cpo", "ko"): ("핵심 요약", "상위 15개", "시장 구조", "GS차지비", "시사점"),
    ("cpo", "en"): ("Key takeaways", "Top 15", "Market structure", "GS차지비", "Implications"),
    ("trend", "ko"): ("핵심 요약", "추이", "완속·급속", "상위 5개", "GS차지비", "시사점"),
    ("trend", "en"): ("Key takeaways", "by month", "fast mix", "Top-5", "GS차지비",
                      "Implications"),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_prompt_has_role_rule_context_and_language_line(
    facts: dict[str, Facts], kind: str, lang: str
) -> None:
    prompt = build_prompt(facts[kind], language=lang)
    assert isinstance(prompt, Prompt)
    for word in ROLE[lang]:
        assert word in prompt.system
    assert NO_INVENTION[lang] in prompt.system and NO_INVENTION[lang] in prompt.user
    lines = prompt.user.splitlines()
    assert f"language: {lang}" in lines
    assert "target_month: 2025-11" in lines
    assert "focus_cpo: GS차지비" in lines
    assert f"window_months: {facts[kind].window_months}" in lines
    assert parse_language(prompt.user) == lang


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_facts_block_parses_back_to_equal_facts(
    facts: dict[str, Facts], kind: str, lang: str
) -> None:
    prompt = build_prompt(facts[kind], language=lang)
    lines = prompt.user.splitlines()
    start, end = lines.index("<facts>"), lines.index("</facts>")
    assert end == start + 2
    assert lines[start + 1] == facts[kind].to_json()
    parsed = parse_facts(prompt.user)
    assert parsed == facts[kind]
    assert parse_facts(prompt.system + "\n\n" + prompt.user) == facts[kind]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_prompt_asks_for_the_structure(facts: dict[str, Facts], kind: str, lang: str) -> None:
    user = build_prompt(facts[kind], language=lang).user
    lines = user.splitlines()
    assert TITLE[(kind, lang)] in lines
    headings = [line for line in lines if line.startswith("## ")]
    assert len(headings) == len(TOPICS[(kind, lang)])
    for heading, topic in zip(headings, TOPICS[(kind, lang)], strict=True):
        assert topic in heading


def test_trend_prompt_states_the_window(facts: dict[str, Facts]) -> None:
    ko = build_prompt(facts["trend"], "ko").user
    en = build_prompt(facts["trend"], "en").user
    assert "2025-10~2025-11 (2개월, 요청 12개월)" in ko
    assert "2025-10 to 2025-11 (2 months, 12 requested)" in en


def test_kpi_prompt_states_the_comparison_month(facts: dict[str, Facts]) -> None:
    assert "2025-10" in build_prompt(facts["kpi"], "ko").user.split("<facts>")[0]
    assert "previous month 2025-10" in build_prompt(facts["kpi"], "en").user


def test_korean_and_english_differ_but_carry_the_same_facts(facts: dict[str, Facts]) -> None:
    ko, en = build_prompt(facts["cpo"], "ko"), build_prompt(facts["cpo"], "en")
    assert ko.system != en.system and ko.user != en.user
    assert parse_facts(ko.user) == parse_facts(en.user) == facts["cpo"]
    assert "한국어" in ko.system and "in English" in en.system


def test_default_language_is_korean(facts: dict[str, Facts]) -> None:
    assert build_prompt(facts["kpi"]) == build_prompt(facts["kpi"], "ko")


def test_without_focus_no_focus_section(table: pd.DataFrame) -> None:
    for lang in LANGS:
        user = build_prompt(compute_facts(table, "kpi"), lang).user
        assert "focus_cpo: -" in user.splitlines()
        headings = [line for line in user.splitlines() if line.startswith("## ")]
        assert len(headings) == 5
        assert not any("GS차지비" in h for h in headings)


def test_unknown_language_is_rejected(facts: dict[str, Facts]) -> None:
    with pytest.raises(ValueError, match="ko, en"):
        build_prompt(facts["kpi"], language="fr")


@pytest.mark.parametrize(
    "text",
    ["no block here", "<facts>\nnot json\n</facts>", '<facts>\n{"kind": "kpi"}\n</facts>',
     "<facts>\n[1, 2]\n</facts>", ""],
)
def test_parse_facts_returns_none_when_absent_or_invalid(text: str) -> None:
    assert parse_facts(text) is None


def test_parse_language() -> None:
    assert parse_language("language: en\nreport: kpi") == "en"
    assert parse_language("report: kpi\nlanguage: ko") == "ko"
    assert parse_language("nothing") == "ko"
    assert parse_language("language: fr") == "ko"


@pytest.mark.parametrize(("lang", "copy", "derive"), [
    ("ko", "그대로 옮겨 쓰십시오", "무엇에서 계산했는지 밝히십시오"),
    ("en", "exactly as given", "say what it is derived from"),
])
def test_the_prompt_asks_to_copy_figures_and_say_when_derived(
    facts: dict[str, Facts], lang: str, copy: str, derive: str
) -> None:
    system = build_prompt(facts["kpi"], lang).system
    assert copy in system and derive in system
