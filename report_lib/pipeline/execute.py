"""Executing one notebook with papermill: the kernel check, the run, the record of how it ended."""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report_lib.errors import PipelineError


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


def first_line(text: str | None) -> str:
    """The first non-blank line of an error value ("" for none)."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def check_kernel(kernel_name: str) -> None:
    """PipelineError unless a Jupyter kernel named ``kernel_name`` is installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise PipelineError(
            f"Jupyter kernel '{kernel_name}' is not installed for {sys.executable}; run "
            "`make setup` (it registers 'report-lib' in .venv) or pass --kernel python3",
            ename="NoSuchKernel", evalue=kernel_name,
        ) from None


def execute_notebook(run: NotebookRun, kernel_name: str, execution_timeout: int,
                     progress: bool) -> None:
    """Run ``run.source`` into ``run.notebook``; record status, time and the failing cell."""
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
        run.cell_index = mark_interrupted(run.notebook, run.ename, run.evalue)
    finally:
        run.seconds = time.perf_counter() - started


def mark_interrupted(path: Path, ename: str, evalue: str) -> int | None:
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
        f"**Execution stopped{where}: {html.escape(ename)}: {html.escape(first_line(evalue))}**"
    )
    banner.metadata["tags"] = ["pipeline-error"]
    nb.cells.insert(0, banner)
    nbformat.write(nb, path)
    return index
