"""The emulator's options: ``EmulatorConfig`` and the matching argparse flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from report_lib.argtypes import RPM, SECONDS, TIME_SCALE, TPM, Bounded
from report_lib.config import REPORT_KINDS
from report_lib.emulator.latency import LatencyModel, parse_latency_model
from report_lib.errors import ConfigError
from report_lib.llm.quota import ACCOUNTINGS, QUOTA_MINUTES, check_burndown

READY_PREFIX = "Bedrock emulator listening on "
FAULT_NAMES: tuple[str, ...] = ("hang", "reset", "truncate", "slow", "cut", "garbage", "oversize")
_FAULT_HELP = {
    "hang": "accept the request and never answer",
    "reset": "drop the connection (TCP RST) before answering",
    "truncate": "answer 200 with half the body (ConverseStream: no messageStop)",
    "slow": "wait --slow-s seconds (x time-scale) before the normal answer",
    "cut": "announce the whole body's Content-Length, send half of it and close the connection",
    "garbage": "answer 200 with a body that is not JSON (an HTML page)",
    "oversize": "answer 200 with a well-formed answer of --oversize-mb megabytes of text",
}


@dataclass
class EmulatorConfig:
    """Every option of the emulator (CLI flags of ``report-lib emulator``)."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_model: str = "sonnet"
    time_scale: float = 1.0
    tpm: int | None = None
    rpm: int | None = None
    tpd: int | None = None
    quota_minute: str = "bucket"  # bucket | sliding | fixed (llm.quota)
    accounting: str = "bedrock"  # bedrock: reserve input + maxTokens, settle with burndown
    burndown: float | None = None  # output burndown override (default: the model's rate)
    throttle_rate: float = 0.0
    fail_rate: float = 0.0
    throttle_first: int = 0
    reject: tuple[str, ...] = ()
    # network faults after admission (report_lib.emulator.faults)
    hang_first: int = 0
    hang_rate: float = 0.0
    reset_first: int = 0
    reset_rate: float = 0.0
    truncate_first: int = 0
    truncate_rate: float = 0.0
    slow_first: int = 0
    slow_rate: float = 0.0
    slow_s: float = 10.0
    cut_first: int = 0
    cut_rate: float = 0.0
    garbage_first: int = 0
    garbage_rate: float = 0.0
    oversize_first: int = 0
    oversize_rate: float = 0.0
    oversize_mb: float = 50.0
    seed: int = 0
    hallucinate: float = 0.0  # fraction of a report's figures made wrong (reports.offline.mistakes)
    paraphrase: bool = False  # rewrite figures as LLMs do (만 units, 약, %포인트), still true
    repair_quality: float = 1.0  # share of the flagged figures a repair turn corrects
    hallucinate_repeat: bool = False  # a repair turn keeps the first flagged figure wrong
    parent_pid: int | None = None

    def __post_init__(self) -> None:
        self.reject = tuple(self.reject)
        unknown = [kind for kind in self.reject if kind not in REPORT_KINDS]
        if unknown:
            valid = ", ".join(REPORT_KINDS)
            raise ConfigError(f"reject: unknown report kind {unknown[0]!r}; valid kinds: {valid}")
        parse_latency_model(self.latency_model, self.time_scale)  # ValueError if invalid
        for name in ("throttle_rate", "fail_rate", "hallucinate", "repair_quality",
                     *(f"{f}_rate" for f in FAULT_NAMES)):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a probability in [0, 1], got {value!r}")
        for name in (f"{f}_first" for f in FAULT_NAMES):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not self.slow_s > 0:
            raise ConfigError(f"slow_s must be a number of seconds > 0, got {self.slow_s!r}")
        for name in ("tpm", "rpm", "tpd"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value <= 0):
                raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
        if self.quota_minute not in QUOTA_MINUTES:
            raise ConfigError(f"quota_minute must be one of {', '.join(QUOTA_MINUTES)}, "
                              f"got {self.quota_minute!r}")
        if self.accounting not in ACCOUNTINGS:
            raise ConfigError(f"accounting must be one of {', '.join(ACCOUNTINGS)}, "
                              f"got {self.accounting!r}")
        if self.burndown is not None:
            check_burndown(self.burndown)
        if not 0 < self.oversize_mb <= 1024:
            raise ConfigError(f"oversize_mb must be in (0, 1024], got {self.oversize_mb!r}")
        if self.throttle_first < 0:
            raise ConfigError(f"throttle_first must be >= 0, got {self.throttle_first}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0 (any free port) or 1-65535, got {self.port}")

    @property
    def latency(self) -> LatencyModel:
        return parse_latency_model(self.latency_model, self.time_scale)

    def to_argv(self) -> list[str]:
        """The command-line flags that give this config (``--name value`` per field)."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if value is None or value is False:
                continue
            if value is True:
                argv.append(flag)
            elif isinstance(value, tuple):
                for item in value:
                    argv += [flag, str(item)]
            else:
                argv += [flag, repr(float(value)) if isinstance(value, float) else str(value)]
        return argv


# the ranges of the numeric options (shown in --help, checked on parsing: one line, exit 2)
PROBABILITY = Bounded(float, 0, 1)
COUNT = Bounded(int, 0, 1_000_000_000)  # the -first counts
PORT = Bounded(int, 0, 65_535)
TPD = Bounded(int, 1, 1_440 * 1_000_000_000)  # Bedrock's default: TPM x 1,440
BURNDOWN = Bounded(float, 1, 100)  # quota tokens per output token
MEGABYTES = Bounded(float, 0, 1024, above=True)
SEED = Bounded(int, 0, 2**32 - 1)
PID = Bounded(int, 1, 2**31 - 1)


def _latency_spec(text: str) -> str:
    try:
        parse_latency_model(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by ``report-lib emulator`` and ``python -m``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=PORT, default=0, help="port to bind; 0 for a free port"
    )
    parser.add_argument(
        "--latency-model",
        type=_latency_spec,
        default="sonnet",
        metavar="MODEL",
        help="sonnet (TTFT 0.95 s, 55 tok/s), haiku (0.7 s, 100 tok/s) or fixed:SECONDS "
        "(exactly SECONDS, no jitter); default sonnet",
    )
    parser.add_argument(
        "--time-scale",
        type=TIME_SCALE,
        default=1.0,
        metavar="F",
        help="multiply every delay, the quota's minute included, by F (default 1.0)",
    )
    _add_quota_arguments(parser)
    parser.add_argument(
        "--throttle-rate",
        type=PROBABILITY,
        default=0.0,
        metavar="P",
        help="answer HTTP 429 ThrottlingException with probability P",
    )
    parser.add_argument(
        "--fail-rate",
        type=PROBABILITY,
        default=0.0,
        metavar="P",
        help="answer HTTP 500/503 with probability P",
    )
    parser.add_argument(
        "--throttle-first",
        type=COUNT,
        default=0,
        metavar="N",
        help="the first N requests get HTTP 429 (a quota that throttles at first)",
    )
    parser.add_argument(
        "--reject",
        action="append",
        choices=REPORT_KINDS,
        default=None,
        metavar="KIND",
        help="answer requests for report KIND (kpi, cpo, trend) with 400 ValidationException; "
        "repeatable",
    )
    _add_fault_arguments(parser)
    _add_mistake_arguments(parser)
    parser.add_argument(
        "--seed", type=SEED, default=0, help="seed of the latency jitter and random faults"
    )
    parser.add_argument(
        "--parent-pid",
        type=PID,
        default=None,
        metavar="PID",
        help="exit when process PID ends (set by report_lib.emulator.Emulator)",
    )


def _add_quota_arguments(parser: argparse.ArgumentParser) -> None:
    """Bedrock's quotas, counted as its documentation says (report_lib.llm.quota)."""
    group = parser.add_argument_group(
        "quotas (a refused request gets HTTP 429 ThrottlingException with Bedrock's message; "
        "a quota minute lasts 60 s x --time-scale)"
    )
    group.add_argument("--tpm", type=TPM, default=None, metavar="TOKENS",
                       help="tokens-per-minute quota")
    group.add_argument("--rpm", type=RPM, default=None, metavar="REQUESTS",
                       help="requests-per-minute quota")
    group.add_argument("--tpd", type=TPD, default=None, metavar="TOKENS",
                       help="tokens-per-day quota (Bedrock's default is TPM x 1,440; off unless "
                       "given)")
    group.add_argument("--quota-minute", choices=QUOTA_MINUTES, default="bucket",
                       help="how a minute is counted: bucket (refilled continuously, the "
                       "default), sliding (the last 60 s) or fixed (wall-clock minutes)")
    group.add_argument("--accounting", choices=ACCOUNTINGS, default="bedrock",
                       help="bedrock (default): reserve input + maxTokens when a request "
                       "starts, settle to input + output x burndown when it ends; actual: "
                       "charge input + output (1x) at admission")
    group.add_argument("--burndown", type=BURNDOWN, default=None, metavar="RATE",
                       help="quota tokens per output token (default: the model's rate, 5 for "
                       "Claude 4 models, else 1)")


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "network faults (after admission; the -first counts apply in the order listed)"
    )
    for name in FAULT_NAMES:
        what = _FAULT_HELP[name]
        group.add_argument(f"--{name}-first", type=COUNT, default=0, metavar="N",
                           help=f"the first N admitted requests: {what}")
        group.add_argument(f"--{name}-rate", type=PROBABILITY, default=0.0, metavar="P",
                           help=f"with probability P: {what}")
    group.add_argument("--slow-s", type=SECONDS, default=10.0, metavar="SECONDS",
                       help="delay of the slow fault")
    group.add_argument("--oversize-mb", type=MEGABYTES, default=50.0, metavar="MB",
                       help="size of the oversize fault's answer")


def _add_mistake_arguments(parser: argparse.ArgumentParser) -> None:
    """--hallucinate and --paraphrase: answers wrong (or rewritten) on purpose; how repair
    turns (a follow-up listing flagged figures) are answered."""
    parser.add_argument(
        "--hallucinate",
        type=PROBABILITY,
        default=0.0,
        metavar="RATE",
        help="make about RATE of the numbers and months of each report wrong (digits swapped, "
        "a month out of the data window, a share off by a point); GET /stats lists them",
    )
    parser.add_argument(
        "--paraphrase",
        action="store_true",
        help="rewrite numbers the way LLMs do, keeping them true (45만 9,081기, 약 46만 기, "
        "약 16.1%%, %%포인트); GET /stats lists them",
    )
    parser.add_argument(
        "--repair-quality",
        type=PROBABILITY,
        default=1.0,
        metavar="P",
        help="a repair turn (a follow-up listing flagged figures) corrects each figure it "
        "planted with probability P (default 1.0: all); GET /stats lists each as corrected "
        "or kept",
    )
    parser.add_argument(
        "--hallucinate-repeat",
        action="store_true",
        help="a repair turn keeps the first flagged figure as it was, wrong on purpose",
    )


def config_from_args(ns: argparse.Namespace) -> EmulatorConfig:
    """EmulatorConfig from parsed ``add_arguments`` options (absent options keep defaults)."""
    values = {f.name: getattr(ns, f.name) for f in fields(EmulatorConfig) if hasattr(ns, f.name)}
    values["reject"] = tuple(values.get("reject") or ())
    return EmulatorConfig(**values)
