"""Charts draw what the facts say: bar and line counts and values checked against the table."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from report_lib.errors import DataError
from report_lib.render import charts
from report_lib.reports.facts import compute_all_facts
from tests.helpers import smallest_text_px

MONTHS = [str(p) for p in pd.period_range(end="2025-11", periods=14, freq="M")]
NAMES = ["GS차지비", "환경부", "한국전력공사", "에버온", "파워큐브",
         *(f"운영사{i:02d}" for i in range(20))]


def canonical(months: list[str] = MONTHS) -> pd.DataFrame:
    """25 operators; operator i has 100·(25−i) + 10·t chargers in month t, fast = 10 % + i %."""
    rows = []
    for t, month in enumerate(months):
        for i, name in enumerate(NAMES):
            total = 100 * (len(NAMES) - i) + 10 * t
            fast = round(total * (0.10 + i / 100))
            rows.append({"month": month, "cpo": name, "rank": i + 1, "stations": total // 4,
                         "slow_chargers": total - fast, "fast_chargers": fast,
                         "total_chargers": total})
    df = pd.DataFrame(rows)
    df["market_share"] = df["total_chargers"] / df.groupby("month")["total_chargers"].transform(
        "sum") * 100
    return df


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return canonical()


def facts_for(df: pd.DataFrame, focus: str | None = "GS차지비") -> dict:
    return compute_all_facts(df, month="latest", focus_cpo=focus, window=12)


def render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png")


def bars(ax) -> list:
    return [p for p in ax.patches if p.get_width() > 0 or p.get_height() > 0]


def test_top_operators_chart_has_fifteen_bars_in_rank_order(df: pd.DataFrame) -> None:
    facts = facts_for(df)
    fig = charts.top_operators_chart(facts["cpo"])
    ax = fig.axes[0]
    last = df[df["month"] == MONTHS[-1]].nlargest(15, "total_chargers")
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 15
    assert widths[::-1] == [float(v) for v in last["total_chargers"]]  # top bar = rank 1
    colors = [p.get_facecolor() for p in ax.patches]
    assert colors[-1] != colors[0]  # rank 1 is the focus operator: highlighted
    render(fig)


def test_focus_outside_top_is_appended(df: pd.DataFrame) -> None:
    focus = NAMES[20]  # rank 21
    fig = charts.top_operators_chart(facts_for(df, focus)["cpo"])
    ax = fig.axes[0]
    assert len(ax.patches) == 16
    assert ax.get_yticklabels()[0].get_text().startswith("21. ")
    assert ax.patches[0].get_width() == float(
        df[(df["month"] == MONTHS[-1]) & (df["cpo"] == focus)]["total_chargers"].iloc[0])


def test_charger_mix_chart_stacks_slow_and_fast_with_national(df: pd.DataFrame) -> None:
    fig = charts.charger_mix_chart(facts_for(df)["cpo"], n=10)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * (10 + 1)  # slow + fast for 10 operators and the nation
    last = df[df["month"] == MONTHS[-1]]
    expected_fast = list(last.head(10)["fast_chargers"] / last.head(10)["total_chargers"] * 100)
    expected_fast.append(last["fast_chargers"].sum() / last["total_chargers"].sum() * 100)
    fast_bars = ax.patches[11:]
    got = [p.get_width() for p in fast_bars][::-1]
    assert got == pytest.approx(expected_fast, abs=0.01)  # facts round to 2 decimals
    assert ax.get_yticklabels()[0].get_text() == "National"
    render(fig)


def test_national_trend_chart_has_window_months(df: pd.DataFrame) -> None:
    fig = charts.national_trend_chart(facts_for(df)["trend"])
    ax, ax_growth, ax_share = fig.axes
    window = MONTHS[-12:]
    assert len(ax.patches) == 2 * 12  # slow and fast per month
    slow = df[df["month"].isin(window)].groupby("month")["slow_chargers"].sum()
    assert [p.get_height() for p in ax.patches[:12]] == [float(v) for v in slow]
    assert len(ax_share.get_lines()) == 1  # fast share on the right axis
    totals = df.groupby("month")["total_chargers"].sum()
    growth = (totals / totals.shift(1) - 1) * 100
    assert [p.get_height() for p in bars(ax_growth)] == pytest.approx(
        list(growth[window]), abs=0.01)
    render(fig)


@pytest.mark.slow
def test_focus_vs_market_chart_indexes_both_series(df: pd.DataFrame) -> None:
    fig = charts.focus_vs_market_chart(facts_for(df, "에버온")["trend"])
    ax, ax_share = fig.axes
    focus_line, market_line = ax.get_lines()[:2]
    window = MONTHS[-12:]
    own = df[(df["cpo"] == "에버온") & df["month"].isin(window)]["total_chargers"].to_numpy()
    market = df[df["month"].isin(window)].groupby("month")["total_chargers"].sum().to_numpy()
    assert np.asarray(focus_line.get_ydata(), float) == pytest.approx(own / own[0] * 100)
    assert np.asarray(market_line.get_ydata(), float) == pytest.approx(market / market[0] * 100)
    share = np.asarray(ax_share.get_lines()[0].get_ydata(), float)
    assert share == pytest.approx(own / market * 100, abs=0.01)
    render(fig)


def test_focus_chart_needs_a_focus_operator(df: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="focus"):
        charts.focus_vs_market_chart(facts_for(df, None)["trend"])


def test_national_summary_table(df: pd.DataFrame) -> None:
    table = charts.national_summary_table(facts_for(df)["kpi"])
    prev, last = (df[df["month"] == m] for m in MONTHS[-2:])
    assert table.loc["total_chargers", MONTHS[-1]] == last["total_chargers"].sum()
    assert table.loc["total_chargers", "MoM change"] == (
        last["total_chargers"].sum() - prev["total_chargers"].sum())
    assert table.loc["operators", MONTHS[-1]] == len(NAMES)


@pytest.mark.parametrize(("name", "expected"), [
    ("GS차지비", "GS Chajibi"),     # 차 ch+a, 지 j+i, 비 b+i
    ("환경부", "Hwangyeongbu"),     # 환 h+wa+n, 경 g+yeo+ng, 부 b+u
    ("SK일렉링크", "SK Ilrekringkeu"),  # 일 i+l, 렉 r+e+k, 링 r+i+ng, 크 k+eu (no assimilation)
    ("Tesla", "Tesla"),
])
def test_romanize(name: str, expected: str) -> None:
    assert charts.romanize(name) == expected


def test_labels_follow_font_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "hangul_font", lambda: None)
    assert charts.label("환경부") == "Hwangyeongbu"
    monkeypatch.setattr(charts, "hangul_font", lambda: "Noto Sans CJK KR")
    assert charts.label("환경부") == "환경부"


@pytest.mark.slow
def test_missing_glyph_warnings_are_silenced_without_a_hangul_font(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib.figure import Figure

    monkeypatch.setattr(charts, "hangul_font", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.setup_fonts()
        fig = Figure()
        fig.subplots().set_title("충전기 현황")  # Hangul in a title, as a user might add
        render(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_share_chart_shows_context_names_the_change_and_keeps_legends_off_the_data(
        df: pd.DataFrame) -> None:
    facts = facts_for(df, "에버온")["trend"]
    fig = charts.focus_vs_market_chart(facts)
    render(fig)
    ax, ax_share = fig.axes
    share = np.asarray(ax_share.get_lines()[0].get_ydata(), float)
    low, high = ax_share.get_ylim()
    assert low == 0 and high == pytest.approx(share.max() * 1.25)
    first = str(facts.tables["focus"]["month"].iloc[0])
    [note] = ax_share.texts
    assert note.get_text() == f"{share[-1] - share[0]:+.2f} pp since {first}"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    [legend] = fig.legends
    box = legend.get_window_extent(renderer)
    assert [t.get_text() for t in legend.get_texts()] == [
        line.get_label() for axes in (ax, ax_share) for line in axes.get_lines()
        if not line.get_label().startswith("_")]
    for axes in (ax, ax_share):
        assert not box.overlaps(axes.get_window_extent(renderer))  # off the plots, not on them


def _all_charts(df: pd.DataFrame) -> dict[str, object]:
    facts, other = facts_for(df), facts_for(df, "에버온")
    return {"top": charts.top_operators_chart(facts["cpo"]),
            "mix": charts.charger_mix_chart(facts["cpo"]),
            "trend": charts.national_trend_chart(facts["trend"]),
            "focus": charts.focus_vs_market_chart(other["trend"])}


@pytest.mark.slow
def test_every_text_is_readable_on_a_400_px_screen(df: pd.DataFrame) -> None:
    for name, fig in _all_charts(df).items():
        px, text = smallest_text_px(fig, screen_px=400)
        assert px >= 10, (name, text, px)


def test_month_axes_label_a_few_months_the_last_one_included(df: pd.DataFrame) -> None:
    figs = _all_charts(df)
    for name, ax in (("trend", figs["trend"].axes[1]), ("focus", figs["focus"].axes[1])):
        shown = [t.get_text() for t in ax.get_xticklabels()]
        assert 2 <= len(shown) <= 6, (name, shown)
        assert shown[-1] == MONTHS[-1] and shown == sorted(shown), name


@pytest.mark.parametrize("width_in", [4.0, 6.4, 10.0])
def test_readable_raises_small_text_and_keeps_larger(width_in: float) -> None:
    fig, axes = charts.new_figure(width_in, 3)
    ax = axes[0, 0]
    ax.plot([1, 2, 3], [1, 4, 9])
    small = ax.set_xlabel("x", fontsize=6)
    big = ax.set_title("title", fontsize=40)
    charts.readable(fig)
    least = 10 * 72 * width_in / 400  # points that are 10 px tall at 400 px wide
    assert least <= small.get_fontsize() < least + 0.5
    assert big.get_fontsize() == 40
    assert all(t.get_fontsize() >= least for t in ax.get_xticklabels())
