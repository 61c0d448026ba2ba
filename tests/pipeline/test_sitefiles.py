"""Nothing written outside the pipeline's output folder: links refused up front, replaced at
write time, never followed (pipeline.sitefiles and every writer of the pipeline)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from report_lib.errors import ConfigError
from report_lib.pipeline.execute import PipelineResult
from report_lib.pipeline.grid import GridOptions, run_grid
from report_lib.pipeline.index import write_index
from report_lib.pipeline.manifest import MANIFEST, RunEntry, write_manifest
from report_lib.pipeline.parameters import NOTEBOOKS, OUTPUT_SUBDIRS
from report_lib.pipeline.run import run_pipeline
from report_lib.pipeline.sharing import write_notebook
from report_lib.pipeline.sitefiles import claim_site_file, write_site_file

KEEP = "outside: must stay as it is\n"

# every path the pipeline writes under its folder: files, folders, files inside those folders
ONCE_PATHS = [
    "index.html",
    *(f"{name}.html" for name in NOTEBOOKS),
    "notebooks",
    *(f"notebooks/{name}.ipynb" for name in NOTEBOOKS),
    *OUTPUT_SUBDIRS.values(),
    "reports/result.json", "reports/kpi.md", "benchmark/results.csv", "benchmark/metadata.json",
]
GRID_PATHS = [*ONCE_PATHS, MANIFEST, "runs", "runs/target_month-2025-10/reports.html"]


def _outside(tmp_path: Path) -> tuple[Path, Path]:
    """A file and a folder outside the site, which no run may change."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    target = folder / "target.txt"
    target.write_text(KEEP, encoding="utf-8")
    return target, folder


def _link(site: Path, relative: str, tmp_path: Path) -> tuple[Path, Path]:
    """``site/relative`` made a link to a file (a name with a suffix) or a folder outside."""
    target, folder = _outside(tmp_path)
    link = site / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    pointed = target if Path(relative).suffix else folder
    link.symlink_to(pointed, target_is_directory=pointed.is_dir())
    return link, pointed


def _unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    assert sorted(p.name for p in folder.iterdir()) == ["target.txt"]
    assert (folder / "target.txt").read_text(encoding="utf-8") == KEEP


@pytest.mark.parametrize("relative", ONCE_PATHS)
def test_a_link_where_the_pipeline_writes_is_refused_before_any_kernel(
    relative: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    link, pointed = _link(site, relative, tmp_path)
    with pytest.raises(ConfigError) as caught:
        run_pipeline(site, progress=False, kernel_name="no-such-kernel-never-started")
    message = str(caught.value)
    assert "\n" not in message and str(link) in message and str(pointed) in message
    _unchanged(tmp_path)


@pytest.mark.parametrize("relative", GRID_PATHS)
def test_a_link_where_the_grid_writes_is_refused_before_any_cluster(
    relative: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    link, _ = _link(site, relative, tmp_path)
    with pytest.raises(ConfigError, match="is a symbolic link") as caught:
        run_grid(GridOptions(out_dir=site, scheduler="tcp://127.0.0.1:1", progress=False))
    assert str(link) in str(caught.value)
    _unchanged(tmp_path)


def test_the_out_folder_itself_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real-site"
    real.mkdir()
    (tmp_path / "site").symlink_to(real, target_is_directory=True)
    written = write_site_file(tmp_path / "site", (tmp_path / "site").resolve() / "index.html",
                              "<p>ok</p>")
    assert written.parent == real and (real / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------- at write time: replaced
def _result(site: Path) -> PipelineResult:
    return PipelineResult(site, site / "index.html", [], "2025-12-01T00:00:00+00:00", 1.0, "k")


@pytest.mark.parametrize(
    ("relative", "write"),
    [
        ("index.html", lambda site: write_index(_result(site))),
        (MANIFEST, lambda site: write_manifest(site, [RunEntry("reports", "", {}, {})])),
        ("notebooks/reports.ipynb",
         lambda site: write_notebook(nbformat.v4.new_notebook(), site / "notebooks/reports.ipynb")),
        ("runs/a/reports.html",
         lambda site: write_site_file(site, site / "runs/a/reports.html", b"<p>page</p>")),
    ],
)
def test_a_link_made_after_the_check_is_replaced_not_followed(
    relative: str, write: object, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    link, _ = _link(site, relative, tmp_path)
    write(site)  # type: ignore[operator]
    assert not link.is_symlink() and link.is_file() and link.stat().st_size > 0
    _unchanged(tmp_path)


def test_a_linked_folder_on_the_way_is_refused_at_write_time(tmp_path: Path) -> None:
    site = tmp_path / "site"
    link, _ = _link(site, "runs", tmp_path)
    with pytest.raises(ConfigError, match=f"{link} is a symbolic link"):
        write_site_file(site, site / "runs" / "a" / "reports.html", "<p>page</p>")
    _unchanged(tmp_path)


def test_a_path_outside_the_site_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _outside(tmp_path)
    for path in (tmp_path / "elsewhere" / "target.txt", site / ".." / "elsewhere" / "x.txt"):
        with pytest.raises(ConfigError, match="output folder"):
            write_site_file(site, path, "x")
    _unchanged(tmp_path)


def test_papermill_gets_a_plain_file_name_where_a_link_was(tmp_path: Path) -> None:
    site = tmp_path / "site"
    link, _ = _link(site, "notebooks/reports.ipynb", tmp_path)
    claimed = claim_site_file(site, link)
    assert claimed == link and not link.exists() and not link.is_symlink()
    _unchanged(tmp_path)
