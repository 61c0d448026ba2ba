"""SiteRescue: once a write into the site fails, that file and every later one go to a fallback
folder at the same relative path, and the error names the file, the folder and the copy."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from report_lib.pipeline import siterescue
from report_lib.pipeline.sitefiles import write_site_file
from report_lib.pipeline.siterescue import SiteRescue


def _disk_fills_after(monkeypatch: pytest.MonkeyPatch, writes: int) -> list[Path]:
    """write_site_file works ``writes`` times, then fails as a full disk does."""
    done: list[Path] = []

    def write(site: Path, path: Path, content: str | bytes) -> Path:
        if len(done) >= writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        done.append(path)
        return write_site_file(site, path, content)

    monkeypatch.setattr(siterescue, "write_site_file", write)
    return done


def test_every_write_reaches_the_site_while_the_disk_has_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _disk_fills_after(monkeypatch, 10)
    rescue = SiteRescue(site)
    assert rescue.write(site / "runs" / "a" / "page.html", "a") == site / "runs/a/page.html"
    assert (site / "runs/a/page.html").read_text(encoding="utf-8") == "a"
    assert rescue.error("1 of 1 grid runs finished") is None


def test_after_the_first_failure_every_file_goes_to_the_fallback_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, spare = tmp_path / "site", tmp_path / "spare"
    site.mkdir()
    spare.mkdir()
    monkeypatch.setenv("TMPDIR", str(spare))
    monkeypatch.setattr(siterescue.tempfile, "tempdir", None)  # read TMPDIR again
    written = _disk_fills_after(monkeypatch, 1)
    rescue = SiteRescue(site)
    files = {"runs/a/page.html": "a", "runs/b/page.html": b"b", "runs.json": "[]"}
    where = [rescue.write(site / name, content) for name, content in files.items()]
    assert written == [site / "runs/a/page.html"]
    (folder,) = spare.iterdir()
    assert folder.name.startswith("report-lib-rescued-grid-") and rescue.folder == folder
    assert where[1:] == [folder / "runs/b/page.html", folder / "runs.json"]
    assert (folder / "runs/b/page.html").read_bytes() == b"b"
    assert (folder / "runs.json").read_text(encoding="utf-8") == "[]"
    assert not (site / "runs/b").exists()  # nothing more is tried in the full site
    error = rescue.error("2 of 2 grid runs finished (2 ok)")
    assert error is not None and error.rescued == folder
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"pipeline --grid: cannot write {site / 'runs/b/page.html'} "
                           "(No space left on device); 2 of 2 grid runs finished (2 ok);")
    assert f"`cp -r {folder}/. {site}/`" in text


def test_when_no_folder_takes_a_file_the_error_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for name in ("TMPDIR", "HOME"):  # the three candidate folders, all under tmp_path
        monkeypatch.setenv(name, str(tmp_path))
    monkeypatch.setattr(siterescue.tempfile, "tempdir", None)
    monkeypatch.chdir(tmp_path)
    _disk_fills_after(monkeypatch, 0)

    def nowhere(path: Path, content: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(siterescue, "write_bytes_atomic", nowhere)
    rescue = SiteRescue(site)
    rescue.write(site / "runs.json", "[]")
    assert rescue.lost == ["runs.json"] and rescue.folder is None
    error = rescue.error("0 of 1 grid runs finished")
    assert error is not None and "no fallback folder could take the site's files" in str(error)
