"""load_data / derive_changes: ministry workbooks (every quirk), tidy CSV/Parquet, errors."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from report_lib.data.loader import derive_changes, load_data
from report_lib.data.schema import COLUMNS, KOREAN_COLUMNS
from report_lib.errors import DataError
from tests.helpers import (
    HEADER,
    NOV_CHANGE,
    NOV_SUMMARY,
    TITLE,
    make_tiny_frame,
    nov_path,
    tiny_month,
    tiny_rows,
    write_ministry,
)

COUNTS = ["stations", "slow_chargers", "fast_chargers", "total_chargers"]
CHANGES = ["rank_change", "stations_change", "slow_change", "fast_change", "total_change"]


# --------------------------------------------------------------------------- workbooks


def test_plain_workbook_gives_the_hand_table_and_summary(tmp_path: Path) -> None:
    path = write_ministry(
        nov_path(tmp_path), tiny_rows(), summary=NOV_SUMMARY, summary_change=NOV_CHANGE
    )
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, tiny_month("2025-11"))
    assert frame.attrs["summary"] == {"2025-11": NOV_SUMMARY}
    assert frame.attrs["summary_change"] == {"2025-11": NOV_CHANGE}
    assert frame.attrs["sources"] == {"2025-11": str(path)}


def _blank_rows(rows: list[list[Any]]) -> list[list[Any]]:
    return [rows[0], [None] * 12, rows[1], rows[2], [None] * 12, [None] * 12, rows[3]]


def _repeated_header(rows: list[list[Any]]) -> list[list[Any]]:
    return [rows[0], rows[1], ["CPO", *HEADER[1:]], rows[2], list(HEADER), rows[3]]


def _padded_names(rows: list[list[Any]]) -> list[list[Any]]:
    return [[f"  {r[0]} \u00a0", *r[1:]] for r in rows]


def _text_numbers(rows: list[list[Any]]) -> list[list[Any]]:
    return [[r[0], *(str(v) if isinstance(v, int) else v for v in r[1:])] for r in rows]


def _mixed_shares(rows: list[list[Any]]) -> list[list[Any]]:
    # 에버온 35.0 as percent, GS차지비 as fraction 0.3, 파워큐브 as text, 차지인 as fraction 0.1
    forms = [35.0, 0.3, "25.0%", 0.1]
    return [[*r[:6], form, *r[7:]] for r, form in zip(rows, forms, strict=True)]


def _dash_for_zero(rows: list[list[Any]]) -> list[list[Any]]:
    # 파워큐브 and 차지인 kept their rank (rank_change 0)
    return [[*r[:7], "-" if r[7] == 0 else r[7], *r[8:]] for r in rows]


@pytest.mark.parametrize(
    "quirk",
    [_blank_rows, _repeated_header, _padded_names, _text_numbers, _mixed_shares, _dash_for_zero],
)
def test_each_workbook_quirk_is_read_back_to_the_same_table(
    tmp_path: Path, quirk: Callable[[list[list[Any]]], list[list[Any]]]
) -> None:
    rows = quirk(tiny_rows())
    path = write_ministry(nov_path(tmp_path), rows, summary=NOV_SUMMARY)
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, tiny_month("2025-11"))


def test_thousands_separators_and_percent_text(tmp_path: Path) -> None:
    rows = [
        ["GS차지비", 1, "13,228", "72,354", "1,558", "73,912", "16.1%", "-", "111", 601, 21, "622"],
        ["에버온", "2", "5,966", " 25,507 ", 1342, 26849, 0.058, "-1", -75, "-1,317", 23, -1294],
    ]
    frame = load_data(write_ministry(nov_path(tmp_path), rows))
    gs, everon = frame.iloc[0], frame.iloc[1]
    assert (gs["stations"], gs["slow_chargers"], gs["fast_chargers"]) == (13228, 72354, 1558)
    assert gs["total_chargers"] == 73912 and gs["market_share"] == pytest.approx(16.1)
    assert gs["rank_change"] == 0 and gs["total_change"] == 622
    assert everon["slow_chargers"] == 25507 and everon["market_share"] == pytest.approx(5.8)
    assert (everon["rank_change"], everon["slow_change"], everon["total_change"]) == (
        -1,
        -1317,
        -1294,
    )


def test_zero_as_dash_and_blank_changes_in_a_first_month(tmp_path: Path) -> None:
    rows = tiny_rows("2025-10")  # 파워큐브 has 0 fast chargers, changes are blank
    rows[2][4] = "-"
    path = write_ministry(tmp_path / "x_2510.xlsx", rows)
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, tiny_month("2025-10"))
    assert frame[CHANGES].isna().all().all()


def test_columns_found_by_header_name_anywhere(tmp_path: Path) -> None:
    order = [0, 5, 4, 3, 2, 1, 6, 11, 10, 9, 8, 7]  # CPO명 first, the rest shuffled
    header = [f" {HEADER[k]} " for k in order]
    rows = [[r[k] for k in order] for r in tiny_rows()]
    path = write_ministry(nov_path(tmp_path), rows, header=header, first_column=2)
    pd.testing.assert_frame_equal(load_data(path), tiny_month("2025-11"))


def test_first_sheet_used_when_no_sheet1_and_notes_ignored(tmp_path: Path) -> None:
    notes = ["특이사항 없음", None, "완속 포함", None]
    path = write_ministry(nov_path(tmp_path), tiny_rows(), sheet_title="현황", notes=notes)
    pd.testing.assert_frame_equal(load_data(path), tiny_month("2025-11"))


def test_sheet1_preferred_over_the_first_sheet(tmp_path: Path) -> None:
    path = write_ministry(nov_path(tmp_path), tiny_rows())
    book = openpyxl.load_workbook(path)
    book.create_sheet("표지", 0)["D5"] = "not the data"
    book.save(path)
    pd.testing.assert_frame_equal(load_data(path), tiny_month("2025-11"))


@pytest.mark.parametrize(
    ("name", "title", "month"),
    [
        ("충전인프라 현황_2510.xlsx", TITLE, "2025-10"),  # the file name wins over the title
        ("충전인프라 현황_202509.xlsx", None, "2025-09"),
        ("현황.xlsx", TITLE, "2025-11"),
        ("현황.xlsx", "충전인프라 현황 (24.03.31 기준)", "2024-03"),
    ],
)
def test_month_from_file_name_else_title(
    tmp_path: Path, name: str, title: str | None, month: str
) -> None:
    frame = load_data(write_ministry(tmp_path / name, tiny_rows(), title=title))
    assert set(frame["month"]) == {month}


def test_month_missing_from_name_and_title(tmp_path: Path) -> None:
    path = write_ministry(tmp_path / "현황.xlsx", tiny_rows(), title="전기차 충전인프라 현황")
    with pytest.raises(DataError, match="C1") as info:
        load_data(path)
    assert "현황.xlsx" in str(info.value) and "_YYMM" in str(info.value)


@pytest.mark.parametrize(
    ("field", "label", "stated", "actual"),
    [
        ("total_chargers", "총충전기", 201, 200),
        ("fast_chargers", "급속충전기", 40, 42),
        ("operators", "운영기관수", 5, 4),
    ],
)
def test_summary_mismatch_names_file_field_and_both_numbers(
    tmp_path: Path, field: str, label: str, stated: int, actual: int
) -> None:
    summary = {**NOV_SUMMARY, field: stated}
    path = write_ministry(nov_path(tmp_path), tiny_rows(), summary=summary)
    with pytest.raises(DataError) as info:
        load_data(path)
    message = str(info.value)
    assert path.name in message and field in message and label in message
    assert str(stated) in message and str(actual) in message
    assert info.value.column == field


def test_workbook_without_summary_block_is_accepted(tmp_path: Path) -> None:
    frame = load_data(write_ministry(nov_path(tmp_path), tiny_rows()))
    assert frame.attrs["summary"] == {} and len(frame) == 4


def test_folder_of_workbooks_sorted_lock_files_ignored_changes_derived(tmp_path: Path) -> None:
    folder = tmp_path / "wb"
    for month, name in (("2025-11", "충전인프라 현황_2511.xlsx"), ("2025-10", "a_2510.xlsx")):
        rows = [[*r[:7], *([None] * 5)] for r in tiny_rows(month)]  # no change columns filled
        write_ministry(folder / name, rows)
    (folder / "~$충전인프라 현황_2511.xlsx").write_bytes(b"lock")
    (folder / "readme.txt").write_text("notes", encoding="utf-8")
    frame = load_data(folder)
    pd.testing.assert_frame_equal(frame, make_tiny_frame())
    assert list(frame.attrs["sources"]) == ["2025-10", "2025-11"]


def test_round_trip_of_quirky_sample_workbooks(
    sample_dir: dict[str, Any], sample_frame: pd.DataFrame
) -> None:
    frame = load_data(sample_dir["workbooks_dir"])
    exact = [c for c in COLUMNS if c != "market_share"]
    pd.testing.assert_frame_equal(frame[exact], sample_frame[exact])
    # workbooks carry shares rounded to 0.1 %p (or 0.001 as a fraction)
    assert (frame["market_share"] - sample_frame["market_share"]).abs().max() <= 0.05 + 1e-9
    national = sample_frame.groupby("month")[COUNTS].sum()
    for month, summary in frame.attrs["summary"].items():
        assert summary["total_chargers"] == national.loc[month, "total_chargers"]
        assert summary["operators"] == (sample_frame["month"] == month).sum()
    assert list(frame.attrs["summary"]) == sorted(sample_frame["month"].unique())
    months = sorted(sample_frame["month"].unique())
    assert sorted(frame.attrs["summary_change"]) == months[1:]  # the first month has no change
    for earlier, later in itertools.pairwise(months):
        stated = frame.attrs["summary_change"][later]["total_chargers"]
        assert (
            stated
            == national.loc[later, "total_chargers"] - national.loc[earlier, "total_chargers"]
        )


# --------------------------------------------------------------------------- bad inputs


def test_missing_file_and_folder(tmp_path: Path) -> None:
    for missing in (tmp_path / "nope_2511.xlsx", tmp_path / "no_folder"):
        with pytest.raises(DataError, match="no such file") as info:
            load_data(missing)
        assert missing.name in str(info.value)


def test_folder_without_workbook_or_csv(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="no workbook") as info:
        load_data(tmp_path)
    assert "notes.txt" in str(info.value)


@pytest.mark.parametrize("name", ["empty_2511.xlsx", "empty.csv", "empty.parquet"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError, match="empty") as info:
        load_data(tmp_path / name)
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("data.txt", b"month,cpo\n", "not a workbook or CSV"),
        ("corrupt_2511.xlsx", b"PK\x03\x04 this is not really a zip", "cannot be read"),
        ("binary.csv", b"\x00\x01\x02\x03", "not a CSV"),
        ("bad.parquet", b"not parquet at all", "cannot be read as Parquet"),
    ],
)
def test_not_a_workbook_or_csv(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        load_data(tmp_path / name)
    assert name in str(info.value)


def test_missing_required_columns_names_each_and_lists_found(tmp_path: Path) -> None:
    header = [h for h in HEADER if h not in ("급속충전기", "총충전기")]
    rows = [[r[k] for k, h in enumerate(HEADER) if h in header] for r in tiny_rows()]
    path = write_ministry(nov_path(tmp_path), rows, header=header)
    with pytest.raises(DataError, match="missing required column") as info:
        load_data(path)
    message = str(info.value)
    assert "'급속충전기' (fast_chargers)" in message and "'총충전기' (total_chargers)" in message
    assert "완속충전기" in message.split("found:")[1] and path.name in message


def test_non_numeric_count_names_file_row_column_value(tmp_path: Path) -> None:
    rows = [[f"사업자 {k:02d}", k + 1, 1, 1, 0, 1, 1.0, 0, 0, 0, 0, 0] for k in range(12)]
    rows[11][5] = "abc"  # the 12th data row is Excel row 17; column I = 총충전기
    path = write_ministry(nov_path(tmp_path), rows)
    with pytest.raises(DataError) as info:
        load_data(path)
    message = str(info.value)
    assert path.name in message and "row 17" in message and "총충전기" in message
    assert "'abc'" in message and "expected" in message
    assert (info.value.row, info.value.column, info.value.value) == (17, "total_chargers", "abc")


def test_duplicate_operator_in_a_month(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows.append(list(rows[1]))  # GS차지비 again, Excel row 10
    with pytest.raises(DataError, match="duplicate operator 'GS차지비'") as info:
        load_data(write_ministry(nov_path(tmp_path), rows))
    assert "row 7" in str(info.value) and "row 10" in str(info.value)


def test_negative_count_rejected_negative_change_accepted(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[0][11] = -5  # 총증감 may be negative
    frame = load_data(write_ministry(nov_path(tmp_path), rows))
    assert frame.loc[frame["cpo"] == "에버온", "total_change"].item() == -5
    rows[2][2] = -3  # 충전소수 of 파워큐브 (Excel row 8)
    with pytest.raises(DataError, match="negative") as info:
        load_data(write_ministry(nov_path(tmp_path), rows))
    assert "row 8" in str(info.value) and "충전소수" in str(info.value) and "-3" in str(info.value)


def test_row_with_numbers_but_no_name(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[3][0] = None  # Excel row 9
    with pytest.raises(DataError, match="row 9, column 'CPO명'") as info:
        load_data(write_ministry(nov_path(tmp_path), rows))
    assert info.value.column == "cpo"


def test_header_without_operator_rows(tmp_path: Path) -> None:
    path = write_ministry(nov_path(tmp_path), [[None] * 12, ["CPO", *HEADER[1:]]])
    with pytest.raises(DataError, match="no operator rows") as info:
        load_data(path)
    assert path.name in str(info.value)


def test_folder_of_csv_files_with_overlapping_rows(tmp_path: Path) -> None:
    tiny = make_tiny_frame()
    tiny.to_csv(tmp_path / "a.csv", index=False)
    tiny.iloc[[6]].to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="duplicate operator '파워큐브'") as info:
        load_data(tmp_path)
    assert "a.csv line 8" in str(info.value) and "b.csv line 2" in str(info.value)
    (tmp_path / "b.csv").unlink()
    tiny.iloc[:4].to_csv(tmp_path / "a.csv", index=False)
    tiny.iloc[4:].to_csv(tmp_path / "b.csv", index=False)
    pd.testing.assert_frame_equal(load_data(tmp_path), tiny)


def test_two_workbooks_for_the_same_month(tmp_path: Path) -> None:
    write_ministry(tmp_path / "a_2511.xlsx", tiny_rows())
    write_ministry(tmp_path / "b.xlsx", tiny_rows())  # month 2025-11 from the title
    with pytest.raises(DataError, match="two workbooks for 2025-11") as info:
        load_data(tmp_path)
    assert "a_2511.xlsx" in str(info.value) and "b.xlsx" in str(info.value)


# --------------------------------------------------------------------------- tidy files


def _korean(frame: pd.DataFrame) -> pd.DataFrame:
    names = {v: k for k, v in KOREAN_COLUMNS.items() if k != "월"}
    return frame.rename(columns=names)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
@pytest.mark.parametrize("korean", [False, True])
def test_csv_english_or_korean_in_any_encoding(tmp_path: Path, encoding: str, korean: bool) -> None:
    tiny = make_tiny_frame()
    path = tmp_path / "cpo.csv"
    (_korean(tiny) if korean else tiny).to_csv(path, index=False, encoding=encoding)
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, tiny)
    assert frame.attrs["sources"] == {"2025-10": str(path), "2025-11": str(path)}


@pytest.mark.parametrize("written", ["2025-11", "2025-11-30", "202511", "2511", "2025.11"])
def test_csv_month_formats(tmp_path: Path, written: str) -> None:
    tiny = tiny_month("2025-11").assign(month=written)
    tiny.to_csv(tmp_path / "m.csv", index=False)
    assert set(load_data(tmp_path / "m.csv")["month"]) == {"2025-11"}


def test_csv_without_rank_share_or_changes_computes_them(tmp_path: Path) -> None:
    tiny = make_tiny_frame()
    shuffled = tiny.drop(columns=["rank", "market_share", *CHANGES]).iloc[[5, 2, 7, 0, 4, 1, 6, 3]]
    shuffled.to_csv(tmp_path / "counts.csv", index=False)
    pd.testing.assert_frame_equal(load_data(tmp_path / "counts.csv"), tiny)


def test_csv_bad_value_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    tiny = make_tiny_frame().astype({"slow_chargers": object})
    tiny.loc[2, "slow_chargers"] = "many"  # data row 3 → line 4 (line 1 is the header)
    tiny.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_data(path)
    message = str(info.value)
    assert "bad.csv" in message and "line 4" in message and "slow_chargers" in message
    assert "'many'" in message


def test_csv_bad_month_and_missing_month_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    tiny_month("2025-11").assign(month="November").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"'November'.*YYYY-MM"):
        load_data(path)
    tiny_month("2025-11").drop(columns="month").to_csv(path, index=False)
    with pytest.raises(DataError, match="'기준월' \\(month\\)"):
        load_data(path)


def test_csv_duplicate_month_operator(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    tiny = make_tiny_frame()
    pd.concat([tiny, tiny.iloc[[6]]]).to_csv(path, index=False)
    with pytest.raises(DataError, match="duplicate operator '파워큐브' for 2025-11") as info:
        load_data(path)
    assert "line 8" in str(info.value) and "line 10" in str(info.value)


@pytest.mark.parametrize("korean", [False, True])
def test_parquet(tmp_path: Path, korean: bool) -> None:
    tiny = make_tiny_frame()
    path = tmp_path / "cpo.parquet"
    (_korean(tiny) if korean else tiny).to_parquet(path, index=False)
    pd.testing.assert_frame_equal(load_data(path), tiny)


def test_sample_csv_loads_to_the_synthesized_frame(
    sample_dir: dict[str, Any], sample_frame: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(load_data(sample_dir["csv"]), sample_frame, check_exact=False)


# --------------------------------------------------------------------------- derive_changes


def test_derive_changes_by_hand(tiny_frame: pd.DataFrame) -> None:
    derived = derive_changes(tiny_frame.drop(columns=CHANGES))
    pd.testing.assert_frame_equal(derived[list(COLUMNS)], tiny_frame)
    everon = derived[(derived["month"] == "2025-11") & (derived["cpo"] == "에버온")].iloc[0]
    assert everon["rank_change"] == 1  # 2nd → 1st: moved up, positive


def test_derive_changes_fills_only_blank_months_unless_overwrite(tiny_frame: pd.DataFrame) -> None:
    given = tiny_frame.copy()
    given.loc[given["month"] == "2025-11", "total_change"] = 999  # stated, kept
    given.loc[given["month"] == "2025-11", "slow_change"] = pd.NA  # blank month, derived
    kept = derive_changes(given)
    nov = kept["month"] == "2025-11"
    assert (kept.loc[nov, "total_change"] == 999).all()
    assert kept.loc[nov, "slow_change"].tolist() == [30, 9, 25, 11]
    redone = derive_changes(given, overwrite=True)
    assert redone.loc[nov, "total_change"].tolist() == [40, 10, 35, 15]


def test_derive_changes_new_operator_and_month_gap(tiny_frame: pd.DataFrame) -> None:
    newcomer = {"month": "2025-11", "cpo": "신규사업자", "rank": 5, "stations": 1}
    newcomer |= {"slow_chargers": 2, "fast_chargers": 0, "total_chargers": 2}
    jan = tiny_frame[tiny_frame["month"] == "2025-11"].assign(month="2026-01")
    table = pd.concat([tiny_frame.drop(columns=CHANGES), pd.DataFrame([newcomer]), jan])
    derived = derive_changes(table.drop(columns=CHANGES, errors="ignore"))
    assert derived.loc[derived["cpo"] == "신규사업자", CHANGES].isna().all().all()
    # 2025-12 is missing: January has no previous month to compare with
    assert derived.loc[derived["month"] == "2026-01", CHANGES].isna().all().all()
