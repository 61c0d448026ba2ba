"""Prompts for the three reports, built from the facts only.

The facts travel inside the user prompt as ``facts.to_json()`` between the lines ``<facts>`` and
``</facts>``; the emulator and the offline backend read them back with ``parse_facts`` and the
language with ``parse_language`` (the ``language: ko`` line). Titles and section headings are
defined here once, so the offline writer produces exactly the structure the prompt asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from report_lib import config
from report_lib.errors import UnknownChoiceError
from report_lib.reports.facts import Facts

FACTS_OPEN, FACTS_CLOSE = "<facts>", "</facts>"
_FACTS_RE = re.compile(r"^<facts>[ \t]*\r?\n(.*?)\r?\n</facts>[ \t]*$", re.MULTILINE | re.DOTALL)
_LANGUAGE_RE = re.compile(r"^language:[ \t]*([A-Za-z-]+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    """What the model sees: a system prompt and one user message."""

    system: str
    user: str


TITLES: dict[str, dict[str, str]] = {
    "kpi": {
        "ko": "{month} 전기차 충전인프라 KPI 스냅샷",
        "en": "{month} EV Charging Infrastructure KPI Snapshot",
    },
    "cpo": {
        "ko": "{month} 충전사업자(CPO) 순위 및 포지셔닝",
        "en": "{month} Charging Operator (CPO) Ranking and Positioning",
    },
    "trend": {
        "ko": "{month} 기준 전기차 충전인프라 월별 추이 (최근 {window}개월)",
        "en": "EV Charging Infrastructure Monthly Trend to {month} (last {window} {months})",
    },
}


class Section(NamedTuple):
    """One section the report must have: a key the writers use, its heading, what it covers."""

    key: str
    heading: str  # "{focus}" is replaced by the focus operator's name
    about: str


FOCUS_SECTION = "focus"  # written only when there is a focus operator

# kind -> language -> sections in order; the keys are the same in every language.
SECTIONS: dict[str, dict[str, list[Section]]] = {
    "kpi": {
        "ko": [
            Section("summary", "핵심 요약",
                    "총 충전기와 전월 대비 증감, 급속 비중, 집중도, 관심 사업자를 3–5개 항목으로"),
            Section("national", "전국 현황",
                    "사업자 수, 충전소, 완속/급속/총 충전기와 전월 대비 증감(절대값, %), "
                    "완속·급속 비율"),
            Section("top10", "상위 10개 사업자",
                    "순위, 사업자, 총 충전기, 급속, 충전소, 점유율 표와 해설"),
            Section("concentration", "시장 집중도",
                    "상위 3/5/10개 점유율, HHI와 전월 대비 변화, 집중도 수준 해석"),
            Section("focus", "관심 사업자: {focus}",
                    "순위, 규모(총/완속/급속 충전기, 충전소), 점유율과 %p 변화, 증감"),
            Section("implications", "시사점", "위 수치에서 바로 도출되는 관찰 2–4개"),
        ],
        "en": [
            Section("summary", "Key takeaways",
                    "total chargers and their monthly change, fast share, concentration, "
                    "focus operator, in 3–5 bullets"),
            Section("national", "National totals",
                    "operators, stations, slow/fast/total chargers with month-over-month "
                    "change (absolute, %), slow/fast ratio"),
            Section("top10", "Top 10 operators",
                    "table of rank, operator, total, fast, stations, share, with comments"),
            Section("concentration", "Market concentration",
                    "top-3/5/10 share, HHI and its monthly change, what the level means"),
            Section("focus", "Focus operator: {focus}",
                    "rank, size (total/slow/fast chargers, stations), share and its change "
                    "in percentage points, charger change"),
            Section("implications", "Implications",
                    "2–4 observations that follow directly from the numbers above"),
        ],
    },
    "cpo": {
        "ko": [
            Section("summary", "핵심 요약",
                    "사업자 수, 1위와 상위 15개 점유율, 롱테일, 관심 사업자의 위치"),
            Section("leaderboard", "상위 15개 사업자 순위",
                    "순위, 충전기, 충전소, 충전소당 충전기, 완속%/급속%, 점유율, "
                    "순위 변동 표와 순위 변동 해설"),
            Section("structure", "시장 구조",
                    "상위 15개 밖 사업자(수, 충전기, 점유율), 점유율 1% 미만 사업자, 시장 평균"),
            Section("focus", "관심 사업자 포지셔닝: {focus}",
                    "앞뒤 2개 경쟁사와 비교: 충전소당 충전기(효율) 대 "
                    "충전소 수(커버리지), 급속 비중, 점유율"),
            Section("implications", "시사점", "위 수치에서 바로 도출되는 관찰 2–4개"),
        ],
        "en": [
            Section("summary", "Key takeaways",
                    "number of operators, the leader and the top-15 share, the long tail, "
                    "where the focus operator stands"),
            Section("leaderboard", "Top 15 leaderboard",
                    "table of rank, chargers, stations, chargers per station, AC%/DC%, "
                    "share, rank change, with comments on the movers"),
            Section("structure", "Market structure",
                    "operators outside the top 15 (count, chargers, share), operators "
                    "under 1% share, market averages"),
            Section("focus", "Positioning of {focus}",
                    "against the 2 operators above and below: chargers per station "
                    "(efficiency) vs stations (coverage), fast share, market share"),
            Section("implications", "Implications",
                    "2–4 observations that follow directly from the numbers above"),
        ],
    },
    "trend": {
        "ko": [
            Section("summary", "핵심 요약",
                    "기간 누적 성장, 월평균 증가, 급속 비중과 상위 5개 점유율 변화, "
                    "관심 사업자 대 시장"),
            Section("national", "전국 충전기 추이",
                    "월별 충전소, 완속, 급속, 총 충전기와 전월 대비 증감(절대값, %)"),
            Section("mix", "완속·급속 구성", "월별 완속/급속 비중과 그 변화"),
            Section("top5", "상위 5개 사업자 점유율", "월별 상위 5개 점유율과 집중도의 방향"),
            Section("focus", "관심 사업자 추이: {focus}",
                    "월별 총 충전기, 급속, 점유율, 순위와 증가율을 시장과 비교 (누적 및 월별)"),
            Section("implications", "시사점", "위 수치에서 바로 도출되는 관찰 2–4개"),
        ],
        "en": [
            Section("summary", "Key takeaways",
                    "cumulative growth over the window, average monthly change, fast share "
                    "and top-5 share shifts, the focus operator against the market"),
            Section("national", "National chargers by month",
                    "stations, slow, fast and total chargers per month with "
                    "month-over-month change (absolute, %)"),
            Section("mix", "Slow vs fast mix", "slow/fast share per month and how it moved"),
            Section("top5", "Top-5 share",
                    "top-5 operators' combined share per month and the direction of concentration"),
            Section("focus", "Trend of {focus}",
                    "monthly total, fast, share, rank and growth against the market "
                    "(cumulative and month by month)"),
            Section("implications", "Implications",
                    "2–4 observations that follow directly from the numbers above"),
        ],
    },
}

_SYSTEM = {
    "ko": (
        "당신은 한국 전기차 충전인프라 시장(충전사업자, CPO)을 분석하는 시니어 애널리스트입니다. "
        "사용자가 <facts> 블록으로 제공하는 수치만 사용해 한국어 Markdown 보고서를 작성합니다.\n"
        "규칙:\n"
        "- <facts>에 있는 숫자, 월, 사업자 이름만 사용하고 어떤 수치나 월도 지어내지 마십시오 "
        "(추정, 외삽, 외부 지식 금지).\n"
        "- 데이터에 없는 내용은 '데이터 없음'이라고 쓰고, 원인은 단정하지 마십시오.\n"
        "- 숫자는 천 단위 구분 기호(459,120)로, 증감은 +/- 부호로, 점유율 변화는 %p로 쓰십시오.\n"
        "- 수치는 <facts>에 적힌 값을 소수 자릿수까지 그대로 옮겨 쓰십시오. "
        "두 수치에서 한 번 계산한 값(차이, 합, 비율, 증감률, %p 차이)을 쓸 때는 "
        "무엇에서 계산했는지 밝히십시오 "
        "(예: '1위와 2위의 차이(계산값)').\n"
        "- 요청한 제목과 섹션을 그 순서대로 쓰십시오."
    ),
    "en": (
        "You are a senior analyst of Korea's EV charging infrastructure market (charge point "
        "operators, CPOs). You write Markdown reports in English using only the numbers the user "
        "gives in the <facts> block.\n"
        "Rules:\n"
        "- Use only the numbers, months and operator names in <facts>; never invent any number or "
        "month (no estimates, extrapolation or outside knowledge).\n"
        "- When something is not in the data, say 'not in the data'; do not assert causes.\n"
        "- Write numbers with thousands separators (459,120), changes with a +/- sign and share "
        "changes in percentage points (pp).\n"
        "- Copy every figure from <facts> exactly as given, with its decimals. When you derive a "
        "figure from two facts in one step (difference, sum, ratio, percent change, percentage-"
        "point change), say what it is derived from (e.g. 'the gap between #1 and #2, derived').\n"
        "- Use the requested title and sections, in that order."
    ),
}

_TEXT = {
    "ko": {
        "month": "기준월 {month}.",
        "prev": "비교월(전월) {prev}.",
        "no_prev": "전월 데이터가 없어 전월 대비 수치는 없습니다.",
        "focus": "관심 사업자: {focus}.",
        "no_focus": "관심 사업자가 지정되지 않았습니다. 관심 사업자 섹션은 쓰지 마십시오.",
        "window": "분석 기간 {first}~{last} ({count}개월, 요청 {requested}개월).",
        "data": (
            "아래 <facts> 블록은 pandas로 계산한 데이터(JSON)입니다. 표는 "
            '{"columns": [...], "rows": [...]} 형식입니다. 단위: 충전기·충전소는 개수, '
            "share·*_share·*_pct는 %, *_pp는 %p, hhi는 0–10,000, "
            "rank_change는 양수면 순위 상승, null은 데이터 없음."
        ),
        "structure": "다음 구조의 Markdown 보고서를 작성하십시오 (제목과 섹션을 이 순서로):",
        "rules": (
            "규칙: <facts>에 있는 숫자와 월만 사용하고, 없는 수치나 월은 절대 지어내지 마십시오. "
            "표는 Markdown 표로, 분량은 1,500–3,500자 정도로 쓰십시오."
        ),
    },
    "en": {
        "month": "Target month {month}.",
        "prev": "Compared with the previous month {prev}.",
        "no_prev": "The previous month is not in the data, so there are no monthly changes.",
        "focus": "Focus operator: {focus}.",
        "no_focus": "No focus operator was selected; do not write a focus operator section.",
        "window": "Window {first} to {last} ({count} months, {requested} requested).",
        "data": (
            "The <facts> block below is the data computed with pandas (JSON). Tables are "
            '{"columns": [...], "rows": [...]}. Units: chargers and stations are counts, '
            "share/*_share/*_pct are percent, *_pp are percentage points, hhi is 0–10,000, "
            "a positive rank_change means the operator moved up, null means not in the data."
        ),
        "structure": "Write a Markdown report with this structure (title and sections in order):",
        "rules": (
            "Rule: use only the numbers and months in <facts>; never invent a number or a month. "
            "Put tables in Markdown, about 1,500–3,500 characters in total."
        ),
    },
}


def _check_language(language: str) -> str:
    if language not in config.LANGUAGES:
        raise UnknownChoiceError("language", language, config.LANGUAGES)
    return language


def report_title(facts: Facts, language: str = "ko") -> str:
    """The report's top heading text (without '#')."""
    template = TITLES[facts.kind][_check_language(language)]
    months = "month" if facts.window_months == 1 else "months"
    return template.format(month=facts.target_month, window=facts.window_months, months=months)


def report_sections(facts: Facts, language: str = "ko") -> list[Section]:
    """The sections in order, headings filled in; the focus section only when there is a focus."""
    sections = SECTIONS[facts.kind][_check_language(language)]
    return [
        section._replace(heading=section.heading.format(focus=facts.focus_cpo))
        for section in sections
        if section.key != FOCUS_SECTION or facts.focus_cpo
    ]


def _context(facts: Facts, text: dict[str, str]) -> list[str]:
    values = facts.values
    lines = [text["month"].format(month=facts.target_month)]
    if facts.kind == "trend":
        months = values.get("months", {})
        lines.append(text["window"].format(**months))
    elif values.get("previous_month"):
        lines.append(text["prev"].format(prev=values["previous_month"]))
    else:
        lines.append(text["no_prev"])
    if facts.focus_cpo:
        lines.append(text["focus"].format(focus=facts.focus_cpo))
    else:
        lines.append(text["no_focus"])
    return [" ".join(lines)]


def build_prompt(facts: Facts, language: str = "ko") -> Prompt:
    """System + user prompt for one report; the facts ride along as a parseable block."""
    _check_language(language)
    if facts.kind not in SECTIONS:
        raise UnknownChoiceError("report kind", facts.kind, config.REPORT_KINDS)
    text = _TEXT[language]
    header = [
        f"language: {language}",
        f"report: {facts.kind}",
        f"target_month: {facts.target_month}",
        f"focus_cpo: {facts.focus_cpo or '-'}",
        f"window_months: {facts.window_months}",
    ]
    structure = [f"# {report_title(facts, language)}"] + [
        f"## {section.heading} — {section.about}" for section in report_sections(facts, language)
    ]
    user = "\n".join([
        *header, "", *_context(facts, text), "", text["data"],
        FACTS_OPEN, facts.to_json(), FACTS_CLOSE, "",
        text["structure"], *structure, "", text["rules"],
    ])
    return Prompt(system=_SYSTEM[language], user=user)


def parse_facts(text: str) -> Facts | None:
    """The Facts embedded between <facts> lines, or None when absent or not valid facts."""
    match = _FACTS_RE.search(text or "")
    if not match:
        return None
    try:
        return Facts.from_json(match.group(1).strip())
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def parse_language(text: str) -> str:
    """The ``language: xx`` line of a prompt; the default language when absent or unknown."""
    match = _LANGUAGE_RE.search(text or "")
    if match and match.group(1).lower() in config.LANGUAGES:
        return match.group(1).lower()
    return config.DEFAULT_LANGUAGE
