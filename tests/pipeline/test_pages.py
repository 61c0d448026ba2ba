"""Shared pages: self-contained, titled, Korean everywhere, tidy tables, no local paths."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from report_lib import config
from report_lib.pipeline import export, index, sharing
from report_lib.pipeline.execute import NotebookRun, PipelineResult
from report_lib.pipeline.page import PAGE_MIME, PageInfo, data_source_name, page_header, tidy
from report_lib.pipeline.selfcontained import external_resources
from tests.helpers import REPO, aligned_cells, load_script

FONT_RE = re.compile(r'url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)')


# ---------------------------------------------------------------- external resources
def test_external_resources_finds_every_kind_of_fetch() -> None:
    page = """<html><head>
    <script src="https://cdn.example/require.js"></script>
    <link rel="stylesheet" href="//fonts.example/css">
    <style>@import "https://a.example/x.css"; body { background: url('http://b.example/y.png') }
    .ok { background: url(data:image/png;base64,AAAA) }</style>
    <meta http-equiv="refresh" content="0; url=https://c.example/">
    </head><body>
    <img src="https://d.example/i.png" srcset="local.png 1x, https://e.example/i2.png 2x">
    <div style="background-image: url(https://f.example/z.png)"></div>
    <svg><image href="https://g.example/s.png"/></svg>
    <iframe src="HTTPS://h.example/"></iframe>
    <a href="https://docs.example/">a link is not a fetch</a>
    <img src="figure.png"><img src="data:image/png;base64,AAAA">
    </body></html>"""
    assert external_resources(page) == [
        "https://cdn.example/require.js", "//fonts.example/css", "https://a.example/x.css",
        "http://b.example/y.png", "https://c.example/", "https://d.example/i.png",
        "https://e.example/i2.png", "https://f.example/z.png", "https://g.example/s.png",
        "HTTPS://h.example/",
    ]


# ---------------------------------------------------------------- export
def _png() -> str:
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    Figure(figsize=(1, 1)).savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


HEADER = PageInfo(name="EV charging operators — monthly reports", month="2025-11",
                  focus_cpo="GS차지비", data_source="workbooks", backend="emulator",
                  model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                  strategy="thread", run_time="2025-12-02 07:00 KST", language="ko")


def _executed_notebook(tmp_path: Path, *, with_header: bool = True) -> Path:
    header = new_code_cell("display(page_header(...))")
    if with_header:
        header.outputs = [new_output("display_data", data={
            PAGE_MIME: vars(HEADER), "text/html": HEADER.header_html()})]
    chart = new_code_cell("display(fig)")
    chart.outputs = [new_output("display_data", data={"image/png": _png(),
                                                      "text/plain": "<Figure>"})]
    table = new_code_cell("display(tidy(df))")
    table.outputs = [new_output("display_data", data={
        "text/html": '<table><tr><th>cpo</th></tr><tr><td>에버온</td></tr></table>'})]
    nb = new_notebook(cells=[new_markdown_cell("# 충전 사업자 보고서"), header, chart, table])
    path = tmp_path / "reports.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_page_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    page = export.export_html(_executed_notebook(tmp_path), tmp_path / "reports.html",
                              title="reports").read_text("utf-8")
    assert external_resources(page) == []
    assert "require.js" not in page and "MathJax" not in page and "mermaid" not in page
    assert len(re.findall(r'<img[^>]*src="data:image/png;base64,', page)) == 1


@pytest.mark.slow
def test_page_title_and_header_say_what_and_when(tmp_path: Path) -> None:
    page = export.export_html(_executed_notebook(tmp_path), tmp_path / "reports.html",
                              title="reports").read_text("utf-8")
    assert "<title>EV charging operators — monthly reports — 2025-11 — GS차지비</title>" in page
    header = page[page.index('<header class="rl-header">'):page.index("</header>")]
    assert '<a href="index.html">← all pages</a>' in header
    for label, value in (("report month", "2025-11"), ("focus operator", "GS차지비"),
                         ("data", "workbooks"), ("backend", "emulator"),
                         ("model", HEADER.model_id), ("strategy", "thread"),
                         ("run", "2025-12-02 07:00 KST")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in header
    assert page.count('class="rl-header"') == 1  # the notebook's own copy is not repeated
    assert '<html lang="ko">' in page


@pytest.mark.slow
def test_page_without_header_is_titled_by_name_and_run_date(tmp_path: Path) -> None:
    path = _executed_notebook(tmp_path, with_header=False)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["papermill"] = {"end_time": "2025-12-02T07:00:00+09:00"}
    nbformat.write(nb, path)
    page = export.export_html(path, tmp_path / "b.html", title="benchmark").read_text("utf-8")
    assert "<title>Strategy benchmark — 2025-12-0" in page  # date in the local time zone
    assert '<a href="index.html">← all pages</a>' in page


def test_korean_font_is_embedded_once_with_exactly_the_pages_hangul(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    page = export.export_html(_executed_notebook(tmp_path), tmp_path / "reports.html",
                              title="reports").read_text("utf-8")
    fonts = FONT_RE.findall(page)
    assert len(fonts) == 1
    face = TTFont(io.BytesIO(base64.b64decode(fonts[0])))
    covered = {chr(code) for code in face.getBestCmap()}
    text = re.sub(r"<[^>]+>", "", FONT_RE.sub("", page))
    hangul = {ch for ch in text if "\uac00" <= ch <= "\ud7a3"}
    assert hangul >= set("충전사업자보고서에버온차지비") and covered == hangul
    assert f'--rl-font: "{export.EMBEDDED_FONT}", ' in page  # first: Hangul only (unicode-range)
    for fallback in ("Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR"):
        assert f'"{fallback}"' in page


def test_page_without_hangul_embeds_no_font() -> None:
    assert export.font_face_css("plain ASCII text") == ""


def test_narrow_screen_rules_are_in_the_page(tmp_path: Path) -> None:
    page = export.export_html(_executed_notebook(tmp_path), tmp_path / "reports.html",
                              title="reports").read_text("utf-8")
    css = re.sub(r"\s+", " ", page)
    assert "word-break: keep-all;" in css
    assert ".jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow-x: auto; }" in css
    assert "max-width: 100%; height: auto;" in css
    # every table its own box: never wider than the screen, scrolling sideways inside itself
    table = re.search(r"\.jp-RenderedHTMLCommon table \{ font-size: 0\.9rem;([^}]*)\}", css)
    assert table is not None
    for rule in ("display: block;", "max-width: 100%;", "overflow-x: auto;"):
        assert rule in table.group(1), rule
    assert re.search(r'<meta content="width=device-width, initial-scale=1.0" name="viewport"', page)


# ---------------------------------------------------------------- tidy tables
def test_tidy_formats_numbers_hides_the_index_and_marks_missing() -> None:
    timings = pd.DataFrame({
        "key": ["kpi", "cpo"], "seconds": [0.675804, 12.0], "input_tokens": [12345, None],
        "cost_usd": [0.0123456, None], "error_type": [None, "ThrottlingException"],
    }).set_index("key")
    html = tidy(timings, decimals={"cost_usd": 4}).to_html()
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["kpi", "0.68", "12,345", "0.0123", "—",
                     "cpo", "12.00", "—", "—", "ThrottlingException"]
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert headers == ["key", "seconds", "input_tokens", "cost_usd", "error_type"]


def test_tidy_writes_mixed_columns_cell_by_cell() -> None:
    items = pd.Series({"results": "benchmark/", "time scale": 0.02, "tiny": 0.000123,
                       "CPUs": 2, "calls": 12345, "created": None}, name="value")
    html = tidy(items.rename_axis("item").to_frame()).to_html()
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells[1::2] == ["benchmark/", "0.02", "0.00012", "2", "12,345", "—"]


def test_tidy_drops_an_unnamed_range_index() -> None:
    html = tidy(pd.DataFrame({"n": [1234567, 2], "share": [16.1, float("nan")]})).to_html()
    assert re.findall(r"<th[^>]*>([^<]*)</th>", html) == ["n", "share"]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", html) == ["1,234,567", "16.10", "2", "—"]


def test_tidy_aligns_text_left_and_numbers_right() -> None:
    frame = pd.DataFrame({"strategy": ["thread", "asyncio"], "makespan_s": [2.0, 1.25],
                          "n": [10, 100], "mixed": ["n/a", 3.5], "ok": [True, False]})
    cells = aligned_cells(tidy(frame).to_html())
    headers, body = cells[:frame.shape[1]], cells[frame.shape[1]:]
    numeric = {"makespan_s", "n"}
    assert headers == [(c, "right" if c in numeric else "left") for c in frame.columns]
    values = [v for _, row in frame.iterrows() for v in row]
    assert [side for _, side in body] == [
        "right" if isinstance(v, int | float) and not isinstance(v, bool) else "left"
        for v in values]


# ---------------------------------------------------------------- no local paths
def test_page_header_shows_the_data_source_by_name_only(tmp_path: Path) -> None:
    shown = page_header("reports", month="2025-11", data_path=tmp_path / "data" / "workbooks",
                        backend="offline")._repr_mimebundle_()
    assert shown[PAGE_MIME]["data_source"] == "workbooks"
    assert str(tmp_path) not in shown["text/html"]
    assert data_source_name("/srv/stats/충전인프라 현황_2511.xlsx") == "충전인프라 현황_2511.xlsx"
    assert data_source_name("data/workbooks/") == "workbooks"


def test_an_executed_notebook_keeps_no_local_paths(tmp_path: Path) -> None:
    site, data = tmp_path / "site", tmp_path / "data" / "cpo.csv"
    notebook = site / "notebooks" / "reports.ipynb"
    notebook.parent.mkdir(parents=True)
    given = {"data_path": str(data), "output_dir": str(site / "reports"), "focus_cpo": "a/b",
             "inputs": [str(site / "benchmark" / "results.csv"), "x"], "repeats": 3}
    injected = new_code_cell(f"# Parameters\ndata_path = {str(data)!r}\n")
    injected.metadata["tags"] = ["injected-parameters"]
    warned = new_code_cell("run()", outputs=[
        new_output("stream", name="stderr",
                   text=f"{sys.prefix}/lib/tqdm/auto.py:21: TqdmWarning\n"),
        new_output("error", ename="DataError", evalue=f"no file {site}/reports/x.csv",
                   traceback=[f"File {config.PACKAGE_DIR}/data/load.py:3"])])
    nb = new_notebook(cells=[injected, warned], metadata={
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
        "papermill": {"input_path": str(tmp_path / "repo" / "reports.ipynb"),
                      "output_path": str(notebook), "parameters": given}})
    nbformat.write(nb, notebook)

    sharing.share_paths(notebook, site)

    text = notebook.read_text("utf-8")
    assert str(tmp_path) not in text
    shared = nbformat.read(notebook, as_version=4)
    recorded = shared.metadata["papermill"]
    assert (recorded["input_path"], recorded["output_path"]) == ("reports.ipynb",) * 2
    assert recorded["parameters"] == {
        "data_path": data.name, "output_dir": "../reports", "focus_cpo": "a/b",
        "inputs": ["../benchmark/results.csv", "x"], "repeats": 3}
    source = shared.cells[0].source
    assert 'data_path = "cpo.csv"' in source and 'output_dir = "../reports"' in source
    stream, error = shared.cells[1].outputs
    assert stream.text == "<python>/lib/tqdm/auto.py:21: TqdmWarning\n"
    assert error.evalue == "no file ../reports/x.csv"
    assert error.traceback == ["File <project>/report_lib/data/load.py:3"]


def test_index_has_no_local_paths_and_survives_a_move(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "reports").mkdir(parents=True)
    (site / "reports" / "result.json").write_text("{}")
    (site / "reports.html").write_text("<html></html>")
    outside = tmp_path / "elsewhere" / "notes.ipynb"
    outside.parent.mkdir()
    outside.write_text("{}")
    run = NotebookRun("reports", Path("reports.ipynb"),
                      {"data_path": str(tmp_path / "data" / "workbooks"),
                       "output_dir": str(site / "reports")},
                      {"data_path": {"default": '""', "help": ""},
                       "output_dir": {"default": '""', "help": ""}},
                      status="ok", html=site / "reports.html", notebook=outside)
    page = index.write_index(PipelineResult(site, site / "index.html", [run], "2025-12-01T09:00",
                                            1.0, "report-lib")).read_text("utf-8")
    assert str(tmp_path) not in page and "file:" not in page
    assert "<code>&quot;workbooks&quot;</code>" in page
    assert "<code>&quot;reports&quot;</code>" in page
    assert '<a href="reports/result.json">result.json</a>' in page
    assert '<a href="reports.html">' in page
    assert "<td>reports.ipynb</td>" in page  # outside the folder: its name, no link
    assert external_resources(page) == []


# ---------------------------------------------------------------- the Chromium check itself
def _check_pages_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    return load_script(REPO / "scripts" / "check_pages.py", "check_pages", monkeypatch)


def _page(body: str) -> str:
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1.0"><title>page — 2025-11</title>'
            f"</head><body>{body}</body></html>")


WIDE_ROW = "<tr>" + "<td>a&nbsp;long&nbsp;cell&nbsp;of&nbsp;text</td>" * 30 + "</tr>"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_the_chromium_check_wants_the_answer_first_and_tables_in_their_own_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_pages = _check_pages_module(monkeypatch)
    pages = {
        # sentences and a wide table share one scrolling box; the verdict comes last
        "comparison_report.html": _page(
            f'<div style="overflow-x: auto"><p>seed: sentences</p><table>{WIDE_ROW}</table></div>'
            '<h3>seed</h3><div class="rl-summary">the verdict</div>'),
        # a wide table nothing scrolls: cut at the screen's edge (the page scrolls instead)
        "cut.html": _page(f"<table>{WIDE_ROW}</table>"),
        # the verdict first, the wide table its own scrolling box, a folded table too
        "good.html": _page(
            '<div class="rl-summary">the verdict</div><h3>seed</h3>'
            f'<table style="display: block; max-width: 100%; overflow-x: auto">{WIDE_ROW}'
            '</table><details><summary>folded</summary><div style="overflow-x: auto">'
            f"<table>{WIDE_ROW}</table></div></details>"),
    }
    for name, text in pages.items():
        (tmp_path / name).write_text(text, "utf-8")
    browser = check_pages.Chromium("chromium", dict(os.environ))
    try:
        reports = {name: check_pages.check_page(browser, tmp_path / name, 400, "system", None)
                   for name in pages}
    finally:
        browser.close()
    problems = {name: " | ".join(check_pages.failures(r)) for name, r in reports.items()}
    assert "table 0" in problems["comparison_report.html"]
    assert "it scrolls with other content, not alone" in problems["comparison_report.html"]
    assert 'section "seed" precedes the summary' in problems["comparison_report.html"]
    assert "it is cut off instead of scrolling in its own box" in problems["cut.html"]
    assert "the page scrolls sideways" in problems["cut.html"]
    assert problems["good.html"] == ""
    nothing = check_pages.PageReport("comparison_report.html", 400, "system", title="x 2025-11")
    assert check_pages.failures(nothing) == [
        "comparison_report.html at 400 px (system fonts): the page does not open with its "
        "summary block (the verdict)"]
