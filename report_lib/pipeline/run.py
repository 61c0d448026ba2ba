"""The headless run: execute the notebooks with papermill, export shareable HTML, write an index.

``run_pipeline(out_dir, parameters)`` writes::

    out_dir/index.html                 links every page, the run's parameters, versions and time
    out_dir/NAME.html                  each executed notebook without code cells (figures embedded)
    out_dir/notebooks/NAME.ipynb       the executed notebooks (kept when a cell fails)
    out_dir/reports/, out_dir/benchmark/   what the notebooks save (their ``output_dir``)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.errors import OutputError, PipelineError
from report_lib.pipeline.execute import (
    NotebookRun,
    PipelineResult,
    execute_notebook,
    first_line,
    resolve_kernel,
)
from report_lib.pipeline.export import export_html
from report_lib.pipeline.index import write_index
from report_lib.pipeline.parameters import (
    absolute_paths,
    as_text,
    declared_parameters,
    resolve_notebooks,
    route_parameters,
    validate_parameters,
)
from report_lib.pipeline.sitefiles import check_site, claim_site_file, owned_paths

log = logging.getLogger(__name__)  # progress (INFO) and notes (WARNING); the CLI shows them

CORE_PACKAGES: tuple[str, ...] = (
    "report-lib", "pandas", "numpy", "matplotlib", "papermill", "nbconvert", "nbclient",
    "ipykernel", "boto3", "botocore", "aiobotocore", "dask", "distributed", "nh3", "mistune",
    "openpyxl",
)


def _failure(result: PipelineResult, failed: NotebookRun) -> PipelineError:
    cell = f"cell {failed.cell_index}" if failed.cell_index is not None else "a cell"
    if failed.exec_count is not None:
        cell += f" (In [{failed.exec_count}])"
    return PipelineError(
        f"notebook '{failed.name}' failed at {cell}: {failed.ename}: "
        f"{first_line(failed.evalue)}\n"
        f"  partial notebook: {failed.notebook}\n  its page: {failed.html}\n"
        f"  index: {result.index}",
        notebook=failed.name, cell_index=failed.cell_index, ename=failed.ename,
        evalue=failed.evalue,
    )


def _unwritable(result: PipelineResult, exc: OSError) -> OutputError:
    """The site could not be written: which file and why, and any notebook's own failure (the
    reports notebook names the fallback file that holds its reports)."""
    failed = result.failed
    why = (f"; notebook '{failed.name}' failed first: {failed.ename}: {first_line(failed.evalue)}"
           if failed is not None and failed.ename else "")
    return OutputError(
        f"pipeline: cannot write {exc.filename or result.out_dir} ({exc.strerror or exc}); "
        f"the site in {result.out_dir} is incomplete{why}"
    )


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
    exception name and value. Unknown parameter names and values of the wrong type, outside
    their choices or range raise ``ConfigError`` before any kernel starts.
    """
    out_dir = Path(out_dir).resolve()
    config.export_home()  # the kernels start in the notebooks' folder: same data/ and outputs/
    selected = resolve_notebooks(notebooks)
    declared = {name: declared_parameters(path) for name, path in selected}
    given = as_text(absolute_paths(dict(parameters or {})), declared)
    routed = route_parameters(given, declared, out_dir)
    for names in declared.values():  # each notebook checks what it will receive
        validate_parameters({k: v for k, v in given.items() if k in names}, names)
    outputs = [Path(p["output_dir"]) for p in routed.values() if p.get("output_dir")]
    check_site(out_dir, owned_paths(out_dir, [name for name, _ in selected],
                                    [p for p in outputs if p.is_relative_to(out_dir)]))
    kernel_name, note = resolve_kernel(kernel_name)
    if note:
        log.warning(note)
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    clock = time.perf_counter()
    runs = [NotebookRun(name, path, routed[name], declared[name]) for name, path in selected]
    result = PipelineResult(out_dir, out_dir / "index.html", runs, started_at, 0.0, kernel_name,
                            config.package_versions(CORE_PACKAGES))
    try:
        for run in runs:
            # papermill opens it by name: a link there is removed first (its target untouched)
            run.notebook = claim_site_file(out_dir, out_dir / "notebooks" / f"{run.name}.ipynb")
            if progress:
                log.info("pipeline: running %s.ipynb", run.name)
            execute_notebook(run, kernel_name, execution_timeout, progress, site=out_dir)
            if run.notebook.is_file() and run.notebook.stat().st_size:  # saved by papermill
                run.html = export_html(run.notebook, out_dir / f"{run.name}.html",
                                       title=run.name)
            if run.status == "failed":
                break
        result.seconds = time.perf_counter() - clock
        write_index(result)
    except OSError as exc:  # the site cannot be written (a full disk): one line, what was lost
        raise _unwritable(result, exc) from None
    failed = result.failed
    if failed is not None:
        raise _failure(result, failed)
    return result
