"""Executing one notebook with papermill: the kernel check, the run, the record of how it ended."""

from __future__ import annotations

import html
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report_lib.pipeline.sharing import share_paths, write_notebook


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


# The kernel name used when the named kernel is not installed: ipykernel in this interpreter.
CURRENT_PYTHON = "current-python"


def resolve_kernel(kernel_name: str) -> tuple[str, str | None]:
    """(kernel to run, a one-line note or None): ``kernel_name`` when it is installed, else
    this interpreter's own ipykernel (it has every package the pipeline runs with)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        return CURRENT_PYTHON, (
            f"pipeline: Jupyter kernel '{kernel_name}' is not installed; running the notebooks "
            f"with this interpreter's kernel ({sys.executable}) instead"
        )
    return kernel_name, None


def _kernel_manager_class() -> type:
    """A kernel manager that talks to its kernel over local IPC sockets in Jupyter's runtime
    folder (so ipykernel has no reason to warn about unencrypted TCP) and that runs
    ``CURRENT_PYTHON`` as ``sys.executable -m ipykernel_launcher``."""
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    class PipelineKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(parents=True, exist_ok=True)
            self.transport = "ipc"
            stem = runtime / f"kernel-{uuid.uuid4()}"
            self.connection_file = f"{stem}.json"
            self.ip = f"{stem}-ipc"  # sockets {ip}-1 … {ip}-5, removed with the kernel

        @property
        def kernel_spec(self) -> KernelSpec | None:
            if self.kernel_name == CURRENT_PYTHON:
                return KernelSpec(resource_dir="", **get_kernel_dict())
            return super().kernel_spec

    return PipelineKernelManager


def execute_notebook(run: NotebookRun, kernel_name: str, execution_timeout: int,
                     progress: bool, *, site: Path | None = None) -> None:
    """Run ``run.source`` into ``run.notebook``; record status, time and the failing cell.

    The executed notebook is left without local paths (pipeline.sharing.share_paths): paths
    inside ``site`` (default: the notebook's folder) become relative, others their last part.
    """
    import papermill

    assert run.notebook is not None
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(run.source), str(run.notebook), parameters=run.parameters,
            kernel_name=kernel_name, execution_timeout=execution_timeout,
            progress_bar=progress, kernel_manager_class=_kernel_manager_class(),
            # the kernel starts in the notebook's folder; papermill's own ``cwd`` would chdir
            # this whole process, which concurrent runs in one Dask worker cannot share
            resources={"metadata": {"path": str(run.source.parent)}},
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
        if run.notebook.is_file() and run.notebook.stat().st_size:
            share_paths(run.notebook, site)


def mark_interrupted(path: Path, ename: str, evalue: str) -> int | None:
    """Add a banner to a notebook papermill left without one; return the last started cell."""
    import nbformat

    if not path.is_file():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):  # never written whole (papermill could not save it)
        return None
    started = [i for i, cell in enumerate(nb.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    index = started[-1] if started else None
    where = f" in cell {index}" if index is not None else ""
    banner = nbformat.v4.new_markdown_cell(
        f"**Execution stopped{where}: {html.escape(ename)}: {html.escape(first_line(evalue))}**"
    )
    banner.metadata["tags"] = ["pipeline-error"]
    nb.cells.insert(0, banner)
    write_notebook(nb, path)
    return index
