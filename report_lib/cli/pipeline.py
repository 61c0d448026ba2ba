"""``report-lib pipeline``: the notebooks run headless, exported as shareable HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.cli.common import add_parser
from report_lib.errors import PipelineError
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
        "--execution-timeout", type=int, default=600, metavar="SECONDS",
        help="maximum seconds per cell (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(ns: argparse.Namespace) -> int:
    """Run the pipeline for parsed CLI options; print where the index is, or why it failed.

    Bad options and parameters (ConfigError: unknown name, wrong type, not a choice, out of
    range) stop before any kernel starts and reach the exit-code table in cli.main (exit 2)."""
    parameters: dict[str, Any] = {}
    for text in ns.parameters_yaml:
        parameters.update(parse_yaml(text))
    for name, value in ns.parameters:
        parameters[name] = parse_value(value)
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
