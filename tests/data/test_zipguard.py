"""Workbooks checked from their zip directory before they are parsed (data.zipguard)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from report_lib.data import zipguard
from report_lib.data.loader import load_data
from report_lib.errors import DataError
from tests.helpers import nov_path, tiny_rows, write_ministry

SHEET = "xl/worksheets/sheet1.xml"
ROW = b'<row r="6"><c r="D6" t="inlineStr"><is><t>x</t></is></c></row>'


Writer = Callable[[IO[bytes]], object]


def _rewrite(source: Path, target: Path, member: str, write_member: Writer) -> Path:
    """``source`` copied to ``target`` with ``member`` written by ``write_member(handle)``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(
        target, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as new:
        for info in old.infolist():
            if info.filename != member:
                new.writestr(info, old.read(info))
        with new.open(member, "w", force_zip64=True) as handle:
            write_member(handle)
    return target


def _inflating_sheet(mb: int) -> Callable[[IO[bytes]], None]:
    """Sheet XML that compresses about 400 times: ``mb`` MB of the same row."""
    chunk = ROW * (2**20 // len(ROW))

    def write(handle: IO[bytes]) -> None:
        handle.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main"><sheetData>')
        for _ in range(mb):
            handle.write(chunk)
        handle.write(b"</sheetData></worksheet>")

    return write


def _good_workbook(tmp_path: Path) -> Path:
    return write_ministry(tmp_path / "good" / "충전인프라 현황_2511.xlsx", tiny_rows())


def test_a_sheet_that_inflates_is_refused_naming_the_part_and_ratio(tmp_path: Path) -> None:
    bomb = _rewrite(_good_workbook(tmp_path), nov_path(tmp_path), SHEET, _inflating_sheet(24))
    with zipfile.ZipFile(bomb) as book:
        info = book.getinfo(SHEET)
    assert info.file_size > zipguard.MAX_RATIO * info.compress_size  # the fixture does inflate
    with pytest.raises(DataError) as caught:
        load_data(bomb)
    message = str(caught.value)
    assert "\n" not in message
    assert bomb.name in message and SHEET in message
    assert "inflates" in message and f"at most {zipguard.MAX_RATIO} times" in message


def test_an_oversize_part_is_refused_from_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipguard, "MAX_MEMBER_BYTES", 2 * 2**20)
    noise = bytes(range(256)) * (3 * 2**20 // 256)  # compresses poorly: only its size counts

    def write(handle: IO[bytes]) -> None:
        handle.write(noise)

    big = _rewrite(_good_workbook(tmp_path), nov_path(tmp_path), "xl/media/image1.bin", write)
    with pytest.raises(DataError, match=r"xl/media/image1\.bin inflates to 3 MB \(at most 2 MB\)"):
        load_data(big)


def test_parts_together_past_the_total_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipguard, "MAX_TOTAL_BYTES", 64 * 2**10)
    big = _rewrite(_good_workbook(tmp_path), nov_path(tmp_path), "xl/extra.xml",
                   lambda handle: handle.write(b"<a/>" * 20_000))
    with pytest.raises(DataError, match="parts inflate to more than"):
        load_data(big)


def test_a_plain_workbook_passes_the_check(tmp_path: Path) -> None:
    good = _good_workbook(tmp_path)
    zipguard.check_workbook(good)  # no error
    assert len(load_data(good)) == len(tiny_rows())


def test_not_a_zip_is_one_line(tmp_path: Path) -> None:
    path = nov_path(tmp_path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="cannot be read as an Excel workbook") as caught:
        load_data(path)
    assert "\n" not in str(caught.value)
