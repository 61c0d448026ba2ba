"""The headless run: execute the notebooks with papermill, export shareable HTML, write an index.

``run_pipeline(out_dir, parameters)`` writes::

    out_dir/index.html                 links every page, the run's parameters, versions and time
    out_dir/NAME.html                  each executed notebook without code cells (figures embedded)
    out_dir/notebooks/NAME.ipynb       the executed notebooks (kept when a cell fails)
    out_dir/reports/, out_dir/benchmark/   what the notebooks save (their ``output_dir``)

Parameters go only to the notebooks that declare them (papermill's parameter inspection); the
benchmark's output folder becomes the comparison notebook's ``results_dir``.
"""

from __future__ import annotations

import html
import json
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from report_lib import config
from report_lib.errors import PipelineError

NOTEBOOKS: tuple[str, ...] = ("reports", "benchmark", "comparison_report")
# Where a notebook's output_dir goes when the caller does not set one (relative to out_dir).
OUTPUT_SUBDIRS: dict[str, str] = {"reports": "reports", "benchmark": "benchmark"}
# A notebook parameter fed from another notebook's output_dir.
FED_BY: dict[tuple[str, str], str] = {("comparison_report", "results_dir"): "benchmark"}
CORE_PACKAGES: tuple[str, ...] = (
    "report-lib", "pandas", "numpy", "matplotlib", "papermill", "nbconvert", "nbclient",
    "ipykernel", "boto3", "botocore", "aiobotocore", "dask", "distributed", "nh3", "mistune",
    "openpyxl",
)
# Cells removed from the shared HTML (their input is hidden anyway; they have no output).
HIDDEN_CELL_TAGS: frozenset[str] = frozenset(
    {"remove-cell", "remove_cell", "parameters", "injected-parameters"}
)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class NotebookRun:
    """One notebook of the pipeline: what ran, with which parameters, and how it ended."""

    name: str
    source: Path
    parameters: dict[str, Any]  # what the pipeline passed (papermill injects these)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)  # papermill inspection
    status: str = "not run"  # ok | failed | not run
    notebook: Path | None = None  # the executed notebook
    html: Path | None = None
    seconds: float = 0.0
    cell_index: int | None = None
    exec_count: int | None = None
    ename: str | None = None
    evalue: str | None = None


@dataclass
class PipelineResult:
    """Every notebook's run, the index page and the run's timing."""

    out_dir: Path
    index: Path
    runs: list[NotebookRun]
    started: str
    seconds: float
    kernel_name: str
    packages: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(run.status == "ok" for run in self.runs)

    @property
    def failed(self) -> NotebookRun | None:
        return next((run for run in self.runs if run.status == "failed"), None)


# ---------------------------------------------------------------- notebooks and parameters
def resolve_notebooks(names: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """(name, path) for names in config.NOTEBOOKS_DIR ("reports" or "reports.ipynb") or paths."""
    resolved = []
    for item in names or NOTEBOOKS:
        path = Path(item)
        if path.suffix != ".ipynb" or not path.is_file():
            path = config.NOTEBOOKS_DIR / f"{Path(item).stem}.ipynb"
        if not path.is_file():
            known = ", ".join(p.stem for p in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")))
            raise PipelineError(
                f"notebook '{item}' not found in {config.NOTEBOOKS_DIR}; choose from: {known}",
                notebook=str(item),
            )
        resolved.append((path.stem, path.resolve()))
    return resolved


def declared_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell (papermill inspection)."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def route_parameters(
    parameters: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
) -> dict[str, dict[str, Any]]:
    """Each notebook gets the given parameters it declares, plus its output folder under
    ``out_dir`` and (comparison) the benchmark's output folder; unknown names are an error."""
    known = set().union(*(set(d) for d in declared.values())) if declared else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise PipelineError(
            f"parameter(s) {', '.join(unknown)} are declared by none of the notebooks "
            f"({', '.join(declared)}); known parameters: {', '.join(sorted(known))}"
        )
    routed: dict[str, dict[str, Any]] = {}
    for name, names in declared.items():
        params = {k: v for k, v in parameters.items() if k in names}
        if "output_dir" in names and "output_dir" not in parameters:
            params["output_dir"] = str(out_dir / OUTPUT_SUBDIRS.get(name, name))
        routed[name] = params
    for (name, param), source in FED_BY.items():
        if (name in routed and param in declared[name] and param not in parameters
                and source in routed and "output_dir" in routed[source]):
            routed[name][param] = routed[source]["output_dir"]
    return routed


# ---------------------------------------------------------------- execution
def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise PipelineError(
            f"Jupyter kernel '{kernel_name}' is not installed for {sys.executable}; run "
            "`make setup` (it registers 'report-lib' in .venv) or pass --kernel python3",
            ename="NoSuchKernel", evalue=kernel_name,
        ) from None


# Parameters that name files: made absolute against the caller's folder, because the
# notebooks run with their own folder (notebooks/) as the working directory.
PATH_PARAMETERS = ("data_path", "output_dir", "results_dir")


def _absolute_paths(parameters: dict[str, Any]) -> dict[str, Any]:
    for name in PATH_PARAMETERS:
        value = parameters.get(name)
        if isinstance(value, str) and value and "://" not in value:
            parameters[name] = str(Path(value).expanduser().resolve())
    return parameters


def _execute(run: NotebookRun, kernel_name: str, execution_timeout: int, progress: bool) -> None:
    import papermill

    assert run.notebook is not None
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(run.source), str(run.notebook), parameters=run.parameters,
            kernel_name=kernel_name, execution_timeout=execution_timeout,
            progress_bar=progress, cwd=str(run.source.parent),
        )
        run.status = "ok"
    except papermill.PapermillExecutionError as exc:
        run.status = "failed"
        run.cell_index, run.exec_count = exc.cell_index, exc.exec_count
        run.ename, run.evalue = exc.ename, exc.evalue
    except Exception as exc:  # timeouts, dead kernels: papermill does not wrap them
        run.status = "failed"
        run.ename, run.evalue = type(exc).__name__, str(exc) or repr(exc)
        run.cell_index = _mark_interrupted(run.notebook, run.ename, run.evalue)
    finally:
        run.seconds = time.perf_counter() - started


def _mark_interrupted(path: Path, ename: str, evalue: str) -> int | None:
    """Add a banner to a notebook papermill left without one; return the last started cell."""
    import nbformat

    if not path.is_file():
        return None
    nb = nbformat.read(path, as_version=4)
    started = [i for i, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    index = started[-1] if started else None
    where = f" in cell {index}" if index is not None else ""
    banner = nbformat.v4.new_markdown_cell(
        f"**Execution stopped{where}: {html.escape(ename)}: {html.escape(_first_line(evalue))}**"
    )
    banner.metadata["tags"] = ["pipeline-error"]
    nb.cells.insert(0, banner)
    nbformat.write(nb, path)
    return index


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def export_html(notebook: Path, html_path: Path, *, title: str | None = None,
                back_link: str | None = "index.html") -> Path:
    """The executed notebook as one HTML page without code (lab template, images embedded as
    base64, outputs sanitized, stderr dropped)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from report_lib.reports.sanitize import sanitize_notebook_outputs

    nb = nbformat.read(notebook, as_version=4)
    sanitize_notebook_outputs(nb)
    if back_link:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"[← all pages]({back_link})"))
    exporter = HTMLExporter(
        template_name="lab", exclude_input=True, exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_CELL_TAGS), enabled=True),
        enabled=True,
    )
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title or notebook.stem}}
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


# ---------------------------------------------------------------- index page
def _link(path: Path | None, base: Path, text: str) -> str:
    if path is None or not path.exists():
        return "—"
    try:
        href = path.relative_to(base).as_posix()
    except ValueError:
        href = path.as_uri()
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'


def _outputs(run: NotebookRun, base: Path) -> str:
    folder = run.parameters.get("output_dir")
    if not folder or not Path(folder).is_dir():
        return "—"
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    return "<br>".join(_link(p, base, p.name) for p in files) or "—"


def _parameters_table(run: NotebookRun) -> str:
    """Every parameter the notebook declares: the value it ran with and where that came from."""
    esc = html.escape
    rows = []
    for name, info in run.declared.items():
        if name in run.parameters:
            value = json.dumps(run.parameters[name], ensure_ascii=False, default=str)
            source = "pipeline"
        else:
            value, source = str(info.get("default", "")), "notebook default"
        rows.append(f"<tr><td><code>{esc(name)}</code></td><td><code>{esc(value)}</code></td>"
                    f"<td>{esc(source)}</td><td>{esc(str(info.get('help', '')))}</td></tr>")
    if not rows:  # declared parameters unknown: show what was passed
        rows = [f"<tr><td><code>{esc(k)}</code></td><td><code>"
                f"{esc(json.dumps(v, ensure_ascii=False, default=str))}</code></td>"
                "<td>pipeline</td><td></td></tr>" for k, v in run.parameters.items()]
    return (f"<h3>{esc(run.name)}</h3><table><tr><th>parameter</th><th>value</th><th>from</th>"
            f"<th>meaning</th></tr>{''.join(rows)}</table>")


def write_index(result: PipelineResult) -> Path:
    """``out_dir/index.html``: status, a link to every page, parameters, versions, time."""
    esc = html.escape
    base = result.out_dir
    failed = result.failed
    if failed is not None:
        where = f"cell {failed.cell_index}" if failed.cell_index is not None else "a cell"
        status = (f'<p class="failed">FAILED in <b>{esc(failed.name)}</b> ({esc(where)}): '
                  f"{esc(str(failed.ename))}: {esc(_first_line(failed.evalue))}</p>")
    else:
        status = '<p class="ok">All notebooks ran.</p>'
    rows = []
    for run in result.runs:
        rows.append(
            f"<tr><td>{esc(run.name)}</td><td class=\"{esc(run.status.replace(' ', '-'))}\">"
            f"{esc(run.status)}</td><td>{run.seconds:.1f} s</td>"
            f"<td>{_link(run.html, base, run.name + '.html')}</td>"
            f"<td>{_link(run.notebook, base, run.name + '.ipynb')}</td>"
            f"<td>{_outputs(run, base)}</td></tr>"
        )
    params = "".join(_parameters_table(run) for run in result.runs)
    versions = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in result.packages.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>EV Infra Report Lab — pipeline run {esc(result.started)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .3em .7em; text-align: left; vertical-align: top; }}
.ok {{ color: #1a7f37; }} .failed {{ color: #cf222e; font-weight: bold; }}
.not-run {{ color: #777; }} pre {{ background: #f6f8fa; padding: .5em; }}
</style></head><body>
<h1>EV Infra Report Lab — pipeline run</h1>
{status}
<p>Started {esc(result.started)}, took {result.seconds:.1f} s; kernel
<code>{esc(result.kernel_name)}</code>; host {esc(platform.node())}
({esc(platform.platform())}).</p>
<h2>Pages</h2>
<table><tr><th>notebook</th><th>status</th><th>time</th><th>page</th><th>executed notebook</th>
<th>saved outputs</th></tr>
{"".join(rows)}
</table>
<h2>Parameters</h2>
{params}
<h2>Package versions</h2>
<table><tr><th>package</th><th>version</th></tr>{versions}</table>
</body></html>
"""
    result.index.write_text(page, encoding="utf-8")
    return result.index


# ---------------------------------------------------------------- the pipeline
def run_pipeline(
    out_dir: Path,
    parameters: Mapping[str, Any] | None = None,
    notebooks: Sequence[str] | None = None,
    kernel_name: str = config.KERNEL_NAME,
    execution_timeout: int = 600,
    progress: bool = True,
) -> PipelineResult:
    """Run the notebooks in order, export each to HTML and write the index.

    On a failing cell the partial notebook and its HTML are kept, later notebooks are not run,
    the index marks the failure, and ``PipelineError`` is raised with the notebook, cell index,
    exception name and value.
    """
    out_dir = Path(out_dir).resolve()
    selected = resolve_notebooks(notebooks)
    declared = {name: declared_parameters(path) for name, path in selected}
    routed = route_parameters(_absolute_paths(dict(parameters or {})), declared, out_dir)
    _check_kernel(kernel_name)
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    clock = time.perf_counter()
    runs = [NotebookRun(name, path, routed[name], declared[name]) for name, path in selected]
    result = PipelineResult(out_dir, out_dir / "index.html", runs, started_at, 0.0, kernel_name,
                            config.package_versions(CORE_PACKAGES))
    for run in runs:
        run.notebook = out_dir / "notebooks" / f"{run.name}.ipynb"
        if progress:
            print(f"pipeline: running {run.name}.ipynb", file=sys.stderr, flush=True)
        _execute(run, kernel_name, execution_timeout, progress)
        if run.notebook.is_file():
            run.html = export_html(run.notebook, out_dir / f"{run.name}.html", title=run.name)
        if run.status == "failed":
            break
    result.seconds = time.perf_counter() - clock
    write_index(result)
    failed = result.failed
    if failed is not None:
        cell = f"cell {failed.cell_index}" if failed.cell_index is not None else "a cell"
        if failed.exec_count is not None:
            cell += f" (In [{failed.exec_count}])"
        raise PipelineError(
            f"notebook '{failed.name}' failed at {cell}: {failed.ename}: "
            f"{_first_line(failed.evalue)}\n"
            f"  partial notebook: {failed.notebook}\n  its page: {failed.html}\n"
            f"  index: {result.index}",
            notebook=failed.name, cell_index=failed.cell_index, ename=failed.ename,
            evalue=failed.evalue,
        )
    return result


# ---------------------------------------------------------------- command line
def parse_value(text: str) -> Any:
    """A ``-p`` value the way papermill reads it: True/False/None, int, float, else str."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_yaml(text: str) -> dict[str, Any]:
    """``-y`` value: a YAML mapping given inline or as a file path."""
    path = Path(text)
    source = path.read_text(encoding="utf-8") if len(text) < 4096 and path.is_file() else text
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise PipelineError(f"-y {text!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PipelineError(
            f"-y {text!r} must be a YAML mapping (NAME: VALUE), got {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}
