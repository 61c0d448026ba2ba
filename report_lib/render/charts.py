"""Figures for the reports notebook, drawn from the computed ``Facts`` (no numbers made here).

Every builder returns a ``matplotlib.figure.Figure`` (not pyplot state), so notebooks show it with
``display(fig)`` and tests can count its bars and lines. Korean operator names need a font with
Hangul glyphs; when none is installed they are romanized so the labels stay readable.

A shared page shows a chart at most as wide as the screen: on a 400 px phone a chart
``CHART_WIDTH_IN`` wide is scaled to 400 / (100 × 6.4). ``readable(fig)`` sets every text of a
chart (tick labels, legends, bar labels) to at least the size that is ``READABLE_PX`` tall there;
charts are drawn ``CHART_WIDTH_IN`` wide with panels stacked, and month axes label a few months.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import re
import textwrap
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from report_lib.errors import DataError
from report_lib.reports.facts import Facts

# Fonts with Hangul glyphs, most common first (Debian: fonts-noto-cjk, fonts-nanum).
HANGUL_FONTS: tuple[str, ...] = (
    "Noto Sans CJK KR", "Noto Sans KR", "Noto Sans CJK JP", "Noto Sans CJK SC",
    "Source Han Sans KR", "NanumGothic", "NanumBarunGothic", "Malgun Gothic",
    "AppleGothic", "Apple SD Gothic Neo", "UnDotum", "Baekmuk Gulim",
)
SLOW_COLOR, FAST_COLOR = "#4C78A8", "#F58518"
CHART_WIDTH_IN = 6.4  # 640 px at 100 dpi: the width every chart is drawn at
NARROW_SCREEN_PX = 400  # a phone: the page shows the chart this wide
READABLE_PX = 10.0  # the least height of any text of a chart there
MOST_MONTH_LABELS = 6  # a month axis labels at most this many months
FOCUS_COLOR, OTHER_COLOR, MARKET_COLOR = "#E45756", "#9DB4CF", "#54A24B"

_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch",
             "k", "t", "p", "h")
_MEDIALS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u",
            "wo", "we", "wi", "yu", "eu", "ui", "i")
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "p", "l", "l", "p", "l", "m",
           "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")


_HANGUL_FILES = re.compile(r"notosanscjk|notosanskr|nanum|sourcehansans|malgun|applegothic|"
                           r"undotum|baekmuk", re.IGNORECASE)


@lru_cache(maxsize=1)
def _bundled_fonts() -> list[Path]:
    """NanumGothic shipped by the ``koreanize-matplotlib`` wheel (a project dependency).

    Found without importing that package (its import needs ``distutils``, gone in Python 3.12).
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    return sorted(fonts.glob("NanumGothic*.ttf"))


def hangul_font() -> str | None:
    """Name of an installed font with Hangul glyphs, or None.

    Looks in matplotlib's font list, then in the system font folders (a font installed after
    matplotlib built its cache, e.g. ``apt-get install fonts-noto-cjk``, is added on the fly).
    """
    manager = font_manager.fontManager

    def known() -> str | None:
        installed = {f.name for f in manager.ttflist}
        return next((name for name in HANGUL_FONTS if name in installed), None)

    found = known()
    if found is None:
        for path in _bundled_fonts():
            with contextlib.suppress(Exception):
                manager.addfont(str(path))
        found = known()
    if found is None:
        for font_file in font_manager.findSystemFonts():
            if _HANGUL_FILES.search(Path(font_file).name):
                with contextlib.suppress(Exception):  # unreadable font files are skipped
                    manager.addfont(font_file)
        found = known()
    return found


def setup_fonts() -> str | None:
    """Use a Hangul font when one is installed; otherwise silence missing-glyph warnings."""
    font = hangul_font()
    if font is not None:
        families = list(mpl.rcParams["font.sans-serif"])
        if font not in families:
            mpl.rcParams["font.sans-serif"] = [font, *families]
        mpl.rcParams["font.family"] = "sans-serif"
        mpl.rcParams["axes.unicode_minus"] = False
    else:
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
    return font


def romanize(text: str) -> str:
    """Revised Romanization of Hangul syllables (no sound-change rules): GS차지비 → GS Chajibi."""
    runs: list[list] = []  # [is_hangul, text]
    for ch in text:
        code = ord(ch) - 0xAC00
        hangul = 0 <= code < 11172
        piece = (_INITIALS[code // 588] + _MEDIALS[(code % 588) // 28] + _FINALS[code % 28]
                 if hangul else ch)
        if runs and runs[-1][0] == hangul:
            runs[-1][1] += piece
        else:
            runs.append([hangul, piece])
    out = ""
    for hangul, piece in runs:
        if hangul:
            piece = piece[:1].upper() + piece[1:]
        if out[-1:].isalnum() and piece[:1].isalnum():
            out += " "
        out += piece
    return out


def label(name: str) -> str:
    """The operator name as drawn: as is with a Hangul font, romanized without one."""
    return name if hangul_font() is not None else romanize(name)


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1,
               **kw: Any) -> tuple[Figure, np.ndarray]:
    """A constrained-layout Figure (fonts set up, not attached to pyplot) and its axes grid."""
    setup_fonts()
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kw)


def readable_pt(width_in: float) -> float:
    """The least font size (points, to half a point) whose text is ``READABLE_PX`` tall when a
    chart ``width_in`` inches wide is shown ``NARROW_SCREEN_PX`` wide."""
    return math.ceil(READABLE_PX * 72 * width_in / NARROW_SCREEN_PX * 2) / 2


def readable(fig: Figure) -> Figure:
    """``fig`` with every text at least ``readable_pt`` of its width (tick labels drawn later
    too); larger texts (titles) keep their size. Returns ``fig``."""
    size = readable_pt(fig.get_figwidth())
    for ax in fig.axes:
        ax.tick_params(which="both", labelsize=size)
    for text in fig.findobj(mpl.text.Text):
        if float(text.get_fontsize()) < size:
            text.set_fontsize(size)
    return fig


def wrap(text: str, width: int = 48) -> str:
    """A title or label in lines of at most ``width`` characters (a narrow chart's width)."""
    return "\n".join(textwrap.wrap(text, width)) or text


def month_ticks(ax: Any, months: list[str], most: int = MOST_MONTH_LABELS) -> None:
    """Label every k-th month of a month axis (the last one always) so at most ``most`` show."""
    step = max(1, math.ceil(len(months) / most))
    shown = list(range(len(months) - 1, -1, -step))[::-1]
    ax.set_xticks(shown, [months[i] for i in shown])


def _figure(width: float, height: float, rows: int = 1) -> tuple[Figure, list]:
    fig, axes = new_figure(width, height, nrows=rows, sharex=rows > 1)
    return fig, list(axes[:, 0])


def _table(facts: Facts, name: str) -> pd.DataFrame:
    table = facts.tables.get(name)
    if table is None:
        raise DataError(
            f"the {facts.kind} facts have no '{name}' table; pass metrics.compute_facts(df, "
            f"'{'trend' if name in ('national', 'focus') else 'cpo'}', ...)",
            column=name,
        )
    return table


def _focus_outside(facts: Facts, shown: pd.DataFrame) -> pd.Series | None:
    """The focus operator's row (from the peers table) when it is not among ``shown``."""
    if not facts.focus_cpo or (shown["cpo"] == facts.focus_cpo).any():
        return None
    peers = facts.tables.get("peers")
    if peers is None:
        return None
    mine = peers[peers["cpo"] == facts.focus_cpo]
    return mine.iloc[0] if len(mine) else None


def top_operators_chart(facts: Facts, n: int = 15) -> Figure:
    """Horizontal bars of total chargers for the top-``n`` operators (``cpo`` facts).

    The focus operator is highlighted, and appended below the others when outside the top.
    """
    top = _table(facts, "top15").head(n)
    rows = [(f"{int(r['rank'])}. {label(str(r['cpo']))}", r["total_chargers"], r["share"],
             r["cpo"] == facts.focus_cpo) for _, r in top.iterrows()]
    extra = _focus_outside(facts, top)
    if extra is not None:
        rows.append((f"{int(extra['rank'])}. {label(str(extra['cpo']))}",
                     extra["total_chargers"], extra["share"], True))
    fig, (ax,) = _figure(CHART_WIDTH_IN, 0.4 * len(rows) + 1.4)
    labels = [r[0] for r in rows][::-1]
    values = [float(r[1]) for r in rows][::-1]
    colors = [FOCUS_COLOR if r[3] else OTHER_COLOR for r in rows][::-1]
    bars = ax.barh(labels, values, color=colors)
    ax.bar_label(bars, labels=[f"{float(r[2]):.1f}%" for r in rows][::-1], padding=3)
    ax.set_xlabel("total chargers")
    ax.set_title(wrap(f"Top {len(top)} operators by chargers, {facts.target_month}"))
    ax.margins(x=0.2)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
    ax.xaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
    return readable(fig)


def charger_mix_chart(facts: Facts, n: int = 10) -> Figure:
    """Slow (AC) vs fast (DC) share of chargers for the top-``n`` operators and the nation."""
    top = _table(facts, "top15").head(n)
    names = [label(str(c)) for c in top["cpo"]]
    fast = [float(v) for v in top["dc_pct"]]
    extra = _focus_outside(facts, top)
    if extra is not None:
        names.append(label(str(extra["cpo"])))
        fast.append(float(extra["fast_pct"]))
    market_fast = facts.values.get("market", {}).get("fast_pct")
    if market_fast is not None:
        names.append("National")
        fast.append(float(market_fast))
    names, fast = names[::-1], fast[::-1]
    slow = [100.0 - f for f in fast]
    fig, (ax,) = _figure(CHART_WIDTH_IN, 0.4 * len(names) + 1.8)
    ax.barh(names, slow, color=SLOW_COLOR, label="slow (AC)")
    bars = ax.barh(names, fast, left=slow, color=FAST_COLOR, label="fast (DC)")
    ax.bar_label(bars, labels=[f"{f:.1f}%" for f in fast], padding=3)
    for tick in ax.get_yticklabels():
        if tick.get_text() == "National" or (
            facts.focus_cpo and tick.get_text() == label(facts.focus_cpo)
        ):
            tick.set_fontweight("bold")
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("% of the operator's chargers")
    ax.set_title(wrap(f"Slow/fast charger mix, {facts.target_month}"))
    fig.legend(loc="outside lower center", ncols=2)
    return readable(fig)


def national_trend_chart(facts: Facts) -> Figure:
    """National chargers per month (stacked slow/fast, fast share on the right axis) and the
    month-over-month growth of the total (``trend`` facts)."""
    nat = _table(facts, "national")
    months = [str(m) for m in nat["month"]]
    slow = nat["slow_chargers"].astype(float).to_numpy()
    fig, (ax, ax_growth) = _figure(CHART_WIDTH_IN, 7.0, rows=2)
    ax.bar(months, slow, color=SLOW_COLOR, label="slow (AC)")
    ax.bar(months, nat["fast_chargers"].astype(float), bottom=slow, color=FAST_COLOR,
           label="fast (DC)")
    ax.set_ylabel("chargers")
    ax.set_ylim(0, float(nat["total_chargers"].max()) * 1.35)  # room for the legend
    ax.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_title(wrap(f"National chargers, last {len(months)} months to {facts.target_month}"))
    ax_share = ax.twinx()
    fast_pct = pd.to_numeric(nat["fast_pct"], errors="coerce").astype(float)
    ax_share.plot(months, fast_pct, marker="o", color="#333333", label="fast share % (right)")
    ax_share.set_ylabel("fast share %")
    ax_share.set_ylim(0, max(20.0, float(fast_pct.max(skipna=True) or 0) * 1.35))
    handles = ax.get_legend_handles_labels()
    more = ax_share.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", ncols=2)
    growth = pd.to_numeric(nat["total_change_pct"], errors="coerce").astype(float)
    bars = ax_growth.bar(months, growth.fillna(0), color="#72B7B2")
    ax_growth.bar_label(bars, labels=["" if pd.isna(g) else f"{g:+.2f}%" for g in growth],
                        padding=2, rotation=90)
    ax_growth.axhline(0, color="#999999", linewidth=0.8)
    ax_growth.set_ylabel("total, MoM %")
    ax_growth.margins(y=0.45)
    month_ticks(ax_growth, months)
    ax_growth.tick_params(axis="x", labelrotation=45)
    return readable(fig)


def focus_vs_market_chart(facts: Facts) -> Figure:
    """The focus operator against the market: indexed growth (first month = 100) and its share."""
    if not facts.focus_cpo or "focus" not in facts.tables:
        raise DataError(
            "the trend facts have no focus operator; compute them with focus_cpo=NAME",
            column="cpo",
        )
    nat = _table(facts, "national").set_index("month")
    own = facts.tables["focus"].set_index("month")
    own_total = pd.to_numeric(own["total_chargers"], errors="coerce").astype(float)
    present = own_total.dropna()
    if present.empty:
        raise DataError(f"'{facts.focus_cpo}' has no chargers in the window", column="cpo")
    since = present.index[0]
    market = nat["total_chargers"].astype(float)
    months = [str(m) for m in own.index]
    name = label(facts.focus_cpo)
    fig, (ax, ax_share) = _figure(CHART_WIDTH_IN, 7.5, rows=2)
    ax.plot(months, own_total / present.iloc[0] * 100, marker="o", color=FOCUS_COLOR, label=name)
    ax.plot(months, market.reindex(own.index) / market.loc[since] * 100, marker="o",
            color=MARKET_COLOR, label="market (all operators)")
    ax.axhline(100, color="#999999", linewidth=0.8)
    ax.set_ylabel(f"chargers, {since} = 100")
    ax.set_title(wrap(f"{name} against the market, to {facts.target_month}"))
    share = pd.to_numeric(own["share"], errors="coerce").astype(float)
    ax_share.plot(months, share, marker="o", color=FOCUS_COLOR, label=f"{name} share %")
    ax_share.set_ylabel("% of national chargers")
    # From 0, so a drift of a few tenths of a point looks as small as it is; the change is named.
    ax_share.set_ylim(0, max(float(share.max()) * 1.25, 1.0))
    known = share.dropna()
    ax_share.annotate(f"{known.iloc[-1] - known.iloc[0]:+.2f} pp since {known.index[0]}",
                      xy=(months.index(str(known.index[-1])), known.iloc[-1]), xytext=(0, 8),
                      textcoords="offset points", ha="right")
    ax_share.yaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:.1f}"))
    handles, labels = (a + b for a, b in zip(ax.get_legend_handles_labels(),
                                             ax_share.get_legend_handles_labels(), strict=True))
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)  # off the data
    month_ticks(ax_share, months)
    ax_share.tick_params(axis="x", labelrotation=45)
    return readable(fig)


def national_summary_table(facts: Facts) -> pd.DataFrame:
    """Target-month national totals with their month-over-month change (``kpi`` facts)."""
    national = facts.values.get("national") or {}
    mom = facts.values.get("national_mom") or {}
    rows = []
    for key in ("operators", "stations", "slow_chargers", "fast_chargers", "total_chargers"):
        change = mom.get(key) or {}
        rows.append({"measure": key, facts.target_month: national.get(key),
                     "MoM change": change.get("abs"), "MoM %": change.get("pct")})
    return pd.DataFrame(rows).set_index("measure")
