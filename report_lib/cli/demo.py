"""``report-lib demo``: the main job offline (sample data, then the pipeline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from report_lib import config
from report_lib.cli import pipeline
from report_lib.cli.common import add_parser
from report_lib.data.sample import ensure_sample_data


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "demo",
        help="the main job offline: sample data, then the pipeline with the emulator",
        description="Create the sample workbooks (if missing) and run the pipeline on them with "
        "the local emulator; prints where index.html is.",
    )
    p.add_argument(
        "--out", type=Path, default=config.OUTPUT_DIR / "site", help="pipeline output folder"
    )
    p.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    workbooks = ensure_sample_data()
    print(f"sample data: monthly workbooks in {workbooks}")
    parser = argparse.ArgumentParser(prog="report-lib pipeline")
    pipeline.add_arguments(parser)
    args = ["--out", str(ns.out), "-p", "data_path", str(workbooks)]
    return pipeline.run(parser.parse_args(args))
