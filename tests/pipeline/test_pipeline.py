"""The headless pipeline: parameter routing, HTML export, the index page, failures, the CLI."""

from __future__ import annotations

import argparse
import base64
import html
import io
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from report_lib import config
from report_lib.cli import pipeline as pipeline_command
from report_lib.cli.main import main as cli_main
from report_lib.data.sample import synthesize
from report_lib.errors import ConfigError, PipelineError
from report_lib.execution.base import STRATEGIES
from report_lib.llm.backends import BACKENDS
from report_lib.pipeline import export, index, parameters
from report_lib.pipeline import run as pipeline
from report_lib.pipeline.execute import CURRENT_PYTHON, NotebookRun, PipelineResult
from report_lib.pipeline.page import page_summary
from report_lib.pipeline.selfcontained import external_resources
from tests.helpers import REPO, column_sides, load_script

PLANTED = "<script>alert(1)</script>"
IMG_RE = re.compile(r'<img[^>]*src="data:image/png;base64,')


class _Scripts(HTMLParser):
    """Text inside <script> elements and every on* attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.script_text: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        self.handlers += [f"{tag}.{name}={value}" for name, value in attrs
                          if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def scripts_of(page: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(page)
    return parser


# ---------------------------------------------------------------- parameters and routing
@pytest.mark.parametrize(("text", "value"), [
    ("True", True), ("false", False), ("None", None), ("12", 12), ("0.05", 0.05),
    ("-3", -3), ("1e-3", 0.001), ("GS차지비", "GS차지비"), ("2025-11", "2025-11"), ("", ""),
])
def test_parse_value_like_papermill(text: str, value: object) -> None:
    parsed = parameters.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_yaml_inline_and_file(tmp_path: Path) -> None:
    assert parameters.parse_yaml("scenarios: [seed, scale]\nrepeats: 2") == {
        "scenarios": ["seed", "scale"], "repeats": 2}
    path = tmp_path / "params.yaml"
    path.write_text("n_values:\n  - 3\n  - 30\nfocus_cpo: 에버온\n", encoding="utf-8")
    assert parameters.parse_yaml(str(path)) == {"n_values": [3, 30], "focus_cpo": "에버온"}
    with pytest.raises(ConfigError, match="mapping"):
        parameters.parse_yaml("[1, 2]")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parameters.parse_yaml("a: [1, 2")


DECLARED = {
    "reports": {"data_path": {}, "time_scale": {}, "output_dir": {}, "focus_cpo": {}},
    "benchmark": {"scenarios": {}, "time_scale": {}, "output_dir": {}},
    "comparison_report": {"results_dir": {}},
}


def test_route_parameters_sends_each_name_where_declared(tmp_path: Path) -> None:
    routed = parameters.route_parameters(
        {"time_scale": 0.1, "focus_cpo": "에버온", "scenarios": ["seed"]}, DECLARED, tmp_path)
    assert routed == {
        "reports": {"time_scale": 0.1, "focus_cpo": "에버온",
                    "output_dir": str(tmp_path / "reports")},
        "benchmark": {"time_scale": 0.1, "scenarios": ["seed"],
                      "output_dir": str(tmp_path / "benchmark")},
        "comparison_report": {"results_dir": str(tmp_path / "benchmark")},
    }


def test_route_parameters_explicit_dirs_win(tmp_path: Path) -> None:
    routed = parameters.route_parameters({"output_dir": "/x", "results_dir": "/r"}, DECLARED,
                                       tmp_path)
    assert routed["reports"]["output_dir"] == "/x"
    assert routed["benchmark"]["output_dir"] == "/x"
    assert routed["comparison_report"] == {"results_dir": "/r"}


def test_route_parameters_without_benchmark_leaves_results_dir_default(tmp_path: Path) -> None:
    declared = {"comparison_report": DECLARED["comparison_report"]}
    assert parameters.route_parameters({}, declared, tmp_path) == {"comparison_report": {}}


def test_unknown_parameter_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="focus_cop"):
        parameters.route_parameters({"focus_cop": "x"}, DECLARED, tmp_path)


def test_resolve_notebooks() -> None:
    resolved = parameters.resolve_notebooks(None)
    assert [name for name, _ in resolved] == list(parameters.NOTEBOOKS)
    assert all(path.parent == config.NOTEBOOKS_DIR for _, path in resolved)
    assert parameters.resolve_notebooks(["reports.ipynb"])[0][0] == "reports"
    with pytest.raises(ConfigError, match="not found"):
        parameters.resolve_notebooks(["nope"])


def test_every_notebook_declares_typed_documented_parameters() -> None:
    for name, path in parameters.resolve_notebooks(None):
        declared = parameters.declared_parameters(path)
        assert declared, name
        for param, info in declared.items():
            assert info["inferred_type_name"] not in ("None", ""), (name, param)
            assert info["help"], (name, param)


REPORTS_DECLARED = {
    "window_months": {"inferred_type_name": "int", "help": "months in the trend window"},
    "time_scale": {"inferred_type_name": "float", "help": ""},
    "language": {"inferred_type_name": "str", "help": ""},
    "backend": {"inferred_type_name": "str", "help": ""},
    "strategy": {"inferred_type_name": "str", "help": ""},
    "stream": {"inferred_type_name": "bool", "help": ""},
    "target_month": {"inferred_type_name": "str", "help": ""},
    "strategies": {"inferred_type_name": "", "help": ""},
    "n_values": {"inferred_type_name": "list[int]", "help": ""},
    "deadline_s": {"inferred_type_name": "float", "help": ""},
}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("window_months", "twelve",
     "parameter window_months = 'twelve': expected an integer (months in the trend window)"),
    ("window_months", 0, "parameter window_months = 0: expected a number at least 1 and at most "
                         "120 (months in the trend window)"),
    ("time_scale", 0.0, "parameter time_scale = 0.0: expected a number above 0 and at most 100"),
    ("time_scale", True, "parameter time_scale = True: expected a number"),
    ("deadline_s", 0, "parameter deadline_s = 0: expected a number above 0 and at most 86400"),
    ("language", "fr", "parameter language = 'fr': expected one of ko, en"),
    ("backend", "openai", "parameter backend = 'openai': expected one of "
                          + ", ".join(BACKENDS.names())),
    ("strategy", "fibers", "parameter strategy = 'fibers': expected one of "
                           + ", ".join(STRATEGIES.names())),
    ("strategies", ["thread", "fibers"], "parameter strategies = ['thread', 'fibers']: expected "
                                         "one of " + ", ".join(STRATEGIES.names())),
    ("stream", "yes", "parameter stream = 'yes': expected True or False"),
    ("target_month", "2025-13", "parameter target_month = '2025-13': expected \"latest\" or "
                                "YYYY-MM"),
    ("n_values", [3, "x"], "parameter n_values = [3, 'x']: expected a list of int values"),
    ("strategies", {"scale": ["thread", "fibers"]}, "parameter strategies = {'scale': "
     "['thread', 'fibers']}: expected one of " + ", ".join(STRATEGIES.names())),
    ("time_scale", {"seed": 0.25}, "parameter time_scale = {'seed': 0.25}: expected a number"),
])
def test_validate_parameters_names_parameter_value_and_expectation(
        name: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parameters.validate_parameters({name: value}, REPORTS_DECLARED)
    assert str(info.value) == message


def test_validate_parameters_accepts_good_values() -> None:
    good = {"window_months": 6, "time_scale": 1, "language": "en", "backend": "offline",
            "strategy": "thread", "stream": True, "target_month": "2025-11",
            "strategies": ["sequential", "dask"], "n_values": [3, 30], "unknown_type": object()}
    parameters.validate_parameters(good, REPORTS_DECLARED)
    parameters.validate_parameters({"target_month": "latest"}, REPORTS_DECLARED)


def test_numbers_given_to_text_parameters_become_text() -> None:
    declared = {"reports": {"tpm_limit": {"inferred_type_name": "str"},
                            "time_scale": {"inferred_type_name": "float"}},
                "benchmark": {"time_scale": {"inferred_type_name": "dict"}}}
    got = parameters.as_text({"tpm_limit": 1000, "time_scale": 1, "stream": True}, declared)
    assert got == {"tpm_limit": "1000", "time_scale": 1, "stream": True}
    parameters.validate_parameters({"tpm_limit": 1000}, declared["reports"])  # papermill's way


def test_mappings_are_checked_value_by_value() -> None:
    bench = {"time_scale": {"inferred_type_name": "dict", "help": ""},
             "strategies": {"inferred_type_name": "dict", "help": ""}}
    parameters.validate_parameters({"time_scale": {"seed": 0.25}, "strategies": {
        "scale": ["thread", "asyncio"]}}, bench)
    parameters.validate_parameters({"time_scale": 0.05}, bench)  # one number for every scenario
    with pytest.raises(ConfigError) as info:
        parameters.validate_parameters({"time_scale": {"seed": 0.25, "scale": -1}}, bench)
    assert str(info.value) == ("parameter time_scale = {'seed': 0.25, 'scale': -1}: expected a "
                               "number above 0 and at most 100")


def test_notebook_check_reads_the_annotations_of_the_parameters_cell() -> None:
    namespace = {"__annotations__": {"window_months": int, "language": str, "n": list[int]},
                 "window_months": 12, "language": "ko", "n": [1]}
    parameters.check_notebook_parameters(namespace)
    namespace["window_months"] = "twelve"  # what papermill's injected cell would set
    with pytest.raises(ConfigError, match="parameter window_months = 'twelve': expected an "
                                          "integer"):
        parameters.check_notebook_parameters(namespace)
    namespace.update(window_months=12, n=["a"])
    with pytest.raises(ConfigError, match="expected a list of int values"):
        parameters.check_notebook_parameters(namespace)


def test_bad_parameter_stops_before_any_kernel_starts(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_kernel(*args: object, **kw: object) -> None:
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(pipeline, "execute_notebook", no_kernel)
    monkeypatch.setattr(pipeline, "resolve_kernel", no_kernel)
    with pytest.raises(ConfigError, match="parameter language = 'fr': expected one of ko, en"):
        pipeline.run_pipeline(tmp_path, {"language": "fr"}, notebooks=["reports"],
                              progress=False)
    assert not (tmp_path / "index.html").exists()


def test_bad_parameter_exits_2_with_one_line(capsys) -> None:
    assert cli_main(["pipeline", "--notebooks", "reports", "-p", "window_months", "twelve"]) == 2
    err = capsys.readouterr().err
    assert err == ("report-lib: error: parameter window_months = 'twelve': expected an integer "
                   "(months in the trend window)\n")


# ---------------------------------------------------------------- export and index
def _png() -> str:
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    Figure(figsize=(1, 1)).savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def test_export_html_hides_code_embeds_images_and_sanitizes(tmp_path: Path) -> None:
    chart = new_code_cell("display(secret_function())")
    chart.outputs = [new_output("display_data", data={"image/png": _png(),
                                                      "text/plain": "<Figure>"})]
    report = new_code_cell("show_report()")
    report.outputs = [new_output("display_data", data={
        "text/html": f"<h1>KPI</h1><p>GS차지비 {PLANTED}</p><img src=x onerror=alert(2)>"})]
    hidden = new_code_cell("print('internal check')")
    hidden.metadata["tags"] = ["remove-cell"]
    hidden.outputs = [new_output("stream", name="stdout", text="internal check\n")]
    nb = new_notebook(cells=[new_markdown_cell("# Title"), chart, report, hidden])
    source = tmp_path / "nb.ipynb"
    nbformat.write(nb, source)
    page = export.export_html(source, tmp_path / "nb.html", title="nb").read_text("utf-8")
    assert "secret_function" not in page and "show_report" not in page
    assert len(IMG_RE.findall(page)) == 1
    assert "<h1>KPI</h1>" in page and "GS차지비" in page
    found = scripts_of(page)
    assert not any("alert" in text for text in found.script_text)
    assert not found.handlers
    assert "internal check" not in page
    assert 'href="index.html"' in page


def test_write_index_lists_pages_parameters_and_failure(tmp_path: Path) -> None:
    ok_html = tmp_path / "reports.html"
    ok_html.write_text("<html></html>")
    runs = [
        NotebookRun("reports", Path("reports.ipynb"), {"focus_cpo": "<b>x</b>"},
                             {"focus_cpo": {"default": '"GS차지비"', "help": "operator"},
                              "window_months": {"default": "12", "help": "months"}},
                             status="ok", html=ok_html, seconds=1.5),
        NotebookRun("benchmark", Path("benchmark.ipynb"), {}, status="failed",
                             cell_index=4, ename="ValueError", evalue="bad <scenario>"),
        NotebookRun("comparison_report", Path("c.ipynb"), {}),
    ]
    result = PipelineResult(tmp_path, tmp_path / "index.html", runs, "2025-12-01T09:00",
                                     3.0, "report-lib", {"pandas": "3.0"})
    page = index.write_index(result).read_text("utf-8")
    assert '<a href="reports.html">' in page
    assert "FAILED in <b>benchmark</b> (cell 4): ValueError: bad &lt;scenario&gt;" in page
    assert "not run" in page
    assert "&quot;&lt;b&gt;x&lt;/b&gt;&quot;" in page  # given value, escaped
    assert "notebook default" in page and "12" in page
    assert "<td>pandas</td><td>3.0</td>" in page
    assert "2025-12-01T09:00" in page


def _executed(path: Path, *summaries: object) -> Path:
    """An executed notebook whose cells displayed ``summaries`` (page_summary objects)."""
    cells = []
    for summary in summaries:
        cell = new_code_cell("display(...)")
        bundle = summary._repr_mimebundle_()  # type: ignore[attr-defined]
        cell.outputs = [new_output("display_data", data=bundle)]
        cells.append(cell)
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_index_opens_with_what_came_out_and_folds_the_parameters(tmp_path: Path) -> None:
    reports_dir = tmp_path / "reports"
    reports_dir.mkdir()
    (reports_dir / "kpi.md").write_text("# KPI <snapshot>\n", "utf-8")
    (tmp_path / "reports.html").write_text("<html></html>")
    (tmp_path / "comparison_report.html").write_text("<html></html>")
    headline = page_summary("2025-11 — GS차지비", figures=[("chargers, 2025-11", "459,120")],
                            lines=["3 of 3 reports delivered"],
                            links=[("KPI <snapshot>", "kpi.md"), ("no such report", "trend.md")])
    verdict = page_summary("Verdict", lines=["3 reports: use thread, 2.00 s median."])
    runs = [
        NotebookRun("reports", Path("reports.ipynb"), {"output_dir": str(reports_dir)},
                    status="ok", html=tmp_path / "reports.html",
                    notebook=_executed(tmp_path / "reports.ipynb", headline)),
        NotebookRun("comparison_report", Path("c.ipynb"), {}, status="ok",
                    html=tmp_path / "comparison_report.html",
                    notebook=_executed(tmp_path / "c.ipynb", verdict)),
    ]
    result = PipelineResult(tmp_path, tmp_path / "index.html", runs, "2025-12-01T09:00", 3.0,
                            "report-lib", {"pandas": "3.0"})
    page = index.write_index(result).read_text("utf-8")
    order = [page.index(text) for text in (
        "All notebooks ran.", "What came out", "459,120", "3 of 3 reports delivered",
        "3 reports: use thread, 2.00 s median.", "<h2>Pages</h2>",
        "<details><summary>Parameters</summary>", "<details><summary>Package versions")]
    assert order == sorted(order)
    assert '<a href="reports.html">EV charging operators — monthly reports</a>: 2025-11' in page
    assert '<a href="comparison_report.html">Strategy comparison report</a>: Verdict' in page
    assert '<a href="reports/kpi.md">KPI &lt;snapshot&gt;</a>' in page  # escaped, relative
    assert "no such report" not in page  # a link to a file that is not there is not drawn
    assert str(tmp_path) not in page


def test_index_without_summaries_has_no_outcome_section(tmp_path: Path) -> None:
    runs = [NotebookRun("benchmark", Path("b.ipynb"), {}, status="ok",
                        notebook=_executed(tmp_path / "b.ipynb"))]
    result = PipelineResult(tmp_path, tmp_path / "index.html", runs, "2025-12-01T09:00", 1.0,
                            "report-lib", {})
    assert "What came out" not in index.write_index(result).read_text("utf-8")


# ---------------------------------------------------------------- command line
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pipeline_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_run_from_args_passes_parsed_parameters(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, capsys) -> None:
    seen = {}

    def fake(out_dir, parameters, **kw):
        seen.update(out_dir=out_dir, parameters=parameters, **kw)
        return PipelineResult(Path(out_dir), Path(out_dir) / "index.html", [], "now",
                                       0.0, kw["kernel_name"])

    monkeypatch.setattr(pipeline_command, "run_pipeline", fake)
    ns = _args("--out", str(tmp_path), "-y", "scenarios: [seed]\nrepeats: 3",
               "-p", "repeats", "2", "-p", "time_scale", "0.1", "-p", "focus_cpo", "에버온",
               "--notebooks", "reports", "benchmark", "--kernel", "python3",
               "--execution-timeout", "60", "--no-progress")
    assert pipeline_command.run(ns) == 0
    assert seen == {"out_dir": tmp_path, "parameters": {"scenarios": ["seed"], "repeats": 2,
                                                        "time_scale": 0.1, "focus_cpo": "에버온"},
                    "notebooks": ["reports", "benchmark"], "kernel_name": "python3",
                    "execution_timeout": 60, "progress": False}
    assert str(tmp_path / "index.html") in capsys.readouterr().out


def test_run_from_args_defaults() -> None:
    ns = _args()
    assert ns.out == config.OUTPUT_DIR / "site"
    assert ns.notebooks == list(parameters.NOTEBOOKS)
    assert ns.kernel == config.KERNEL_NAME
    assert ns.execution_timeout == 600


def test_run_from_args_reports_failure_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                         capsys) -> None:
    def fail(*args, **kw):
        raise PipelineError("notebook 'reports' failed at cell 5: DataError: no such file",
                            notebook="reports", cell_index=5, ename="DataError",
                            evalue="no such file")

    monkeypatch.setattr(pipeline_command, "run_pipeline", fail)
    assert pipeline_command.run(_args()) == 1
    err = capsys.readouterr().err
    assert "reports" in err and "cell 5" in err and "DataError: no such file" in err
    assert "Traceback" not in err


def test_bad_yaml_is_a_usage_error(capsys) -> None:
    assert cli_main(["pipeline", "-y", "a: [1"]) == 2
    assert "YAML" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end (kernels)
@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tidy CSV whose 3rd-largest operator is called <script>alert(1)</script>."""
    df = synthesize(months=13, operators=20, seed=3)
    last = df[df["month"] == df["month"].max()]
    victim = last.sort_values("total_chargers", ascending=False)["cpo"].iloc[2]
    df["cpo"] = df["cpo"].replace({victim: PLANTED})
    path = tmp_path_factory.mktemp("data") / "cpo.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def site(planted_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> PipelineResult:
    out = tmp_path_factory.mktemp("site")
    return pipeline.run_pipeline(out, {
        "data_path": str(planted_csv), "focus_cpo": PLANTED, "window_months": 6,
        "time_scale": 0.01, "scenarios": ["seed"], "strategies": ["sequential", "thread"],
        "repeats": 1, "n_values": [],
    }, execution_timeout=300, progress=False)


@pytest.mark.slow
def test_pipeline_writes_every_page_and_links_them(site: PipelineResult) -> None:
    assert site.ok and [r.status for r in site.runs] == ["ok", "ok", "ok"]
    index = site.index.read_text("utf-8")
    for name in parameters.NOTEBOOKS:
        assert (site.out_dir / f"{name}.html").is_file()
        assert (site.out_dir / "notebooks" / f"{name}.ipynb").is_file()
        assert f'href="{name}.html"' in index
        assert f'href="notebooks/{name}.ipynb"' in index
    assert "All notebooks ran." in index
    assert 'href="reports/result.json"' in index and 'href="benchmark/results.csv"' in index
    # what came out, first: the month's figures, the three reports, the verdict
    outcome = index[index.index("What came out"):index.index("<h2>Pages</h2>")]
    assert "chargers, " in outcome and "3 of 3 reports delivered" in outcome
    assert all(f'href="reports/{kind}.md"' in outcome for kind in config.REPORT_KINDS)
    assert '<a href="comparison_report.html">' in outcome and "3 reports: use " in outcome


@pytest.mark.slow
def test_pages_stand_alone_without_local_paths(site: PipelineResult, planted_csv: Path) -> None:
    pages = {p.name: p.read_text("utf-8") for p in sorted(site.out_dir.glob("*.html"))}
    assert set(pages) == {"index.html", *(f"{name}.html" for name in parameters.NOTEBOOKS)}
    for name, page in pages.items():
        assert external_resources(page) == [], name
        assert ">NaN<" not in page and ">None<" not in page, name
        assert not re.search(r"<tr>\s*<th[^>]*>\d+</th>", page), name  # no pandas index column
        assert str(site.out_dir) not in page and str(planted_csv.parent) not in page, name
        assert str(REPO) not in page, name
    notebooks = {p.stem: p for p in sorted((site.out_dir / "notebooks").glob("*.ipynb"))}
    assert set(notebooks) == set(parameters.NOTEBOOKS)
    for name, path in notebooks.items():  # the executed copies are shared too
        text = path.read_text("utf-8")
        for local in (site.out_dir, planted_csv.parent, REPO):
            assert str(local) not in text, (name, local)
        recorded = nbformat.reads(text, as_version=4).metadata["papermill"]
        assert (recorded["input_path"], recorded["output_path"]) == (f"{name}.ipynb",) * 2
    reports = nbformat.read(notebooks["reports"], as_version=4)
    assert reports.metadata["papermill"]["parameters"]["data_path"] == planted_csv.name
    assert reports.metadata["papermill"]["parameters"]["output_dir"] == "../reports"
    month = sorted(pd.read_csv(planted_csv)["month"])[-1]
    assert re.search(rf"<title>[^<]+ — {month} — [^<]+</title>", pages["reports.html"])
    assert "cpo.csv" in pages["reports.html"]  # the data source, by name


@pytest.mark.slow
def test_reports_page_holds_three_reports_and_charts(site: PipelineResult) -> None:
    page = (site.out_dir / "reports.html").read_text("utf-8")
    for kind in config.REPORT_KINDS:
        md = (site.out_dir / "reports" / f"{kind}.md").read_text("utf-8")
        heading = next(line[2:].strip() for line in md.splitlines() if line.startswith("# "))
        assert html.escape(heading, quote=False) in page, kind
    assert len(IMG_RE.findall(page)) >= 4  # top-15, mix, trend, focus vs market
    assert "generate_reports(" not in page  # no code cells


@pytest.mark.slow
def test_planted_script_does_not_survive(site: PipelineResult) -> None:
    reports = [(site.out_dir / "reports" / f"{k}.md").read_text("utf-8")
               for k in config.REPORT_KINDS]
    assert any(PLANTED in text for text in reports)  # it did reach the report text
    for name in parameters.NOTEBOOKS:
        page = (site.out_dir / f"{name}.html").read_text("utf-8")
        assert PLANTED not in page, name
        found = scripts_of(page)
        assert not any("alert(1)" in text for text in found.script_text), name
        assert not found.handlers, name
    index = site.index.read_text("utf-8")  # the parameters table shows it, escaped
    assert PLANTED not in index and html.escape(PLANTED) in index


@pytest.mark.slow
def test_comparison_page_has_conclusions_and_plots(site: PipelineResult) -> None:
    page = (site.out_dir / "comparison_report.html").read_text("utf-8")
    order = [page.index(text) for text in (
        '<div class="rl-summary"><h2>Verdict</h2>', "Which to use", "By scenario",
        "seed: at N=3 with concurrency 3")]
    assert order == sorted(order)  # the answer first, then the sentences
    assert len(IMG_RE.findall(page)) >= 3  # makespan, timeline, resources
    sides = {side for table in column_sides(page) for cells in table.values() for side in cells}
    assert sides == {"left", "right"}  # every cell aligned: text left, numbers right
    assert (site.out_dir / "benchmark" / "results.csv").is_file()


@pytest.mark.slow
def test_failing_notebook_keeps_partial_output(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(PipelineError) as info:
        pipeline.run_pipeline(tmp_path / "site", {"data_path": str(missing)},
                              notebooks=["reports"], progress=False)
    exc = info.value
    assert exc.notebook == "reports" and isinstance(exc.cell_index, int)
    assert exc.ename == "DataError" and "missing.csv" in exc.evalue
    partial = tmp_path / "site" / "notebooks" / "reports.ipynb"
    nb = nbformat.read(partial, as_version=4)
    assert nb.metadata["papermill"]["exception"] is True
    page = (tmp_path / "site" / "reports.html").read_text("utf-8")
    assert "missing.csv" in page
    index = (tmp_path / "site" / "index.html").read_text("utf-8")
    assert "FAILED in <b>reports</b>" in index and 'href="reports.html"' in index


@pytest.mark.slow
def test_cell_timeout_is_reported_with_its_cell(tmp_path: Path) -> None:
    params = new_code_cell("seconds: int = 30  # how long to sleep")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell("print('start')"),
                             new_code_cell("import time\ntime.sleep(seconds)")],
                      metadata={"kernelspec": {"name": config.KERNEL_NAME, "language": "python",
                                               "display_name": "Python (report-lib)"}})
    source = tmp_path / "sleepy.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(PipelineError) as info:
        pipeline.run_pipeline(tmp_path / "site", {"seconds": 30}, notebooks=[str(source)],
                              execution_timeout=2, progress=False)
    assert info.value.notebook == "sleepy"
    assert info.value.ename and "Timeout" in info.value.ename
    # cells: parameters, papermill's injected parameters, print, sleep → the sleep is cell 3
    assert info.value.cell_index == 3
    partial = nbformat.read(tmp_path / "site" / "notebooks" / "sleepy.ipynb", as_version=4)
    assert "Execution stopped in cell 3" in partial.cells[0].source  # the banner we add
    assert partial.cells[1 + 3].source.startswith("import time")
    assert (tmp_path / "site" / "sleepy.html").is_file()
    assert "FAILED in <b>sleepy</b>" in (tmp_path / "site" / "index.html").read_text("utf-8")


def test_relative_path_parameters_resolve_against_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from report_lib.pipeline.parameters import absolute_paths

    monkeypatch.chdir(tmp_path)
    got = absolute_paths({"data_path": "data/wb", "output_dir": "", "focus_cpo": "x/y"})
    assert got["data_path"] == str(tmp_path / "data" / "wb")
    assert got["output_dir"] == ""
    assert got["focus_cpo"] == "x/y"


def test_missing_kernel_falls_back_to_this_interpreter() -> None:
    assert pipeline.resolve_kernel(config.KERNEL_NAME) == (config.KERNEL_NAME, None)
    name, note = pipeline.resolve_kernel("no-such-kernel")
    assert name == CURRENT_PYTHON
    assert note == ("pipeline: Jupyter kernel 'no-such-kernel' is not installed; running the "
                    f"notebooks with this interpreter's kernel ({sys.executable}) instead")


@pytest.mark.slow
def test_kernel_runs_quietly_over_ipc_with_the_fallback_kernel(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    nb = new_notebook(cells=[new_code_cell("import sys\nprint(sys.executable)")],
                      metadata={"kernelspec": {"name": "no-such-kernel", "language": "python",
                                               "display_name": "gone"}})
    source = tmp_path / "tiny.ipynb"
    nbformat.write(nb, source)
    result = pipeline.run_pipeline(tmp_path / "site", {}, notebooks=[str(source)],
                                   kernel_name="no-such-kernel", progress=False)
    err = capfd.readouterr().err
    assert "without encryption" not in err and "WARNING" not in err
    assert err.count("is not installed") == 1
    executed = nbformat.read(tmp_path / "site" / "notebooks" / "tiny.ipynb", as_version=4)
    # this interpreter, as a shared notebook writes it (its environment folder as <python>)
    assert executed.cells[0].outputs[0]["text"].strip() == (
        "<python>" + sys.executable.removeprefix(sys.prefix))
    assert result.kernel_name == CURRENT_PYTHON


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_pages_pass_the_chromium_check(site: PipelineResult, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/check_pages.py on the site: no request, Korean drawn with and without CJK fonts,
    titles, narrow screens, links after a zip round trip (see the script)."""
    check_pages = load_script(REPO / "scripts" / "check_pages.py", "check_pages", monkeypatch)
    shots = tmp_path / "shots"
    shots.mkdir()
    assert check_pages.run_checks(site.out_dir, shots, [1280, 400], "chromium") == []
    assert len(list(shots.glob("*.png"))) == 2 * 2 * (len(parameters.NOTEBOOKS) + 1)


@pytest.mark.slow
def test_plain_papermill_run_stops_at_the_parameter_check(tmp_path: Path) -> None:
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(config.NOTEBOOKS_DIR / "reports.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"window_months": "twelve"}, kernel_name=config.KERNEL_NAME,
            progress_bar=False, cwd=str(config.NOTEBOOKS_DIR))
    assert info.value.ename == "ConfigError"
    assert info.value.evalue == "parameter window_months = 'twelve': expected an integer"
    # the check is the first cell after the parameters (papermill's injected cell comes between)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    checked = [c for c in executed.cells if c.cell_type == "code"
               and c.get("execution_count") is not None]
    assert "check_notebook_parameters(globals())" in checked[-1].source
