"""The ``report-lib`` command: sample data, generate, emulator, bench, pipeline, demo."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from report_lib import __version__, config
from report_lib.errors import CredentialsError, DataError, PipelineError, ReportLabError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_sample_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample-data",
        help="synthesize monthly workbooks (ministry layout) and a tidy CSV",
        description="Synthesize realistic CPO statistics (DESIGN §2.3): one ministry-layout "
        "workbook per month in OUT/workbooks/ and one tidy CSV OUT/cpo_monthly.csv.",
    )
    p.add_argument(
        "--out", type=Path, default=config.SAMPLE_DIR, help="output folder (default: %(default)s)"
    )
    p.add_argument("--months", type=_positive_int, default=24, help="months (default: 24)")
    p.add_argument("--operators", type=_positive_int, default=110, help="operators (default: 110)")
    p.add_argument("--end-month", default="2025-11", help="last month YYYY-MM (default: 2025-11)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_cmd_sample_data)


def _cmd_sample_data(ns: argparse.Namespace) -> int:
    from report_lib.data.sample import write_sample_data

    info = write_sample_data(
        ns.out, months=ns.months, operators=ns.operators, seed=ns.seed, end_month=ns.end_month
    )
    print(f"wrote {info['months']} monthly workbooks to {info['workbooks_dir']}")
    print(f"wrote the tidy table to {info['csv']}")
    return EXIT_OK


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend (credentials come from the standard boto3 chain only)")
    g.add_argument(
        "--backend",
        choices=("offline", "emulator", "bedrock"),
        default="emulator",
        help="offline: no network; emulator: a local Bedrock emulator started for the "
        "run; bedrock: AWS (default: %(default)s)",
    )
    g.add_argument(
        "--endpoint-url",
        help="a Bedrock-compatible endpoint (implies the bedrock client against it)",
    )
    g.add_argument(
        "--model-id",
        default=config.DEFAULT_MODEL_ID,
        help="model or inference profile id (default: %(default)s)",
    )
    g.add_argument(
        "--region", default=config.DEFAULT_REGION, help="AWS region (default: %(default)s)"
    )
    g.add_argument("--profile", help="AWS profile name from your AWS config")
    g.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=config.DEFAULT_MAX_TOKENS,
        help="maximum output tokens per report (default: %(default)s)",
    )
    g.add_argument(
        "--temperature",
        type=float,
        default=config.DEFAULT_TEMPERATURE,
        help="sampling temperature (default: %(default)s)",
    )
    g.add_argument("--stream", action="store_true", help="use ConverseStream (records TTFT)")
    g.add_argument(
        "--cache", type=Path, metavar="DIR", help="cache responses in DIR so re-runs do not re-bill"
    )
    g.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=8,
        help="attempt budget per report for throttling/5xx/timeouts (default: 8)",
    )
    g.add_argument("--tpm-limit", type=_positive_int, help="client-side tokens-per-minute limit")
    g.add_argument("--rpm-limit", type=_positive_int, help="client-side requests-per-minute limit")
    g.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulator only: shrink every latency by this factor (default: 1.0 = realistic)",
    )


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write the three reports (kpi, cpo, trend) for a month",
        description="Compute the facts for a target month and have the backend write the KPI "
        "snapshot, the operator ranking and the monthly trend, in parallel.",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="a ministry workbook, a folder of them, or a tidy CSV/Parquet file",
    )
    p.add_argument("--month", default="latest", help="target month YYYY-MM or 'latest'")
    p.add_argument(
        "--focus-cpo",
        default=config.DEFAULT_FOCUS_CPO,
        help="focus operator (default: %(default)s)",
    )
    p.add_argument(
        "--window",
        type=_positive_int,
        default=config.DEFAULT_WINDOW_MONTHS,
        help="months in the trend window (default: %(default)s)",
    )
    p.add_argument("--language", choices=config.LANGUAGES, default=config.DEFAULT_LANGUAGE)
    p.add_argument(
        "--reports",
        default=",".join(config.REPORT_KINDS),
        help="comma list of report kinds (default: kpi,cpo,trend)",
    )
    p.add_argument(
        "--strategy",
        default="thread",
        choices=("sequential", "thread", "process", "asyncio", "dask"),
    )
    p.add_argument("--max-concurrency", type=_positive_int, help="bound on calls in flight")
    p.add_argument("--out", type=Path, help="write the result JSON here")
    p.add_argument("--markdown-dir", type=Path, help="write one KEY.md per report here")
    p.add_argument(
        "--emulator-reject",
        action="append",
        default=[],
        metavar="KIND",
        help="emulator only: reject this report kind for good (demo of a failure)",
    )
    p.add_argument(
        "--emulator-throttle-first",
        type=int,
        default=0,
        metavar="N",
        help="emulator only: throttle the first N requests",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_backend_options(p)
    p.set_defaults(func=_cmd_generate)


def settings_from_args(ns: argparse.Namespace):  # -> BackendSettings
    from report_lib.llm.settings import BackendSettings

    backend = ns.backend
    return BackendSettings(
        backend=backend,
        model_id=ns.model_id,
        region=ns.region,
        profile=ns.profile,
        endpoint_url=ns.endpoint_url,
        max_tokens=ns.max_tokens,
        temperature=ns.temperature,
        stream=ns.stream,
        cache_dir=str(ns.cache) if ns.cache else None,
        max_attempts=ns.max_attempts,
        tpm_limit=ns.tpm_limit,
        rpm_limit=ns.rpm_limit,
    )


def _cmd_generate(ns: argparse.Namespace) -> int:
    from report_lib.app.generate import generate_reports, write_outputs

    kinds = [k.strip() for k in ns.reports.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in config.REPORT_KINDS]
    if unknown:
        raise DataError(
            f"--reports: unknown report kind(s) {', '.join(unknown)}; "
            f"choose from {', '.join(config.REPORT_KINDS)}"
        )
    if ns.endpoint_url and ns.backend == "emulator":
        ns.backend = "bedrock"  # an explicit endpoint replaces the embedded emulator
    emulator_options = {}
    if ns.emulator_reject:
        emulator_options["reject"] = tuple(ns.emulator_reject)
    if ns.emulator_throttle_first:
        emulator_options["throttle_first"] = ns.emulator_throttle_first
    run = generate_reports(
        ns.data,
        month=ns.month,
        focus_cpo=ns.focus_cpo or None,
        window=ns.window,
        language=ns.language,
        kinds=kinds,
        backend=ns.backend,
        strategy=ns.strategy,
        max_concurrency=ns.max_concurrency,
        settings=settings_from_args(ns),
        time_scale=ns.time_scale,
        emulator_options=emulator_options,
        progress=not ns.no_progress,
    )
    written = write_outputs(run, out_json=ns.out, markdown_dir=ns.markdown_dir)
    print(format_run_table(run))
    for path in written:
        print(f"wrote {path}")
    if not ns.out and not ns.markdown_dir:
        print("(use --out RUN.json and --markdown-dir DIR to save the reports)")
    return EXIT_OK if run.success else EXIT_FAILED


def format_run_table(run) -> str:  # run: RunResult
    """A short plain-text table: report, seconds, characters, tokens, status."""
    lines = [f"{'report':<10} {'seconds':>8} {'chars':>7} {'in_tok':>7} {'out_tok':>8}  status"]
    for r in run.results:
        status = (
            "ok" + (" (cached)" if r.cached else "")
            if r.ok
            else (f"FAILED {r.error_type} after {r.attempts} attempt(s): {r.error_message}")
        )
        chars = len(r.content) if r.content else 0
        lines.append(
            f"{r.key:<10} {r.seconds:>8.2f} {chars:>7} {r.input_tokens:>7} "
            f"{r.output_tokens:>8}  {status}"
        )
    d = run.to_dict()
    lines.append(
        f"total {run.total_time:.2f} s, strategy {run.strategy}, backend {run.backend}, "
        f"month {run.target_month}, cost ${d['usage_total']['cost_usd']:.4f}, "
        f"success: {str(run.success).lower()}"
    )
    return "\n".join(lines)


def _add_emulator(sub: argparse._SubParsersAction) -> None:
    from report_lib.emulator.server import add_arguments

    p = sub.add_parser(
        "emulator",
        help="run a local Bedrock-compatible emulator (Converse, ConverseStream)",
        description="Serve the Bedrock Runtime Converse API on loopback with modelled latency, "
        "token quota and injected failures. Prints its URL when ready; Ctrl-C stops it.",
    )
    add_arguments(p)
    p.set_defaults(func=_cmd_emulator)


def _cmd_emulator(ns: argparse.Namespace) -> int:
    from report_lib.emulator.server import config_from_args, serve

    serve(config_from_args(ns))
    return EXIT_OK


# Commands whose options and handler live in their own module: (module, help, description).
DELEGATED: dict[str, tuple[str, str, str]] = {
    "bench": (
        "report_lib.bench.core",
        "benchmark sequential/thread/process/asyncio/dask against the emulator",
        "Measure how the execution strategies compare through the real client stack, against "
        "the emulator (or --endpoint-url).",
    ),
    "pipeline": (
        "report_lib.pipeline.core",
        "run the notebooks headless (papermill) and export shareable HTML",
        "Execute the notebooks with papermill, export them to HTML without code and write an "
        "index.html linking every page.",
    ),
}


def _add_delegated(sub: argparse._SubParsersAction, name: str) -> None:
    module_name, help_text, description = DELEGATED[name]
    module = importlib.import_module(module_name)
    p = sub.add_parser(name, help=help_text, description=description)
    module.add_arguments(p)
    p.set_defaults(func=module.run_from_args)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job offline: sample data, then the pipeline with the emulator",
        description="Create the sample workbooks (if missing) and run the pipeline on them with "
        "the local emulator; prints where index.html is.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=config.OUTPUT_DIR / "site",
        help="pipeline output folder (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(ns: argparse.Namespace) -> int:
    from report_lib.data.sample import ensure_sample_data

    workbooks = ensure_sample_data()
    print(f"sample data: monthly workbooks in {workbooks}")
    return main(["pipeline", "--out", str(ns.out), "-p", "data_path", str(workbooks)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report-lib",
        description="EV charging operator statistics → three LLM-written reports (KPI snapshot, "
        "operator ranking, monthly trend) on AWS Bedrock, run in parallel and benchmarked.",
        epilog="Run 'report-lib COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_sample_data(sub)
    _add_generate(sub)
    _add_emulator(sub)
    for name in DELEGATED:
        _add_delegated(sub, name)
    _add_demo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return int(ns.func(ns))
    except (DataError, CredentialsError) as exc:
        print(f"report-lib: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PipelineError as exc:
        print(f"report-lib: pipeline failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ReportLabError as exc:
        print(f"report-lib: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("report-lib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
