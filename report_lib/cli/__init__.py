"""``report-lib``: the command line. One module per command; ``main`` dispatches."""

from __future__ import annotations

from report_lib.cli.main import main

__all__ = ["main"]
