"""Option types and the backend options shared by the commands."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.argtypes import (  # noqa: F401 (re-exported for the commands)
    RPM,
    SECONDS,
    TIME_SCALE,
    TPM,
    Bounded,
    HelpFormatter,
    Parser,
)
from report_lib.llm.backends import BACKENDS
from report_lib.llm.limiter import tpm_fields
from report_lib.llm.settings import TRANSPORTS, BackendSettings


def output_file(text: str) -> Path:
    """An argparse type: a file path; one ending in '/' names a folder and is refused."""
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        raise argparse.ArgumentTypeError(
            f"{text!r} ends in '/', so it names a folder; give a file name such as "
            f"{text.rstrip('/' + os.sep)}/run.json"
        )
    return Path(text)


# the ranges of the numeric options (documented in --help by HelpFormatter)
MAX_TOKENS = Bounded(int, 1, 64_000)
TEMPERATURE = Bounded(float, 0, 1)
MAX_ATTEMPTS = Bounded(int, 1, 100)


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def add_parser(
    sub: argparse._SubParsersAction, name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A sub-command parser that shows every default in its ``--help``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, formatter_class=HelpFormatter,
    )
    return parser


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """Backend, model, inference and client-side limit options (generate)."""
    g = p.add_argument_group("backend (credentials come from the standard boto3 chain only)")
    g.add_argument(
        "--backend",
        choices=BACKENDS.names(),
        default=config.DEFAULT_BACKEND,
        help="offline: no network; emulator: a local Bedrock emulator started for the "
        "run; bedrock: AWS",
    )
    g.add_argument(
        "--endpoint-url",
        help="a Bedrock-compatible endpoint (implies the bedrock client against it)",
    )
    g.add_argument(
        "--model-id", default=config.DEFAULT_MODEL_ID, help="model or inference profile id"
    )
    g.add_argument("--region", default=config.DEFAULT_REGION, help="AWS region")
    g.add_argument("--profile", help="AWS profile name from your AWS config")
    g.add_argument(
        "--max-tokens",
        type=MAX_TOKENS,
        default=config.DEFAULT_MAX_TOKENS,
        help="maximum output tokens per report",
    )
    g.add_argument(
        "--temperature", type=TEMPERATURE, default=config.DEFAULT_TEMPERATURE,
        help="sampling temperature"
    )
    g.add_argument("--stream", action="store_true", help="use ConverseStream (records TTFT)")
    g.add_argument(
        "--cache", type=Path, metavar="DIR", help="cache responses in DIR so re-runs do not re-bill"
    )
    g.add_argument(
        "--max-attempts",
        type=MAX_ATTEMPTS,
        default=BackendSettings.max_attempts,
        help="attempt budget per report for throttling/5xx/timeouts",
    )
    g.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=BackendSettings.transport,
        help="how Converse is sent: direct (signed with botocore's SigV4 and sent on the "
        "client's own connection pool, without botocore's per-call pipeline: less CPU per "
        "call) or botocore (the client's converse()); ConverseStream always goes through "
        "botocore",
    )
    add_limit_options(g)
    g.add_argument(
        "--time-scale",
        type=TIME_SCALE,
        default=1.0,
        help="emulator only: multiply every latency by this factor (1.0 = realistic)",
    )


class TpmLimit(Bounded):
    """A number of tokens per minute (``TPM``'s range), or "auto"."""

    @property
    def range(self) -> str:
        return f"{super().range}, or auto"

    def __call__(self, text: str) -> Any:
        return "auto" if text.strip().lower() == "auto" else super().__call__(text)


tpm_limit_arg = TpmLimit(int, TPM.lo, TPM.hi)


def add_limit_options(g: Any) -> None:
    """--tpm-limit N|auto and --rpm-limit N (a parser or an argument group)."""
    g.add_argument(
        "--tpm-limit", type=tpm_limit_arg, metavar="N|auto",
        help="client-side tokens-per-minute limit; 'auto' finds the quota from the service's "
        "throttling (start fast, halve-ish on 429, probe up while clean)",
    )
    g.add_argument("--rpm-limit", type=RPM, help="client-side requests-per-minute limit")
    g.add_argument(
        "--burndown", type=burndown_arg, metavar="RATE",
        help="quota tokens one output token uses, for the client-side limit (default: the "
        "model's rate: 5 for Claude 4 models, else 1)",
    )


def burndown_arg(text: str) -> float:
    """A burndown rate: a finite number of at least 1 (quota tokens per output token)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(
            f"expected a burndown rate >= 1 (quota tokens per output token), got {text!r}"
        )
    return value


def limit_settings(ns: argparse.Namespace) -> dict[str, Any]:
    """BackendSettings fields for --tpm-limit / --rpm-limit / --burndown."""
    return {**tpm_fields(ns.tpm_limit), "rpm_limit": ns.rpm_limit,
            "burndown": getattr(ns, "burndown", None)}


def settings_from_args(ns: argparse.Namespace) -> BackendSettings:
    """BackendSettings from the options of ``add_backend_options``."""
    return BackendSettings(
        backend=ns.backend,
        model_id=ns.model_id,
        region=ns.region,
        profile=ns.profile,
        endpoint_url=ns.endpoint_url,
        max_tokens=ns.max_tokens,
        temperature=ns.temperature,
        stream=ns.stream,
        cache_dir=str(ns.cache) if ns.cache else None,
        max_attempts=ns.max_attempts,
        transport=getattr(ns, "transport", BackendSettings.transport),
        **limit_settings(ns),
    )
