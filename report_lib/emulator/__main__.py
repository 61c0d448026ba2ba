"""``python -m report_lib.emulator [options]``: run the Bedrock emulator in the foreground."""

from __future__ import annotations

import sys

from report_lib.argtypes import HelpFormatter, Parser
from report_lib.emulator.server import add_arguments, config_from_args, serve


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        prog="python -m report_lib.emulator",
        description="Local Bedrock Runtime emulator (Converse, ConverseStream) with a latency "
        "model, token quota and injectable faults.",
        formatter_class=HelpFormatter,
    )
    add_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        config = config_from_args(ns)
    except ValueError as exc:
        parser.error(str(exc))
    return serve(config)  # 130/143 when stopped by SIGINT/SIGTERM


if __name__ == "__main__":
    sys.exit(main())
