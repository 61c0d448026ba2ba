"""The ``report-lib`` command and the one table that maps errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from report_lib import __version__
from report_lib.app.signals import exit_status, ignore_further_interrupts, sigterm_as_interrupt
from report_lib.cli.common import Parser
from report_lib.cli.encoding import ensure_utf8_mode
from report_lib.errors import (
    ConfigError,
    CredentialsError,
    DataError,
    PipelineError,
    ReportLabError,
    ReportLabWarning,
)

# One module per command, imported when the parser is built: importing this module stays light,
# which matters because every ``spawn`` worker process re-imports the console script.
COMMANDS: tuple[str, ...] = ("sample_data", "generate", "emulator", "bench", "pipeline", "demo")

# Exit codes: 0 done, 1 a run that failed (some report or notebook did not come out),
# 2 bad input or options (nothing was run), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
# First match wins, so subclasses come before their bases.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (ConfigError, 2, "error"),
    (DataError, 2, "error"),
    (CredentialsError, 2, "error"),
    (PipelineError, 1, "pipeline failed"),
    (ReportLabError, 1, "error"),
)
EXIT_INTERRUPTED = 130  # 128 + the signal: app.signals.exit_status (143 for SIGTERM)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="report-lib",
        description="EV charging operator statistics → three LLM-written reports (KPI snapshot, "
        "operator ranking, monthly trend) on AWS Bedrock, run in parallel and benchmarked.",
        epilog="Run 'report-lib COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        import_module(f"report_lib.cli.{name}").register(sub)
    return parser


def exit_code(exc: BaseException) -> tuple[int, str]:
    """The exit code and message prefix for an error raised by a command."""
    for kind, code, prefix in EXIT_CODES:
        if isinstance(exc, kind):
            return code, prefix
    raise exc


def one_line_warnings() -> None:
    """Show report_lib's warnings as one ``report-lib: warning: ...`` line (others as usual)."""
    previous = warnings.showwarning

    def showwarning(message: Warning | str, category: type[Warning], filename: str,
                    lineno: int, file: Any = None, line: str | None = None) -> None:
        if not issubclass(category, ReportLabWarning):
            previous(message, category, filename, lineno, file, line)
            return
        print(f"report-lib: warning: {message}", file=file or sys.stderr, flush=True)

    warnings.showwarning = showwarning


class _StderrHandler(logging.StreamHandler):
    """Writes each record to the ``sys.stderr`` of the moment (a caller may have replaced it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


# the modules whose INFO records are the commands' progress lines (others: WARNING and up)
PROGRESS_LOGGERS: tuple[str, ...] = ("report_lib.pipeline.run",)


def show_progress_logs() -> None:
    """report_lib's log records on stderr as bare lines, the way the commands always printed
    them: warnings and up from every module, progress lines (INFO) from PROGRESS_LOGGERS (a
    retry's INFO record stays quiet, as it always was). Once per process."""
    logger = logging.getLogger("report_lib")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    for name in PROGRESS_LOGGERS:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the command itself (not a call from Python): any locale
        ensure_utf8_mode()
    one_line_warnings()
    show_progress_logs()
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: workers stopped, 143
            return int(ns.func(ns))
    except ReportLabError as exc:
        code, prefix = exit_code(exc)
        print(f"report-lib: {prefix}: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt as exc:  # Ctrl-C, or RunInterrupted (signum 2 or 15)
        if argv is None:  # the command line itself: it exits now, a second Ctrl-C is ignored
            ignore_further_interrupts()
        print(f"report-lib: {str(exc) or 'interrupted'}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
