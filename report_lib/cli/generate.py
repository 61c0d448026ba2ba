"""``report-lib generate``: the three reports for a month, written in parallel."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from report_lib import config
from report_lib.app.generate import generate_reports
from report_lib.app.outputs import check_outputs, write_outputs_or_rescue
from report_lib.cli.common import (
    SECONDS,
    Bounded,
    add_backend_options,
    add_parser,
    output_file,
    positive_int,
    settings_from_args,
)
from report_lib.data.sample import ensure_sample_data
from report_lib.emulator.options import EmulatorConfig
from report_lib.errors import ConfigError, OutputError, RunInterrupted
from report_lib.execution import MAX_CONCURRENCY, STRATEGIES, check_concurrency
from report_lib.llm.progress import OUTSTANDING, ProgressTicker
from report_lib.llm.quota import describe_quota_usage
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportResult, RunResult
from report_lib.reports.factcheck import corrected, delivered, parse_repair, verdict
from report_lib.reports.factcheck.reviewer import MAX_ROUNDS

PROGRESS_EVERY_S = 5.0
WINDOW = Bounded(int, 1, 120)  # months in the trend window
THROTTLE_FIRST = Bounded(int, 0, 10_000)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "generate",
        help="write the three reports (kpi, cpo, trend) for a month",
        description="Compute the facts for a target month and have the backend write the KPI "
        "snapshot, the operator ranking and the monthly trend, in parallel.",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a ministry workbook, a folder of them, or a tidy CSV/Parquet file "
        f"(default: the sample workbooks in {config.SAMPLE_DIR}, created when missing)",
    )
    p.add_argument("--month", default="latest", help="target month YYYY-MM or 'latest'")
    p.add_argument("--focus-cpo", default=config.DEFAULT_FOCUS_CPO, help="focus operator")
    p.add_argument(
        "--window",
        type=WINDOW,
        default=config.DEFAULT_WINDOW_MONTHS,
        help="months in the trend window",
    )
    p.add_argument(
        "--language", choices=config.LANGUAGES, default=config.DEFAULT_LANGUAGE, help="language"
    )
    p.add_argument(
        "--reports", default=",".join(config.REPORT_KINDS),
        help="comma list of report kinds; a kind named twice runs once"
    )
    p.add_argument(
        "--strategy",
        default="thread",
        choices=STRATEGIES.names(),
        help="how the calls run in parallel",
    )
    p.add_argument(
        "--max-concurrency",
        type=concurrency,
        help=f"bound on calls in flight, 1 to {MAX_CONCURRENCY} (default: one per report)",
    )
    p.add_argument(
        "--out", type=output_file,
        help="write the result JSON to this file (checked before the run starts; a path ending "
        "in '/' is refused). When it cannot be written after the run (a full disk), the run "
        "goes to a fallback file that the error names, and the exit status is 1"
    )
    p.add_argument(
        "--markdown-dir",
        type=Path,
        help="write one KEY.md per report here (checked before the run starts)",
    )
    p.add_argument(
        "--emulator-reject",
        action="append",
        default=[],
        metavar="KIND",
        help="emulator only: reject this report kind for good (demo of a failure)",
    )
    p.add_argument(
        "--emulator-throttle-first",
        type=THROTTLE_FIRST,
        default=0,
        metavar="N",
        help="emulator only: throttle the first N requests",
    )
    p.add_argument(
        "--fail-on-unsupported",
        action="store_true",
        help="exit 1 when a delivered report has a number or month the facts do not support "
        "(default: list them, do not fail)",
    )
    p.add_argument(
        "--repair",
        type=repair_rounds,
        default=None,
        metavar="off|once|N",
        help="when the fact check flags figures, ask the model again in the same conversation "
        f"to correct them: off, once or up to N rounds (0-{MAX_ROUNDS}); the version with "
        "fewer unsupported figures is delivered (default: once; off for the offline writer)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar, and no line every few seconds about the calls still outstanding",
    )
    add_backend_options(p)
    add_time_limit_options(p)
    p.set_defaults(func=run)


def add_time_limit_options(p: argparse.ArgumentParser) -> None:
    """--deadline per run (from its start, for every report); --read-timeout and
    --connect-timeout per attempt."""
    g = p.add_argument_group("time limits (a hung endpoint cannot hold a run longer)")
    g.add_argument(
        "--deadline",
        type=SECONDS,
        default=BackendSettings.deadline_s,
        metavar="SECONDS",
        help="for the whole run, counted from its start for every report (attempts, waits and "
        "the time a report waits in line included); a report not answered by then is listed "
        "under errors as DeadlineExceeded",
    )
    g.add_argument(
        "--read-timeout",
        type=SECONDS,
        default=BackendSettings.read_timeout,
        metavar="SECONDS",
        help="per attempt: the longest wait for the next byte of the answer (raise it for "
        "long answers without --stream)",
    )
    g.add_argument(
        "--connect-timeout",
        type=SECONDS,
        default=BackendSettings.connect_timeout,
        metavar="SECONDS",
        help="per attempt: the longest wait to open a connection",
    )


def settings_with_time_limits(ns: argparse.Namespace) -> BackendSettings:
    """BackendSettings from the backend options and the time limits."""
    return replace(
        settings_from_args(ns),
        deadline_s=ns.deadline,
        read_timeout=ns.read_timeout,
        connect_timeout=ns.connect_timeout,
    )


class PendingReports:
    """The progress line: the calls outstanding in this process (attempts, waits) or, when
    they run in worker processes, how many reports are still out."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def finished(self, result: ReportResult) -> None:
        self.done += 1

    def line(self) -> str | None:
        detail = OUTSTANDING.line()
        if detail is None and self.done < self.total:
            waited = time.monotonic() - self.started
            left = self.total - self.done
            detail = f"{left} of {self.total} reports outstanding ({waited:.0f} s)"
        return None if detail is None else f"report-lib: {detail}"


def concurrency(text: str) -> int:
    """An argparse type: calls in flight, a whole number from 1 to MAX_CONCURRENCY."""
    try:
        return check_concurrency(positive_int(text), "--max-concurrency")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def repair_rounds(text: str) -> int:
    """``--repair``: off, once or a number of rounds (argparse type: one line, exit 2)."""
    try:
        return parse_repair(text, "")
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected off, once or a number of rounds from 0 to {MAX_ROUNDS}, got {text!r}"
        ) from None


def report_kinds(text: str) -> list[str]:
    """The ``--reports`` list, checked against the known report kinds; a kind named twice
    is run once."""
    kinds = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))  # run once
    if not kinds:
        raise ConfigError(
            f"--reports {text!r} names no report; give a comma list of "
            f"{', '.join(config.REPORT_KINDS)}"
        )
    unknown = [k for k in kinds if k not in config.REPORT_KINDS]
    if unknown:
        raise ConfigError(
            f"--reports: unknown report kind(s) {', '.join(unknown)}; "
            f"choose from {', '.join(config.REPORT_KINDS)}"
        )
    return kinds


def run(ns: argparse.Namespace) -> int:
    kinds = report_kinds(ns.reports)
    check_outputs(ns.out, ns.markdown_dir)  # a bad path fails now, not after paid calls
    if ns.endpoint_url and ns.backend == "emulator":
        ns.backend = "bedrock"  # an explicit endpoint replaces the embedded emulator
    emulator = EmulatorConfig(time_scale=ns.time_scale, reject=tuple(ns.emulator_reject or ()),
                              throttle_first=ns.emulator_throttle_first or 0)
    data = ns.data if ns.data is not None else ensure_sample_data()
    pending = PendingReports(len(kinds))
    ticker = ProgressTicker(partial(tqdm.write, file=sys.stderr), PROGRESS_EVERY_S, pending.line)
    try:
        with nullcontext() if ns.no_progress else ticker:
            run = generate_reports(
                data,
                month=ns.month,
                focus_cpo=ns.focus_cpo or None,
                window=ns.window,
                language=ns.language,
                kinds=kinds,
                backend=ns.backend,
                strategy=ns.strategy,
                max_concurrency=ns.max_concurrency,
                settings=settings_with_time_limits(ns),
                emulator=emulator,
                progress=not ns.no_progress,
                on_result=pending.finished,
                repair=ns.repair,
            )
    except RunInterrupted as exc:  # Ctrl-C/SIGTERM: keep what had finished, then exit 130/143
        if exc.run is not None:
            try:
                deliver(exc.run, ns)
            except OutputError as failed:  # said, and the interruption still ends the run
                print(f"report-lib: error: {failed}", file=sys.stderr)
        raise
    deliver(run, ns)
    unsupported = any((final := delivered(r.fact_check)) and final["unsupported"]
                      for r in run.results)
    return 0 if run.success and not (ns.fail_on_unsupported and unsupported) else 1


def deliver(run: RunResult, ns: argparse.Namespace) -> None:
    """Print the run's table, then write the outputs asked for. When they cannot be written
    (a full disk), the run goes to a fallback file that the OutputError names (exit 1)."""
    print(format_run_table(run), flush=True)  # first: shown whatever happens to the files
    written = write_outputs_or_rescue(run, out_json=ns.out, markdown_dir=ns.markdown_dir,
                                      cache_dir=ns.cache)
    for path in written:
        print(f"wrote {path}")
    if not ns.out and not ns.markdown_dir:
        print("(use --out RUN.json and --markdown-dir DIR to save the reports)")


def format_run_table(run: RunResult) -> str:
    """A short plain-text table: report, seconds, characters, tokens, facts, status; then each
    number or month of the delivered reports the facts do not support (seconds, tokens and
    facts include repair turns: ``57/57 +3`` = 3 figures corrected)."""
    lines = [f"{'report':<10} {'seconds':>8} {'chars':>7} {'in_tok':>7} {'out_tok':>8} "
             f"{'facts':>9}  status"]
    flagged = []
    for r in run.results:
        status = (
            "ok" + (" (cached)" if r.cached else "")
            if r.ok
            else (f"FAILED {r.error_type} after {r.attempts} attempt(s): {r.error_message}")
        )
        chars = len(r.content) if r.content else 0
        lines.append(
            f"{r.key:<10} {r.seconds:>8.2f} {chars:>7} {r.input_tokens:>7} "
            f"{r.output_tokens:>8} {verdict(r.fact_check):>9}  {status}"
        )
        if fixed := corrected(r.fact_check):
            flagged.append(f"  {r.key}: corrected: {fixed} figure{'s' if fixed != 1 else ''} "
                           "(repair turn)")
        flagged += [
            f"  {r.key} line {u['line']}: {u['text']!r} not in the facts "
            f"(nearest: {u['nearest'] or '-'})"
            for u in (delivered(r.fact_check) or {}).get("unsupported", [])
        ]
    lines += flagged
    quota = run.extra.get("quota")
    if isinstance(quota, dict) and quota.get("calls"):
        lines.append(describe_quota_usage(quota))
    cost = run.to_dict()["usage_total"]["cost_usd"]
    lines.append(
        f"total {run.total_time:.2f} s, strategy {run.strategy}, backend {run.backend}, "
        f"month {run.target_month}, cost {'unknown' if cost is None else f'${cost:.4f}'}, "
        f"success: {str(run.success).lower()}"
    )
    return "\n".join(lines)
