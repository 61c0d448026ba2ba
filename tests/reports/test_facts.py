"""Facts checked against values computed by hand on a tiny canonical table."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from report_lib.errors import DataError
from report_lib.reports.facts import (
    Facts,
    compute_all_facts,
    compute_facts,
    resolve_cpo,
    resolve_month,
)

COLUMNS = ["month", "cpo", "rank", "stations", "slow_chargers", "fast_chargers",
           "total_chargers", "market_share", "rank_change", "stations_change", "slow_change",
           "fast_change", "total_change"]

# (month, cpo, rank, stations, fast, total); slow = total - fast.
# 2025-09: 625 chargers, 4 operators (SK일렉링크 enters in 2025-10).
# 2025-10: 800 chargers; 2025-11: 1,000 chargers with shares 40/30/15/10/5 %.
TINY = [
    ("2025-09", "환경부", 1, 50, 25, 250),
    ("2025-09", "GS차지비", 2, 45, 45, 225),
    ("2025-09", "에버온", 3, 20, 10, 100),
    ("2025-09", "파워큐브", 4, 10, 5, 50),
    ("2025-10", "환경부", 1, 64, 40, 320),
    ("2025-10", "GS차지비", 2, 70, 50, 280),
    ("2025-10", "에버온", 3, 24, 12, 120),
    ("2025-10", "파워큐브", 4, 10, 5, 50),
    ("2025-10", "SK일렉링크", 5, 6, 5, 30),
    ("2025-11", "GS차지비", 1, 100, 40, 400),
    ("2025-11", "환경부", 2, 50, 60, 300),
    ("2025-11", "에버온", 3, 30, 15, 150),
    ("2025-11", "파워큐브", 4, 25, 10, 100),
    ("2025-11", "SK일렉링크", 5, 10, 25, 50),
]


def canonical(rows: list[tuple[str, str, int, int, int, int]]) -> pd.DataFrame:
    """Canonical table (docs/ARCHITECTURE.md) from (month, cpo, rank, stations, fast, total)."""
    df = pd.DataFrame(rows, columns=["month", "cpo", "rank", "stations", "fast_chargers",
                                     "total_chargers"])
    df["slow_chargers"] = df["total_chargers"] - df["fast_chargers"]
    df["rank"] = df["rank"].astype("Int64")
    df["market_share"] = df["total_chargers"] / df.groupby("month")["total_chargers"].transform(
        "sum") * 100
    for col in ["rank_change", "stations_change", "slow_change", "fast_change", "total_change"]:
        df[col] = pd.array([pd.NA] * len(df), dtype="Int64")
    return df[COLUMNS].sort_values(["month", "rank"], ignore_index=True)


@pytest.fixture
def tiny() -> pd.DataFrame:
    return canonical(TINY)


def table_row(facts: Facts, table: str, cpo: str) -> dict[str, object]:
    frame = facts.tables[table]
    return frame[frame["cpo"] == cpo].iloc[0].to_dict()


# ---------------------------------------------------------------- resolve_month / resolve_cpo
# what a user types -> what the tiny table resolves it to
MONTHS_AS_GIVEN = [("latest", "2025-11"), ("2025-10", "2025-10"), ("202510", "2025-10"),
                   (" 2025-09 ", "2025-09")]
CPOS_AS_GIVEN = [(None, None), ("GS차지비", "GS차지비"), ("  GS차지비 ", "GS차지비"),
                 ("gs차지비", "GS차지비"), ("sk 일렉 링크", "SK일렉링크")]


def test_resolve_month_defaults_to_the_latest(tiny: pd.DataFrame) -> None:
    assert resolve_month(tiny) == resolve_month(tiny, "latest") == max(tiny["month"])


@pytest.mark.parametrize(("given", "month"), MONTHS_AS_GIVEN)
def test_resolve_month_latest_and_explicit(tiny: pd.DataFrame, given: str, month: str) -> None:
    assert resolve_month(tiny, given) == month


# an unknown month or operator: the error names it, its column, and what there is instead
UNKNOWN_GIVEN: list[tuple[Callable[[pd.DataFrame, str], str | None], str, str, list[str]]] = [
    (resolve_month, "2024-01", "month", ["2024-01", "2025-09", "2025-10", "2025-11"]),
    (resolve_cpo, "GS차지", "cpo", ["unknown focus operator 'GS차지'", "did you mean", "GS차지비"]),
]


@pytest.mark.parametrize(("resolve", "given", "column", "parts"), UNKNOWN_GIVEN)
def test_an_unknown_month_or_operator_names_the_choices(
    tiny: pd.DataFrame, resolve: Callable[[pd.DataFrame, str], str | None], given: str,
    column: str, parts: list[str],
) -> None:
    with pytest.raises(DataError) as info:
        resolve(tiny, given)
    assert (info.value.column, info.value.value) == (column, given)
    for part in parts:
        assert part in str(info.value)


def test_resolve_month_many_months_gives_range_and_count() -> None:
    rows = [(str(p), "GS차지비", 1, 10, 1, 20) for p in pd.period_range("2024-01", periods=20,
                                                                       freq="M")]
    with pytest.raises(DataError, match=r"2024-01\.\.2025-08 \(20 months\)"):
        resolve_month(canonical(rows), "2023-05")


def test_resolve_month_rejects_bad_format(tiny: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="YYYY-MM"):
        resolve_month(tiny, "November")


@pytest.mark.parametrize(("given", "cpo"), CPOS_AS_GIVEN)
def test_resolve_cpo_exact_and_insensitive(tiny: pd.DataFrame, given: str | None,
                                           cpo: str | None) -> None:
    assert resolve_cpo(tiny, given) == cpo


def test_resolve_cpo_without_close_names_lists_examples(tiny: pd.DataFrame) -> None:
    with pytest.raises(DataError) as info:
        resolve_cpo(tiny, "Tesla Supercharger Network")
    assert "did you mean" not in str(info.value)
    assert "5 operators" in str(info.value)


def test_resolve_cpo_ambiguous_insensitive_match() -> None:
    df = canonical([("2025-11", "Ever On", 1, 5, 1, 10), ("2025-11", "EverOn", 2, 4, 1, 8)])
    with pytest.raises(DataError, match="several operators"):
        resolve_cpo(df, "everon")


# ---------------------------------------------------------------- kpi
def test_kpi_national_totals_and_ratios(tiny: pd.DataFrame) -> None:
    v = compute_facts(tiny, "kpi").values
    assert v["previous_month"] == "2025-10"
    assert v["national"] == {
        "operators": 5, "stations": 100 + 50 + 30 + 25 + 10, "slow_chargers": 1000 - 150,
        "fast_chargers": 40 + 60 + 15 + 10 + 25, "total_chargers": 1000,
        "slow_ratio_pct": 85.0, "fast_ratio_pct": 15.0,
    }


def test_kpi_month_over_month(tiny: pd.DataFrame) -> None:
    mom = compute_facts(tiny, "kpi").values["national_mom"]
    assert mom["operators"] == {"abs": 0, "pct": 0.0}
    assert mom["total_chargers"] == {"abs": 200, "pct": 25.0}  # 800 → 1,000
    assert mom["stations"] == {"abs": 215 - 174, "pct": round(41 / 174 * 100, 2)}
    assert mom["fast_chargers"] == {"abs": 150 - 112, "pct": round(38 / 112 * 100, 2)}
    assert mom["slow_chargers"] == {"abs": 850 - 688, "pct": round(162 / 688 * 100, 2)}
    assert isinstance(mom["total_chargers"]["abs"], int)
    # fast ratio 112/800 = 14 % → 15 %
    assert compute_facts(tiny, "kpi").values["fast_ratio_change_pp"] == 1.0


def test_kpi_without_previous_month_has_no_changes(tiny: pd.DataFrame) -> None:
    v = compute_facts(tiny, "kpi", month="2025-09", focus_cpo="GS차지비").values
    assert v["previous_month"] is None
    assert v["national_mom"] is None
    assert v["fast_ratio_change_pp"] is None
    assert v["concentration"]["hhi_prev"] is None
    assert v["focus"]["share_change_pp"] is None and v["focus"]["total_change"] is None


def test_kpi_concentration_and_hhi(tiny: pd.DataFrame) -> None:
    c = compute_facts(tiny, "kpi").values["concentration"]
    assert c["top3_share"] == 40 + 30 + 15
    assert c["top5_share"] == 100.0
    assert c["top10_share"] == 100.0
    assert c["hhi"] == 40**2 + 30**2 + 15**2 + 10**2 + 5**2  # 2,850
    prev = 40**2 + 35**2 + 15**2 + 6.25**2 + 3.75**2  # 2025-10 shares of 800
    assert c["hhi_prev"] == round(prev, 1)
    assert c["hhi_change"] == round(2850 - round(prev, 1), 1)  # between the values shown
    assert c["hhi_level"] == "highly concentrated"


@pytest.mark.parametrize(
    ("totals", "level"),
    [([10] * 10, "unconcentrated"),  # 10 × 10² = 1,000
     ([20] * 5, "moderately concentrated"),  # 5 × 20² = 2,000
     ([50, 50], "highly concentrated")],  # 2 × 50² = 5,000
)
def test_hhi_levels(totals: list[int], level: str) -> None:
    rows = [("2025-11", f"op{i:02d}", i + 1, 1, 0, t) for i, t in enumerate(totals)]
    assert compute_facts(canonical(rows), "kpi").values["concentration"]["hhi_level"] == level


def test_kpi_top10_table(tiny: pd.DataFrame) -> None:
    top = compute_facts(tiny, "kpi").tables["top10"]
    assert list(top.columns) == ["rank", "cpo", "total_chargers", "fast_chargers", "stations",
                                 "share"]
    assert top["cpo"].tolist() == ["GS차지비", "환경부", "에버온", "파워큐브", "SK일렉링크"]
    assert top["share"].tolist() == [40.0, 30.0, 15.0, 10.0, 5.0]
    assert top.iloc[1].to_dict() == {"rank": 2, "cpo": "환경부", "total_chargers": 300,
                                     "fast_chargers": 60, "stations": 50, "share": 30.0}


def test_kpi_focus_operator(tiny: pd.DataFrame) -> None:
    focus = compute_facts(tiny, "kpi", focus_cpo="gs차지비").values["focus"]
    assert focus == {
        "cpo": "GS차지비", "rank": 1, "rank_prev": 2, "rank_change": 1,
        "total_chargers": 400, "slow_chargers": 360, "fast_chargers": 40, "stations": 100,
        "share": 40.0, "share_prev": 35.0, "share_change_pp": 5.0,
        "total_change": 120, "total_change_pct": round(120 / 280 * 100, 2),
    }


def test_without_focus_the_values_say_so(tiny: pd.DataFrame) -> None:
    for kind in ("kpi", "cpo", "trend"):
        facts = compute_facts(tiny, kind)
        assert facts.focus_cpo is None
        assert facts.values["focus"] is None
        assert "no focus operator" in facts.values["focus_note"]
    assert "peers" not in compute_facts(tiny, "cpo").tables
    assert "focus" not in compute_facts(tiny, "trend").tables


def test_focus_missing_in_target_month_names_its_months(tiny: pd.DataFrame) -> None:
    with pytest.raises(DataError) as info:
        compute_facts(tiny, "kpi", month="2025-09", focus_cpo="SK일렉링크")
    message = str(info.value)
    assert "SK일렉링크" in message and "2025-09" in message
    assert "2025-10" in message and "2025-11" in message


# ---------------------------------------------------------------- cpo
def test_cpo_leaderboard(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "cpo")
    board = facts.tables["top15"]
    assert len(board) == 5
    assert list(board.columns) == ["rank", "cpo", "total_chargers", "stations",
                                   "chargers_per_station", "ac_pct", "dc_pct", "share",
                                   "rank_change"]
    assert board["chargers_per_station"].tolist() == [400 / 100, 300 / 50, 150 / 30, 100 / 25,
                                                      50 / 10]
    assert board["ac_pct"].tolist() == [90.0, 80.0, 90.0, 90.0, 50.0]
    assert board["dc_pct"].tolist() == [10.0, 20.0, 10.0, 10.0, 50.0]
    # GS차지비 2 → 1 (+1), 환경부 1 → 2 (-1), others unchanged
    assert board["rank_change"].tolist() == [1, -1, 0, 0, 0]
    assert facts.values["movers"] == {
        "up": {"cpo": "GS차지비", "rank": 1, "rank_change": 1},
        "down": {"cpo": "환경부", "rank": 2, "rank_change": -1},
    }


def test_cpo_market_and_no_long_tail_in_tiny(tiny: pd.DataFrame) -> None:
    v = compute_facts(tiny, "cpo").values
    assert v["market"] == {"operators": 5, "total_chargers": 1000, "stations": 215,
                           "chargers_per_station": round(1000 / 215, 2), "fast_pct": 15.0,
                           "top15_share": 100.0}
    assert v["long_tail"] == {"operators": 0, "chargers": 0, "share": 0.0}
    assert v["small_operators"]["operators"] == 0


def test_cpo_long_tail_with_twenty_operators() -> None:
    # totals 200, 190, …, 10 → 2,100 chargers; the top 15 end at 60
    rows = [("2025-11", f"op{i:02d}", i, 10, 1, (21 - i) * 10) for i in range(1, 21)]
    v = compute_facts(canonical(rows), "cpo").values
    assert v["long_tail"] == {"operators": 5, "chargers": 50 + 40 + 30 + 20 + 10,
                              "share": round(150 / 2100 * 100, 2)}
    # under 1 % of 2,100 means fewer than 21 chargers: op19 (20) and op20 (10)
    assert v["small_operators"] == {"threshold_pct": 1.0, "operators": 2, "chargers": 30,
                                    "share": round(30 / 2100 * 100, 2)}
    assert v["market"]["top15_share"] == round(1950 / 2100 * 100, 2)


def test_cpo_focus_against_nearest_competitors(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "cpo", focus_cpo="에버온")
    peers = facts.tables["peers"]
    assert peers["cpo"].tolist() == ["GS차지비", "환경부", "에버온", "파워큐브", "SK일렉링크"]
    assert peers["is_focus"].tolist() == [False, False, True, False, False]
    focus = facts.values["focus"]
    assert focus["rank"] == 3 and focus["share"] == 15.0
    assert focus["chargers_per_station"] == 5.0 and focus["fast_pct"] == 10.0
    assert focus["peers"] == 4
    assert focus["peer_median_chargers_per_station"] == 4.5  # median of 4, 6, 4, 5
    assert focus["peer_median_stations"] == 37.5  # median of 100, 50, 25, 10
    assert focus["peer_median_fast_pct"] == 15.0  # median of 10, 20, 10, 50


def test_cpo_peers_at_the_edges(tiny: pd.DataFrame) -> None:
    top = compute_facts(tiny, "cpo", focus_cpo="GS차지비").tables["peers"]
    assert top["cpo"].tolist() == ["GS차지비", "환경부", "에버온"]
    bottom = compute_facts(tiny, "cpo", focus_cpo="SK일렉링크").tables["peers"]
    assert bottom["cpo"].tolist() == ["에버온", "파워큐브", "SK일렉링크"]


def test_rank_change_falls_back_to_reported_column_for_a_single_month() -> None:
    df = canonical([("2025-11", "A", 1, 1, 0, 30), ("2025-11", "B", 2, 1, 0, 20)])
    df["rank_change"] = pd.array([2, -1], dtype="Int64")
    assert compute_facts(df, "cpo").tables["top15"]["rank_change"].tolist() == [2, -1]


def test_missing_ranks_are_computed_from_chargers(tiny: pd.DataFrame) -> None:
    shuffled = tiny.sample(frac=1, random_state=1).reset_index(drop=True)
    shuffled["rank"] = pd.array([pd.NA] * len(shuffled), dtype="Int64")
    board = compute_facts(shuffled, "cpo").tables["top15"]
    assert board["cpo"].tolist() == ["GS차지비", "환경부", "에버온", "파워큐브", "SK일렉링크"]
    assert board["rank"].tolist() == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- trend
def test_trend_national_series(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "trend")
    assert facts.window_months == 3
    assert facts.values["months"] == {"first": "2025-09", "last": "2025-11", "count": 3,
                                      "requested": 12}
    nat = facts.tables["national"]
    assert nat["month"].tolist() == ["2025-09", "2025-10", "2025-11"]
    assert nat["total_chargers"].tolist() == [625, 800, 1000]
    assert nat["stations"].tolist() == [125, 174, 215]
    assert nat["total_change"].isna().tolist() == [True, False, False]
    assert nat["total_change"].iloc[1:].tolist() == [175, 200]
    assert nat["total_change_pct"].iloc[1:].tolist() == [28.0, 25.0]
    assert nat["fast_pct"].tolist() == [round(85 / 625 * 100, 2), 14.0, 15.0]
    assert nat["slow_pct"].tolist() == [round(540 / 625 * 100, 2), 86.0, 85.0]


def test_trend_market_growth(tiny: pd.DataFrame) -> None:
    m = compute_facts(tiny, "trend").values["market"]
    assert m["total_first"] == 625 and m["total_last"] == 1000
    assert m["growth_abs"] == 375 and m["growth_pct"] == 60.0
    assert m["avg_monthly_change"] == 187.5
    assert m["stations_growth_pct"] == 72.0  # 125 → 215
    assert m["fast_growth_pct"] == round(65 / 85 * 100, 2)
    assert m["slow_growth_pct"] == round(310 / 540 * 100, 2)
    assert m["fast_pct_change_pp"] == 1.4  # 13.6 % → 15 %


def test_trend_window_slicing(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "trend", window=2)
    assert facts.window_months == 2
    nat = facts.tables["national"]
    assert nat["month"].tolist() == ["2025-10", "2025-11"]
    # the first month's change still compares with 2025-09, which is outside the window
    assert nat["total_change"].tolist() == [175, 200]
    assert facts.values["market"]["growth_abs"] == 200
    assert facts.values["market"]["growth_pct"] == 25.0
    one = compute_facts(tiny, "trend", month="2025-10", window=1)
    assert one.window_months == 1
    assert one.values["market"]["growth_pct"] is None


def test_trend_top5_share_per_month() -> None:
    rows = [*TINY, *[(m, "차지인", 6, 2, 1, 20) for m in ("2025-09", "2025-10", "2025-11")]]
    nat = compute_facts(canonical(rows), "trend").tables["national"]
    # 2025-09 has 5 operators (all in the top 5); later the 6th holds 20 chargers
    assert nat["top5_share"].tolist() == [100.0, round(800 / 820 * 100, 2),
                                          round(1000 / 1020 * 100, 2)]


def test_trend_focus_growth_against_market(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "trend", focus_cpo="GS차지비")
    f = facts.values["focus"]
    assert f["since"] == "2025-09" and f["months_present"] == 3
    assert (f["total_first"], f["total_last"], f["growth_abs"]) == (225, 400, 175)
    assert f["growth_pct"] == round(175 / 225 * 100, 2)
    assert f["market_growth_pct"] == 60.0
    assert f["vs_market_pp"] == round(round(175 / 225 * 100, 2) - 60, 2)
    assert (f["share_first"], f["share_last"], f["share_change_pp"]) == (36.0, 40.0, 4.0)
    assert (f["rank_first"], f["rank_last"]) == (2, 1)
    # month by month: 2025-10 +24.44 % vs market +28 %; 2025-11 +42.86 % vs +25 %
    assert (f["months_compared"], f["months_beating_market"]) == (2, 1)
    series = facts.tables["focus"]
    assert series["total_chargers"].tolist() == [225, 280, 400]
    assert series["rank"].tolist() == [2, 2, 1]
    assert series["total_change_pct"].iloc[1:].tolist() == [round(55 / 225 * 100, 2),
                                                           round(120 / 280 * 100, 2)]
    assert series["market_change_pct"].iloc[1:].tolist() == [28.0, 25.0]


def test_trend_focus_that_entered_during_the_window(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "trend", focus_cpo="SK일렉링크")
    f = facts.values["focus"]
    assert f["since"] == "2025-10" and f["months_present"] == 2
    assert f["growth_pct"] == round(20 / 30 * 100, 2)
    assert f["market_growth_pct"] == 25.0  # the market over the same months: 800 → 1,000
    series = facts.tables["focus"]
    assert series["total_chargers"].isna().tolist() == [True, False, False]


# ---------------------------------------------------------------- API and JSON
def test_unknown_kind_lists_valid_kinds(tiny: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="kpi, cpo, trend"):
        compute_facts(tiny, "summary")
    with pytest.raises(ValueError, match="kpi, cpo, trend"):
        compute_all_facts(tiny, kinds=("kpi", "nope"))


def test_bad_window_and_missing_columns(tiny: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="window"):
        compute_facts(tiny, "trend", window=0)
    with pytest.raises(DataError, match="total_chargers"):
        compute_facts(tiny.drop(columns=["total_chargers"]), "kpi")


def test_duplicate_operator_rows_are_rejected(tiny: pd.DataFrame) -> None:
    doubled = pd.concat([tiny, tiny.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="appears twice"):
        compute_facts(doubled, "kpi")


def test_compute_all_facts_matches_single_kinds(tiny: pd.DataFrame) -> None:
    facts = compute_all_facts(tiny, month="2025-10", focus_cpo="에버온", window=2)
    assert list(facts) == ["kpi", "cpo", "trend"]
    for kind, f in facts.items():
        assert f.kind == kind and f.target_month == "2025-10" and f.focus_cpo == "에버온"
        assert f == compute_facts(tiny, kind, month="2025-10", focus_cpo="에버온", window=2)


@pytest.mark.parametrize("kind", ["kpi", "cpo", "trend"])
def test_facts_json_round_trip(tiny: pd.DataFrame, kind: str) -> None:
    facts = compute_facts(tiny, kind, focus_cpo="SK일렉링크")
    text = facts.to_json()
    back = Facts.from_json(text)
    assert back == facts
    assert back.to_json() == text
    assert back.values == json.loads(text)["values"]
    for name, table in facts.tables.items():
        assert list(back.tables[name].columns) == list(table.columns)
        assert back.tables[name].shape == table.shape


def test_facts_json_is_compact_and_typed(tiny: pd.DataFrame) -> None:
    facts = compute_facts(tiny, "trend", focus_cpo="SK일렉링크")
    text = facts.to_json()
    assert text.startswith('{"kind":"trend","target_month":"2025-11"')
    assert "SK일렉링크" in text  # ensure_ascii=False
    data = json.loads(text)
    national = data["tables"]["national"]
    assert national["columns"][0] == "month"
    first = national["rows"][0]
    assert first[national["columns"].index("total_chargers")] == 625
    assert isinstance(first[national["columns"].index("total_chargers")], int)
    assert first[national["columns"].index("total_change")] is None  # NA → null
    focus_rows = data["tables"]["focus"]["rows"]
    assert focus_rows[0][1:] == [None] * 7  # not present in 2025-09
    back = Facts.from_json(text)
    assert str(back.tables["national"]["total_change"].dtype) == "Int64"
    assert str(back.tables["national"]["total_chargers"].dtype) == "int64"


def test_facts_json_turns_nan_into_null() -> None:
    facts = Facts("kpi", "2025-11", None, 1, {"x": float("nan"), "n": pd.NA},
                  {"t": pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]})})
    data = json.loads(facts.to_json())
    assert data["values"] == {"x": None, "n": None}
    assert data["tables"]["t"] == {"columns": ["a", "b"], "rows": [[1.5, "x"], [None, None]]}


def test_from_json_rejects_other_documents() -> None:
    with pytest.raises(ValueError):
        Facts.from_json('{"kind": "kpi"}')
    with pytest.raises(ValueError):
        Facts.from_json("[1, 2]")
