"""One notebook run as a self-contained task: bytes in, bytes out, no shared filesystem.

``run_task(spec, snapshot, upstream)`` runs on a Dask worker (or in-process): it writes the
notebook, the data snapshot and any upstream files into a temporary folder, executes the
notebook with papermill, exports its HTML page, and returns the executed notebook, the page and
every file the notebook saved, as bytes. It never raises: a failure is a ``failed`` result that
keeps whatever was produced (the partial notebook and its page).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report_lib.errors import PipelineError
from report_lib.pipeline.execute import NotebookRun, execute_notebook, first_line, resolve_kernel
from report_lib.pipeline.export import export_html


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to run one notebook; every field pickles small."""

    name: str  # notebook name ("reports")
    slug: str  # the run's folder under runs/ (or "" for a notebook run once)
    source: bytes  # the notebook file
    parameters: dict[str, Any]  # papermill parameters, except the folders set on the worker
    kernel_name: str
    execution_timeout: int
    data_param: str | None = None  # parameter that receives the snapshot's path
    output_param: str | None = None  # parameter that receives the output folder
    input_param: str | None = None  # parameter that receives the upstream run's files
    back_link: str = "index.html"  # the page's link back to the index, relative to the page
    data_name: str = "data"  # the data source's name, kept in the snapshot's file name


@dataclass
class TaskResult:
    """How a run ended and what it produced (bytes); ``worker`` is the Dask worker address."""

    status: str  # ok | failed
    seconds: float
    worker: str
    notebook: bytes | None = None
    html: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    error: str | None = None
    note: str | None = None  # e.g. the worker ran its own interpreter's kernel


def worker_address() -> str:
    """The Dask worker this runs on, or "local" outside a worker."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def run_task(
    spec: TaskSpec, snapshot: bytes | None = None, upstream: TaskResult | None = None
) -> TaskResult:
    """Run one notebook in a private temporary folder and return everything as bytes."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="report-lib-run-") as tmp:
        folder = Path(tmp)
        try:
            result = _run_in(folder, spec, snapshot, upstream)
        except Exception as exc:  # the task must report, never raise
            result = TaskResult("failed", 0.0, worker_address(), error=_describe(exc))
            result.notebook, result.html = _read(folder / "executed.ipynb"), None
    result.seconds = time.perf_counter() - started
    return result


def _run_in(
    folder: Path, spec: TaskSpec, snapshot: bytes | None, upstream: TaskResult | None
) -> TaskResult:
    worker = worker_address()
    if upstream is not None and upstream.status != "ok":
        reason = f"not run: its input notebook failed ({upstream.error})"
        return TaskResult("failed", 0.0, worker, error=reason)
    kernel, note = resolve_kernel(spec.kernel_name)
    source = folder / f"{spec.name}.ipynb"
    source.write_bytes(spec.source)
    parameters = dict(spec.parameters)
    if spec.data_param and snapshot is not None:  # the page names it "<source> (snapshot)"
        data = folder / "data" / f"{spec.data_name} (snapshot).parquet"
        data.parent.mkdir()
        data.write_bytes(snapshot)
        parameters[spec.data_param] = str(data)
    outputs = folder / "out"
    if spec.output_param:
        outputs.mkdir()
        parameters[spec.output_param] = str(outputs)
    if spec.input_param and upstream is not None:
        parameters[spec.input_param] = str(_materialize(folder / "in", upstream.files))
    run = NotebookRun(spec.name, source, parameters, notebook=folder / "executed.ipynb")
    execute_notebook(run, kernel, spec.execution_timeout, False)
    page = None
    if run.notebook is not None and run.notebook.is_file():
        page = export_html(
            run.notebook, folder / "page.html", title=spec.name, back_link=spec.back_link
        )
    error: str | None = None
    if run.status != "ok":
        where = f"cell {run.cell_index}" if run.cell_index is not None else "a cell"
        error = f"{spec.name} failed at {where}: {run.ename}: {first_line(run.evalue)}"
    return TaskResult(
        "ok" if run.status == "ok" else "failed",
        run.seconds,
        worker,
        notebook=_read(folder / "executed.ipynb"),
        html=_read(page) if page else None,
        files=_collect(outputs),
        error=error,
        note=note,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PipelineError):
        return first_line(str(exc))
    return f"{type(exc).__name__}: {first_line(str(exc)) or repr(exc)}"


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None and path.is_file() else None


def _collect(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _materialize(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return folder
