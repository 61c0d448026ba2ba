"""``report-lib bench``: the execution strategies measured through the real client stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from report_lib import config
from report_lib.bench.analysis import check_targets, summarize
from report_lib.bench.benchmark import run_benchmark
from report_lib.bench.peer_names import OUR_PEER_STRATEGIES, PEER_NAMES, PEERS_N
from report_lib.bench.plan import (
    BENCH_STRATEGIES,
    ORIGINAL_N,
    QUOTA_N,
    QUOTA_REPEATS,
    QUOTA_TIME_SCALE,
    SCALE_N,
    SCENARIO_NAMES,
    THROTTLED_N,
)
from report_lib.bench.plan import split_names as split_list
from report_lib.bench.quota_cells import FAR_REPEATS
from report_lib.bench.result_files import DEFAULT_DIR, output_paths
from report_lib.bench.summary import format_summary
from report_lib.cli.common import (
    TIME_SCALE,
    Bounded,
    add_limit_options,
    add_parser,
    limit_settings,
)
from report_lib.errors import ConfigError
from report_lib.execution import (
    MAX_CONCURRENCY,
    MAX_JOBS,
    check_concurrency,
    check_job_count,
)
from report_lib.llm.settings import TRANSPORTS, BackendSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "bench",
        help="benchmark sequential/thread/process/asyncio/dask against the emulator",
        description="Measure how the execution strategies compare through the real client "
        "stack, against the emulator (or --endpoint-url).",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report-lib bench`` options."""
    _add_arguments(parser)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in split_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _job_counts(text: str) -> list[int]:
    """``--n``: job counts, each from 1 to MAX_JOBS."""
    try:
        return [check_job_count(n, "--n") for n in _int_list(text)]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _concurrencies(text: str) -> list[int]:
    """``--max-concurrency``: levels, each from 1 to MAX_CONCURRENCY."""
    try:
        return [check_concurrency(c, "--max-concurrency") for c in _int_list(text)]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report-lib bench`` options."""
    parser.add_argument(
        "--scenario", action="append", default=None, metavar="NAME",
        help=f"scenario(s), repeatable or comma-separated: {', '.join(SCENARIO_NAMES)} "
        "(default: seed)",
    )
    parser.add_argument(
        "--strategies", default=None, metavar="LIST",
        help=f"comma-separated subset of {', '.join(BENCH_STRATEGIES)} "
        f"(peers: of {', '.join((*OUR_PEER_STRATEGIES, *PEER_NAMES))}; default: per scenario)",
    )
    parser.add_argument("--n", type=_job_counts, default=None, metavar="N[,N...]",
                        help=f"job counts for scale/original, each 1 to {MAX_JOBS} (default: "
                        f"scale {SCALE_N}, original {ORIGINAL_N}, throttled {THROTTLED_N}, "
                        f"peers {PEERS_N}, quota {QUOTA_N})")
    parser.add_argument("--repeats", type=Bounded(int, 1, 100), default=None,
                        help=f"measured runs per case, after one warm-up (default: 3; quota "
                        f"{QUOTA_REPEATS}, its far cells {FAR_REPEATS})")
    parser.add_argument("--time-scale", type=TIME_SCALE, default=None,
                        help="multiply every emulator delay (and the quota minute) by this "
                        f"(default: 1.0; quota {QUOTA_TIME_SCALE:g}: quota minutes of "
                        f"{60 * QUOTA_TIME_SCALE:g} s, calls of {QUOTA_TIME_SCALE:g} s, the "
                        "whole matrix in about 25 minutes on 2 cores)")
    parser.add_argument("--variants", default=None, metavar="LIST",
                        help="only these variants, comma-separated (quota cells are "
                        "client/minute/accounting, e.g. known/sliding/bedrock)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help="results folder (results.csv, timelines.json, metadata.json), or "
                        "a .csv path whose companions go next to it (default: %(default)s, "
                        "the folder the comparison notebook reads)")
    parser.add_argument("--endpoint-url", default=None, metavar="URL",
                        help="benchmark this Bedrock-compatible endpoint (credentials from the "
                        "environment) instead of starting the emulator")
    parser.add_argument("--model-id", default=config.DEFAULT_MODEL_ID,
                        help="model id for --endpoint-url (default: %(default)s)")
    parser.add_argument("--region", default=config.DEFAULT_REGION,
                        help="region for --endpoint-url (default: %(default)s)")
    add_limit_options(parser)
    parser.add_argument("--transport", choices=TRANSPORTS, default=BackendSettings.transport,
                        help="how our clients send Converse: direct (without botocore's "
                        "per-call pipeline) or botocore (compare the two with two runs)")
    parser.add_argument("--start-methods", default=None, metavar="LIST",
                        help="process start methods, comma-separated: spawn,fork,forkserver "
                        "(default: spawn)")
    parser.add_argument("--max-concurrency", type=_concurrencies, default=None,
                        metavar="C[,C...]",
                        help=f"concurrency levels, each 1 to {MAX_CONCURRENCY} (capped at N; "
                        "default: N, and 10 for scale)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="dask scheduler address (default: a LocalCluster for the run)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up runs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(ns: argparse.Namespace) -> int:
    """Run ``report-lib bench``; print the summary and the targets; 0 when it ran."""
    settings = BackendSettings(model_id=ns.model_id, region=ns.region, transport=ns.transport,
                               **limit_settings(ns))
    df = run_benchmark(
        scenarios=split_list(ns.scenario) or ["seed"],
        strategies=split_list(ns.strategies) or None,
        n_values=ns.n,
        repeats=ns.repeats,
        time_scale=ns.time_scale,
        endpoint_url=ns.endpoint_url,
        out_dir=ns.out,
        progress=not ns.no_progress,
        start_methods=split_list(ns.start_methods) or None,
        max_concurrency=ns.max_concurrency,
        scheduler=ns.scheduler,
        settings=settings,
        warmup=not ns.no_warmup,
        variants=split_list(ns.variants) or None,
        command="report-lib bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else None,
    )
    print(format_summary(summarize(df), check_targets(df)))
    csv_path, timelines_path, metadata_path = output_paths(ns.out)
    print(f"\nwrote {csv_path}, {timelines_path.name}, {metadata_path.name}")
    return 0

