"""A workbook (.xlsx, a zip) checked before any parser opens it: no inflating or oversize members.

The zip directory gives each member's declared size and compressed size. A workbook is refused,
with one DataError line naming the file, the member and the limit, when a member would inflate
past ``MAX_MEMBER_BYTES``, all members together past ``MAX_TOTAL_BYTES``, or a large member
expands more than ``MAX_RATIO`` times (what zip bombs do; real sheet XML stays far below). The
members are then inflated in small chunks up to their declared size and their CRC checked,
nothing kept, so a directory that lies about a size is caught too; memory stays at one chunk
whatever the file holds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from report_lib.errors import DataError

MAX_MEMBER_BYTES = 200 * 2**20  # one part of the workbook, inflated (a ministry sheet: ~1 MB)
MAX_TOTAL_BYTES = 400 * 2**20  # every part together, inflated
MAX_RATIO = 100  # inflated / compressed, checked for members above RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1 * 2**20  # small parts may compress oddly well; they cannot hurt
MAX_MEMBERS = 10_000
CHUNK_BYTES = 64 * 2**10


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 2**10:,.0f} KB"


def _refuse(path: Path, why: str) -> DataError:
    return DataError(
        f"{path}: refused before parsing: {why}; this is not a ministry workbook "
        "(re-export it from Excel)",
        path=str(path),
    )


def check_workbook(path: Path) -> None:
    """Raise DataError when ``path`` is not a zip whose members inflate to sane sizes."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc}); "
            "expected an .xlsx file in the ministry layout",
            path=str(path),
        ) from None
    with book:
        members = book.infolist()
        if len(members) > MAX_MEMBERS:
            raise _refuse(path, f"{len(members):,} parts in the zip (at most {MAX_MEMBERS:,})")
        total = 0
        for info in members:
            size, packed = info.file_size, info.compress_size
            total += size
            if size > MAX_MEMBER_BYTES:
                raise _refuse(path, f"part {info.filename} inflates to {_mb(size)} "
                                    f"(at most {_mb(MAX_MEMBER_BYTES)})")
            if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(packed, 1):
                raise _refuse(path, f"part {info.filename} inflates {size / max(packed, 1):,.0f} "
                                    f"times ({_mb(packed)} to {_mb(size)}; at most {MAX_RATIO} "
                                    "times)")
            if total > MAX_TOTAL_BYTES:
                raise _refuse(path, f"its parts inflate to more than {_mb(MAX_TOTAL_BYTES)}")
        for info in members:
            _inflate_within(book, info, path)


def _inflate_within(book: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    """Inflate one member in chunks, keeping nothing. zipfile stops at the declared size and
    checks the CRC there, so a member that inflates past what the directory says is refused."""
    try:
        with book.open(info) as member:
            while member.read(CHUNK_BYTES):
                pass
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(path, f"part {info.filename} cannot be inflated as its zip directory "
                            f"declares ({type(exc).__name__}: {exc})") from None
