"""``report-lib emulator``: a local Bedrock-compatible endpoint."""

from __future__ import annotations

import argparse

from report_lib.cli.common import add_parser
from report_lib.emulator.server import add_arguments, config_from_args, serve


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "emulator",
        help="run a local Bedrock-compatible emulator (Converse, ConverseStream)",
        description="Serve the Bedrock Runtime Converse API on loopback with modelled latency, "
        "token quota and injected failures. Prints its URL when ready; Ctrl-C stops it.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def run(ns: argparse.Namespace) -> int:
    return serve(config_from_args(ns))  # 130/143 when stopped by SIGINT/SIGTERM
