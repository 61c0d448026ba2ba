"""The month's headline figures on the index, from the kpi facts of the tiny table."""

from __future__ import annotations

from report_lib.reports.facts import compute_all_facts
from report_lib.reports.headline import headline_figures
from tests.helpers import make_tiny_frame


def test_headline_figures_are_the_kpi_facts_of_the_month() -> None:
    facts = compute_all_facts(make_tiny_frame(), month="2025-11", focus_cpo="GS차지비", window=2)
    # by hand (tests/helpers._TINY_ROWS): 200 chargers in 2025-11, 100 in 2025-10; 42 fast;
    # top 3 = 에버온 70 + GS차지비 60 + 파워큐브 50 = 180 of 200; GS차지비 2nd with 60 of 200
    assert headline_figures(facts["kpi"]) == [
        ("chargers, 2025-11", "200 (+100, +100.00 %)"),
        ("fast chargers", "21.00 %"),
        ("top 3 operators' share", "90.00 %"),
        ("operators", "4"),
        ("GS차지비", "#2, 30.00 %"),
    ]


def test_a_first_month_has_no_change_and_no_focus_without_one() -> None:
    facts = compute_all_facts(make_tiny_frame(), month="2025-10", focus_cpo=None, window=1)
    figures = dict(headline_figures(facts["kpi"]))
    assert figures["chargers, 2025-10"] == "100"  # no previous month: no change shown
    assert figures["top 3 operators' share"] == "95.00 %"  # 50 + 30 + 15 of 100
    assert "GS차지비" not in figures and len(figures) == 4
