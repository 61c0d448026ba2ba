"""synthesize / write_workbook / write_sample_data: shape, the 2025-11 facts of docs/DATA.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from report_lib.data.loader import COLUMNS, load_data
from report_lib.data.sample import synthesize, write_sample_data, write_workbook
from report_lib.errors import DataError

NAMED = {
    "GS차지비", "환경부", "한국전력공사", "에버온", "파워큐브",
    "SK일렉링크", "대영채비", "차지인", "플러그링크", "이브이시스",
}  # fmt: skip
HEADER = [
    "CPO명", "순위", "충전소수", "완속충전기", "급속충전기", "총충전기", "시장점유율",
    "순위변동", "충전소증감", "완속증감", "급속증감", "총증감",
]  # fmt: skip
COUNTS = ["stations", "slow_chargers", "fast_chargers", "total_chargers"]
CHANGES = ["rank_change", "stations_change", "slow_change", "fast_change", "total_change"]


@pytest.fixture(scope="module")
def default_frame() -> pd.DataFrame:
    return synthesize()


def national(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("month")[COUNTS].sum()


def test_deterministic_per_seed() -> None:
    first = synthesize(months=6, operators=40, seed=3)
    pd.testing.assert_frame_equal(first, synthesize(months=6, operators=40, seed=3))
    other = synthesize(months=6, operators=40, seed=4)
    assert not first[COUNTS].equals(other[COUNTS])


def test_default_shape_and_canonical_columns(default_frame: pd.DataFrame) -> None:
    months = sorted(default_frame["month"].unique())
    assert len(months) == 24 and months[-1] == "2025-11" and months[0] == "2023-12"
    assert list(pd.period_range("2023-12", "2025-11", freq="M").astype(str)) == months
    assert (default_frame["month"] == "2025-11").sum() >= 100
    assert len(default_frame) >= 24 * 100
    assert list(default_frame.columns) == list(COLUMNS)
    assert str(default_frame["rank"].dtype) == "Int64"
    assert str(default_frame["total_change"].dtype) == "Int64"
    assert default_frame["total_chargers"].dtype == np.int64


def test_gs_chargebee_in_2025_11(default_frame: pd.DataFrame) -> None:
    gs = default_frame[default_frame["cpo"] == "GS차지비"].set_index("month")
    nov, octo = gs.loc["2025-11"], gs.loc["2025-10"]
    assert nov["total_chargers"] == 73_912 and nov["fast_chargers"] == 1_558
    assert nov["slow_chargers"] == 72_354 and nov["stations"] == 13_228
    assert nov["total_change"] == 622 == nov["total_chargers"] - octo["total_chargers"]
    totals = national(default_frame)["total_chargers"]
    share_nov = 73_912 / totals["2025-11"] * 100
    share_oct = octo["total_chargers"] / totals["2025-10"] * 100
    assert nov["market_share"] == pytest.approx(share_nov)
    assert round(share_nov, 1) == 16.1
    assert round(share_nov - share_oct, 1) == -0.1
    assert round(nov["market_share"], 1) - round(octo["market_share"], 1) == pytest.approx(-0.1)
    assert nov["rank"] == 1


def test_national_total_and_growth(default_frame: pd.DataFrame) -> None:
    totals = national(default_frame)["total_chargers"]
    assert 450_000 <= totals["2025-11"] <= 470_000
    growth = totals.pct_change().dropna()
    assert 0.01 <= growth.mean() <= 0.02
    assert growth.between(0.005, 0.025).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_chargers_are_a_minority(seed: int) -> None:
    sums = national(synthesize(seed=seed))
    fast_share = sums["fast_chargers"] / sums["total_chargers"]
    assert fast_share.between(0.10, 0.15).all()
    per_operator = synthesize(seed=seed).query("month == '2025-11' and total_chargers >= 1000")
    ratios = per_operator["fast_chargers"] / per_operator["total_chargers"]
    assert ratios.std() > 0.05  # the mix varies between operators


def test_counts_are_consistent(default_frame: pd.DataFrame) -> None:
    f = default_frame
    assert (f["slow_chargers"] + f["fast_chargers"] == f["total_chargers"]).all()
    assert (f[COUNTS] >= 0).all().all() and (f["stations"] <= f["total_chargers"]).all()
    shares = f.groupby("month")["market_share"].sum()
    assert np.allclose(shares, 100.0)
    expected_rank = f.groupby("month")["total_chargers"].rank(method="min", ascending=False)
    assert (f["rank"].astype(int) == expected_rank.astype(int)).all()


def test_long_tail_with_named_leaders(default_frame: pd.DataFrame) -> None:
    nov = default_frame[default_frame["month"] == "2025-11"]
    assert set(nov.nsmallest(10, "rank")["cpo"]) == NAMED
    assert nov["total_chargers"].min() < 0.01 * nov["total_chargers"].max()
    top10 = nov.nsmallest(10, "rank")["market_share"].sum()
    assert 50 <= top10 <= 85
    generic = [c for c in nov["cpo"] if c.startswith("충전사업자 ")]
    assert generic and all(len(c.split()[-1]) == 3 for c in generic)


def test_newcomers_enter_with_blank_changes(default_frame: pd.DataFrame) -> None:
    first_month = default_frame.groupby("cpo")["month"].min()
    newcomers = first_month[first_month > "2023-12"]
    assert 1 <= len(newcomers) <= 3
    for cpo, month in newcomers.items():
        row = default_frame[(default_frame["cpo"] == cpo) & (default_frame["month"] == month)]
        assert row[CHANGES].isna().all().all()
        assert row["total_chargers"].item() < 1000  # small operators
    known = default_frame[~default_frame["cpo"].isin(newcomers.index)]
    assert known.loc[known["month"] > "2023-12", CHANGES].notna().all().all()


def test_rank_changes_happen_occasionally(default_frame: pd.DataFrame) -> None:
    moves = default_frame["rank_change"].dropna()
    moved = (moves != 0).mean()
    assert 0.005 <= moved <= 0.3


def test_end_month_and_small_sizes() -> None:
    frame = synthesize(months=5, operators=12, seed=2, end_month="2024-03")
    assert sorted(frame["month"].unique()) == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert frame["cpo"].nunique() == 12
    with pytest.raises(ValueError, match="at least 1"):
        synthesize(months=0)


# --------------------------------------------------------------------------- workbooks


def _cells(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path)
    sheet = book["Sheet1"]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _data_rows(grid: list[list[Any]]) -> list[list[Any]]:
    return [row[3:16] for row in grid[5:]]


def test_write_workbook_layout_and_quirks(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    nov = sample_frame[sample_frame["month"] == "2025-11"]
    path = write_workbook(nov, tmp_path / "충전인프라 현황_2511.xlsx", quirks=True, seed=5)
    grid = _cells(path)
    assert "(25.11.30 기준)" in grid[0][2]
    assert grid[2][10] == "전체CPO" and grid[3][10] == "당월증감량"
    assert grid[1][11:16] == ["운영기관수", "충전소수", "완속충전기", "급속충전기", "총충전기"]
    assert grid[2][11] == len(nov) and grid[2][15] == nov["total_chargers"].sum()
    oct_total = sample_frame.loc[sample_frame["month"] == "2025-10", "total_chargers"].sum()
    assert grid[3][15] == nov["total_chargers"].sum() - oct_total
    assert grid[4][3:16] == [*HEADER, "CH기준"]
    rows = _data_rows(grid)
    inner = rows[: max(k for k, r in enumerate(rows) if any(v is not None for v in r))]
    assert any(all(v is None for v in r) for r in inner), "a blank row inside the table"
    assert any(r[0] == "CPO" for r in rows), "a repeated header row"
    values = [v for r in rows for v in r[1:12]]
    assert "-" in values
    assert any(isinstance(v, str) and "," in v for v in values)
    shares = [r[6] for r in rows if r[0] not in (None, "CPO")]
    assert any(isinstance(s, str) and s.endswith("%") for s in shares)
    names = [r[0] for r in rows if r[0] not in (None, "CPO")]
    assert any(n != n.strip() for n in names)
    big = nov.set_index("cpo")["market_share"]
    forms = {type(s) for n, s in zip(names, shares, strict=True) if big[n.strip()] > 2}
    assert str in forms and float in forms
    fractions = [s for n, s in zip(names, shares, strict=True) if big[n.strip()] > 2 and s != "-"]
    assert any(isinstance(s, float) and s < 1 for s in fractions)
    assert any(isinstance(s, float) and s > 1 for s in fractions)
    loaded = load_data(path)
    exact = [c for c in COLUMNS if c != "market_share"]
    pd.testing.assert_frame_equal(loaded[exact], nov[exact].reset_index(drop=True))


def test_write_workbook_without_quirks_is_clean(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    nov = sample_frame[sample_frame["month"] == "2025-11"].reset_index(drop=True)
    path = write_workbook(nov, tmp_path / "plain_2511.xlsx", quirks=False)
    rows = _data_rows(_cells(path))
    assert len(rows) == len(nov)
    assert [r[0] for r in rows] == nov["cpo"].tolist()
    assert all(isinstance(v, int) for r in rows for v in r[1:6])
    assert [r[6] for r in rows] == [round(s, 1) for s in nov["market_share"]]
    loaded = load_data(path)
    pd.testing.assert_frame_equal(
        loaded.drop(columns="market_share"), nov.drop(columns="market_share")
    )


def test_write_workbook_quirks_depend_on_seed(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    nov = sample_frame[sample_frame["month"] == "2025-11"]
    a = _cells(write_workbook(nov, tmp_path / "a_2511.xlsx", seed=1))
    b = _cells(write_workbook(nov, tmp_path / "b_2511.xlsx", seed=1))
    c = _cells(write_workbook(nov, tmp_path / "c_2511.xlsx", seed=2))
    assert a == b and a != c


def test_write_workbook_needs_one_month(sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="one month"):
        write_workbook(sample_frame, tmp_path / "x.xlsx")


def test_sample_files_exist_and_load_back(
    sample_dir: dict[str, Any], sample_frame: pd.DataFrame
) -> None:
    assert sample_dir["months"] == 14 and sample_dir["operators"] == 30
    months = sorted(sample_frame["month"].unique())
    names = {f"충전인프라 현황_{m[2:4]}{m[5:7]}.xlsx" for m in months}
    assert {p.name for p in Path(sample_dir["workbooks_dir"]).iterdir()} == names
    assert Path(sample_dir["csv"]).name == "cpo_monthly.csv"
    header = Path(sample_dir["csv"]).read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(COLUMNS)
    for source in (sample_dir["workbooks_dir"], sample_dir["csv"]):
        loaded = load_data(source)
        pd.testing.assert_frame_equal(loaded[COUNTS], sample_frame[COUNTS])


@pytest.mark.slow
def test_write_sample_data_defaults_and_rewrite(tmp_path: Path) -> None:
    info = write_sample_data(tmp_path)
    assert (info["months"], info["operators"]) == (24, 110)
    frame = load_data(info["workbooks_dir"])
    assert frame["month"].nunique() == 24 and len(frame) >= 24 * 100
    again = write_sample_data(tmp_path, months=3, operators=15, end_month="2025-06")
    assert len(list(Path(again["workbooks_dir"]).glob("*.xlsx"))) == 3  # stale months removed
    assert sorted(load_data(tmp_path / "workbooks")["month"].unique()) == [
        "2025-04",
        "2025-05",
        "2025-06",
    ]


@pytest.mark.slow
def test_ensure_sample_data_writes_once(tmp_path: Path) -> None:
    from report_lib.data.sample import ensure_sample_data

    workbooks = ensure_sample_data(tmp_path)
    first = sorted(workbooks.glob("*.xlsx"))
    assert len(first) == 24
    stamp = first[0].stat().st_mtime_ns
    assert ensure_sample_data(tmp_path) == workbooks
    assert first[0].stat().st_mtime_ns == stamp  # not rewritten
