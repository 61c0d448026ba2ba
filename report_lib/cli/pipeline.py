"""``report-lib pipeline``: the notebooks run headless, exported as shareable HTML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.cli.common import RPM, SECONDS, TPM, Bounded, add_parser
from report_lib.errors import PipelineError
from report_lib.pipeline.grid import RUNS_PER_WORKER, GridOptions, limit_parameters, run_grid
from report_lib.pipeline.gridspec import MAX_GRID_RUNS, parse_grid
from report_lib.pipeline.manifest import STATUSES
from report_lib.pipeline.parameters import NOTEBOOKS, parse_value, parse_yaml
from report_lib.pipeline.run import run_pipeline


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "pipeline",
        help="run the notebooks headless (papermill) and export shareable HTML",
        description="Execute the notebooks with papermill, export them to HTML without code and "
        "write an index.html linking every page.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``report-lib pipeline``."""
    parser.add_argument(
        "--out", type=Path, default=config.OUTPUT_DIR / "site",
        help="output folder for index.html, the pages and the executed notebooks "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "-p", "--parameters", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
        help="a notebook parameter (repeatable); values are read like papermill's: "
        "True/False/None, int, float, else text. Sent only to notebooks that declare it",
    )
    parser.add_argument(
        "-y", "--parameters-yaml", action="append", metavar="YAML", default=[],
        help="parameters as YAML, inline or a file path (lists: -y 'scenarios: [seed, scale]'); "
        "-p wins over -y",
    )
    parser.add_argument(
        "--notebooks", nargs="+", default=list(NOTEBOOKS), metavar="NAME",
        help=f"notebooks to run, in order (default: {' '.join(NOTEBOOKS)})",
    )
    parser.add_argument(
        "--kernel", default=config.KERNEL_NAME,
        help="Jupyter kernel name (default: %(default)s, registered by `make setup`)",
    )
    parser.add_argument(
        "--execution-timeout", type=Bounded(int, 1, int(SECONDS.hi)), default=600,
        metavar="SECONDS",
        help="maximum seconds per cell (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_grid_arguments(parser)


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """A parameter grid fanned out on Dask, and one quota for all its runs."""
    g = parser.add_argument_group(
        "grid on Dask (each run: one papermill execution and its page, as a Dask task)"
    )
    g.add_argument(
        "--grid", action="append", default=[], metavar="NAME=V1,V2",
        help="vary a parameter of the notebooks that declare it (repeatable: the cartesian "
        "product); target_month=last:N takes the N last months, focus_cpo=top:N the N largest "
        "operators of the run's month. Notebooks without the parameter run once",
    )
    g.add_argument(
        "--grid-file", type=Path, metavar="YAML",
        help="runs as a YAML list of parameter mappings (crossed with --grid)",
    )
    g.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="an existing Dask scheduler (tcp://HOST:PORT); without it, a local cluster",
    )
    g.add_argument(
        "--workers", type=Bounded(int, 1, 256), metavar="N",
        help=f"processes of the local cluster (default: the CPU count, {os.cpu_count()})",
    )
    g.add_argument(
        "--runs-per-worker", type=Bounded(int, 1, 64), metavar="K", default=RUNS_PER_WORKER,
        help="notebook runs at once in each local-cluster process, each with its own kernel; "
        "raise it when runs mostly wait for the model (with --scheduler, the workers' "
        "--nthreads decides)",
    )
    g.add_argument(
        "--max-runs", type=Bounded(int, 1, 100_000), metavar="N", default=MAX_GRID_RUNS,
        help="refuse a grid of more than N runs, before anything starts (default: %(default)s)",
    )
    g.add_argument(
        "--skip-unchanged", action="store_true",
        help="skip a run whose parameters, data and notebook match a successful run in --out",
    )
    g.add_argument(
        "--tpm-limit", type=TPM, metavar="N",
        help="client-side tokens-per-minute limit for the whole pipeline, split over the runs "
        "that go at once",
    )
    g.add_argument(
        "--rpm-limit", type=RPM, metavar="N",
        help="client-side requests-per-minute limit, split the same way",
    )


def run(ns: argparse.Namespace) -> int:
    """Run the pipeline for parsed CLI options; print where the index is, or why it failed.

    Bad options and parameters (ConfigError: unknown name, wrong type, not a choice, out of
    range) stop before any kernel starts and reach the exit-code table in cli.main (exit 2)."""
    parameters: dict[str, Any] = {}
    for text in ns.parameters_yaml:
        parameters.update(parse_yaml(text))
    for name, value in ns.parameters:
        parameters[name] = parse_value(value)
    if ns.grid or ns.grid_file or ns.scheduler or ns.workers or ns.skip_unchanged:
        return run_grid_command(ns, parameters)
    parameters.update(limit_parameters(ns.tpm_limit, ns.rpm_limit))  # one run: the whole quota
    try:
        result = run_pipeline(
            ns.out, parameters, notebooks=ns.notebooks, kernel_name=ns.kernel,
            execution_timeout=ns.execution_timeout, progress=not ns.no_progress,
        )
    except PipelineError as exc:
        print(f"report-lib pipeline: {exc}", file=sys.stderr)
        return 1
    for run in result.runs:
        print(f"{run.name:<18} {run.status:<7} {run.seconds:6.1f} s  {run.html}")
    print(f"done in {result.seconds:.1f} s; open {result.index}")
    return 0


def run_grid_command(ns: argparse.Namespace, parameters: dict[str, Any]) -> int:
    """The pipeline as a grid of Dask tasks; exit 1 when any run failed."""
    options = GridOptions(
        out_dir=ns.out, parameters=parameters,
        grid=parse_grid(ns.grid, ns.grid_file, ns.max_runs), max_runs=ns.max_runs,
        notebooks=ns.notebooks, kernel_name=ns.kernel, execution_timeout=ns.execution_timeout,
        scheduler=ns.scheduler, workers=ns.workers, runs_per_worker=ns.runs_per_worker,
        skip_unchanged=ns.skip_unchanged, tpm_limit=ns.tpm_limit, rpm_limit=ns.rpm_limit,
        progress=not ns.no_progress,
    )
    result = run_grid(options)
    for entry in result.entries:
        name = f"{entry.notebook}/{entry.slug}" if entry.slug else entry.notebook
        print(f"{entry.status:<8} {entry.seconds:6.1f} s  {entry.worker or '-':<24} {name}")
        if entry.error:
            print(f"         {entry.error}")
    counts = {s: sum(e.status == s for e in result.entries) for s in STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"{len(result.entries)} runs ({summary}) in {result.seconds:.1f} s; "
          f"manifest {result.manifest}; open {result.index}")
    return 1 if result.failed else 0
