"""The month's headline figures, read from the ``kpi`` facts (the numbers the reports state).

Shown at the top of the site's index: chargers nationwide with their monthly change, the fast
chargers' share, the top 3 operators' share, the number of operators, and the focus operator's
rank and share. Each figure is the fact as computed (never re-derived here); a fact that is
missing is left out.
"""

from __future__ import annotations

from typing import Any

from report_lib.reports.facts.model import Facts


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _signed(value: Any, unit: str = "") -> str:
    return f"{float(value):+,.2f}{unit}" if isinstance(value, float) else f"{int(value):+,}{unit}"


def headline_figures(kpi: Facts) -> list[tuple[str, str]]:
    """(label, value) pairs for the month of ``kpi`` (a ``kpi`` Facts record)."""
    values = kpi.values
    national = values.get("national") or {}
    mom = values.get("national_mom") or {}
    out: list[tuple[str, str]] = []
    total = national.get("total_chargers")
    if total is not None:
        change = mom.get("total_chargers") or {}
        text = _count(total)
        if change.get("abs") is not None:
            text += f" ({_signed(change['abs'])}"
            text += f", {_signed(change['pct'], ' %')})" if change.get("pct") is not None else ")"
        out.append((f"chargers, {kpi.target_month}", text))
    if national.get("fast_ratio_pct") is not None:
        out.append(("fast chargers", f"{float(national['fast_ratio_pct']):.2f} %"))
    top3 = (values.get("concentration") or {}).get("top3_share")
    if top3 is not None:
        out.append(("top 3 operators' share", f"{float(top3):.2f} %"))
    if national.get("operators") is not None:
        out.append(("operators", _count(national["operators"])))
    focus = values.get("focus") or {}
    if focus.get("rank") is not None:
        share = f", {float(focus['share']):.2f} %" if focus.get("share") is not None else ""
        out.append((str(focus.get("cpo", kpi.focus_cpo or "focus")),
                    f"#{int(focus['rank'])}{share}"))
    return out
