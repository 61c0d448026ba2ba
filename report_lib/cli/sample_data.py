"""``report-lib sample-data``: synthetic monthly workbooks and a tidy CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from report_lib import config
from report_lib.cli.common import Bounded, add_parser
from report_lib.data.sample import write_sample_data


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "sample-data",
        help="synthesize monthly workbooks (ministry layout) and a tidy CSV",
        description="Synthesize realistic CPO statistics (about 110 operators with a long tail): "
        "one ministry-layout workbook per month in OUT/workbooks/ and one tidy CSV "
        "OUT/cpo_monthly.csv.",
    )
    p.add_argument("--out", type=Path, default=config.SAMPLE_DIR, help="output folder")
    p.add_argument("--months", type=Bounded(int, 1, 240), default=24, help="months")
    p.add_argument("--operators", type=Bounded(int, 1, 10_000), default=110, help="operators")
    p.add_argument("--end-month", default="2025-11", help="last month YYYY-MM")
    p.add_argument("--seed", type=Bounded(int, 0, 2**32 - 1), default=0, help="random seed")
    p.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    info = write_sample_data(
        ns.out, months=ns.months, operators=ns.operators, seed=ns.seed, end_month=ns.end_month
    )
    print(f"wrote {info['months']} monthly workbooks to {info['workbooks_dir']}")
    print(f"wrote the tidy table to {info['csv']}")
    return 0
