"""load_data: blank counts derived from the totals or refused, absurd values, workbook ranges."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from report_lib.data.loader import load_data
from report_lib.data.values import shorten
from report_lib.errors import DataError
from tests.helpers import (
    NOV_SUMMARY,
    make_tiny_frame,
    nov_path,
    tiny_month,
    tiny_rows,
    write_ministry,
)


def _csv_with_blanks(path: Path, blanks: list[tuple[int, str]]) -> Path:
    frame = make_tiny_frame().astype({c: object for _, c in blanks})
    for index, column in blanks:
        frame.loc[index, column] = None
    frame.to_csv(path, index=False)
    return path


def test_csv_blank_charger_count_is_derived_from_the_row(tmp_path: Path) -> None:
    # 파워큐브 2025-11 (frame index 6, CSV line 8): slow = total 50 − fast 10 = 40;
    # 에버온 2025-10 (index 1, line 3): total = slow 20 + fast 10 = 30.
    path = _csv_with_blanks(
        tmp_path / "c.csv", [(6, "slow_chargers"), (1, "total_chargers"), (4, "fast_chargers")]
    )
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, make_tiny_frame())
    assert frame.attrs["derived"] == [
        {"path": str(path), "row": 3, "column": "total_chargers", "value": 30},
        {"path": str(path), "row": 6, "column": "fast_chargers", "value": 20},
        {"path": str(path), "row": 8, "column": "slow_chargers", "value": 40},
    ]


def test_csv_two_blank_counts_in_a_row_are_refused_with_line_and_column(tmp_path: Path) -> None:
    path = _csv_with_blanks(tmp_path / "c.csv", [(2, "slow_chargers"), (2, "fast_chargers")])
    with pytest.raises(DataError, match="cannot be derived") as info:
        load_data(path)
    message = str(info.value)
    assert "c.csv: line 4, column 'slow_chargers'" in message
    assert (info.value.row, info.value.column) == (4, "slow_chargers")


def test_csv_blank_stations_without_a_total_is_refused(tmp_path: Path) -> None:
    path = _csv_with_blanks(tmp_path / "c.csv", [(5, "stations")])
    with pytest.raises(DataError, match="line 7, column 'stations'") as info:
        load_data(path)
    assert "no summary total" in str(info.value)


def test_blank_count_whose_derivation_is_negative_is_refused(tmp_path: Path) -> None:
    frame = make_tiny_frame().astype({"slow_chargers": object})
    frame.loc[0, "slow_chargers"] = None
    frame.loc[0, "fast_chargers"] = 60  # total 50 − fast 60 = −10
    frame.to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(DataError, match="gives -10, which is negative") as info:
        load_data(tmp_path / "n.csv")
    assert (info.value.row, info.value.column) == (2, "slow_chargers")


def test_workbook_blank_stations_derived_from_the_summary_block(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[1][2] = None  # GS차지비 (Excel row 7): 40 − (14 + 8 + 6) = 12
    path = write_ministry(nov_path(tmp_path), rows, summary=NOV_SUMMARY)
    frame = load_data(path)
    pd.testing.assert_frame_equal(frame, tiny_month("2025-11"))
    assert frame.attrs["derived"] == [
        {"path": str(path), "row": 7, "column": "stations", "value": 12}
    ]


def test_workbook_blank_count_without_summary_names_row_and_cell(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[1][2] = None
    with pytest.raises(DataError) as info:
        load_data(write_ministry(nov_path(tmp_path), rows))
    assert "row 7, column '충전소수' (F): the count is blank" in str(info.value)


def test_workbook_two_blanks_in_a_summed_column_are_refused(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[1][2] = rows[3][2] = None  # rows 7 and 9: the summary gives only their sum
    with pytest.raises(DataError, match="row 7, column '충전소수' \\(F\\)") as info:
        load_data(write_ministry(nov_path(tmp_path), rows, summary=NOV_SUMMARY))
    assert "not the only one" in str(info.value)


def test_absurd_count_in_a_workbook_is_refused_with_the_value_shortened(tmp_path: Path) -> None:
    rows = tiny_rows()
    rows[2][5] = 1e300  # 파워큐브 총충전기, Excel row 8
    with pytest.raises(DataError, match="absurdly large") as info:
        load_data(write_ministry(nov_path(tmp_path), rows))
    message = str(info.value)
    # the reader hands whole numbers over as int: 10**300 more or less, shown in short
    assert "row 8, column '총충전기' (I): value 1.000e+300 (301 digits) is absurdly" in message
    assert len(message) < 250 and float(info.value.value) == 1e300


def test_absurd_count_as_text_in_a_csv_is_refused_with_the_value_shortened(
    tmp_path: Path,
) -> None:
    frame = make_tiny_frame().astype({"stations": object})
    frame.loc[3, "stations"] = "9" * 300
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match="line 5, column 'stations'") as info:
        load_data(tmp_path / "a.csv")
    message = str(info.value)
    assert "(300 characters) is absurdly large" in message and len(message) < 250


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1e300, "1e+300"),
        (10**300, "1.000e+300 (301 digits)"),
        (-(10**20), "-1.000e+20 (21 digits)"),
        (73912, "73912"),
        (0.161, "0.161"),
        ("abc", "'abc'"),
        ("x" * 100, "'xxxxxxxxxxxxxxxxxxxxxxxxxxx…xxxxx' (100 characters)"),
    ],
)
def test_shorten(value: object, shown: str) -> None:
    assert shorten(value) == shown


def test_workbook_with_a_wrong_used_range_is_read_in_full(tmp_path: Path) -> None:
    # Some writers store a <dimension> that covers only part of the sheet.
    path = write_ministry(nov_path(tmp_path), tiny_rows(), summary=NOV_SUMMARY)
    broken = tmp_path / "wrong_2511.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                text = data.decode("utf-8")
                text, count = re.subn(
                    r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:B2"/>', text
                )
                assert count == 1
                data = text.encode("utf-8")
            zout.writestr(item, data)
    pd.testing.assert_frame_equal(load_data(broken), tiny_month("2025-11"))
