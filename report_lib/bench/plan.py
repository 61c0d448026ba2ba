"""What a benchmark run measures: the scenarios, their cases and the names they accept.

Scenarios (their names in ``SCENARIO_NAMES``; the CLI, the comparison report,
``benchmarks/run_all.py`` and the notebooks read them from there):

- ``seed``: 3 reports, fixed 2.0 s latency: the original experiment (published 6.01 s / 2.01 s);
- ``realistic``: 3 reports on the Sonnet latency model;
- ``scale``: N in {3, 10, 30, 100, 300}, fixed 1.0 s, concurrency N and 10;
- ``throttled``: the emulator's token quota set so the run is quota-bound; retries alone
  (variant ``retries``) vs the client-side limiter (variant ``limiter``);
- ``original``: the original design (a new boto3 Session + client per task in
  ``ThreadPoolExecutor(max_workers=3)``), N in {3, 300}, fixed 1.0 s;
- ``peers``: ours (thread, asyncio) beside the libraries a user would pick instead
  (``peer_names.PEER_NAMES``), N in {3, 100, 300} at concurrency N, fixed 1.0 s, variants
  ``warm``, ``cold`` and (at N = 100, or the largest N asked for) ``quota``; bench.peers runs it.
- ``quota``: Bedrock's quota models (report_lib.llm.quota): quota minute (bucket, sliding,
  fixed) × accounting (``actual``: input + output at 1×, charged on admission; ``bedrock``:
  input + maxTokens reserved, settled with output × 5) × client (``known``: the limiter told
  the quota; ``auto``: it finds it; ``adaptive``: botocore's adaptive retry mode; ``retries``:
  our retries alone) × strategy (thread, asyncio), N in {40, 200}, each cell's quota set so the
  run is quota-bound for about three quota minutes; plus, per quota model, strategy and N, two
  "far" cells whose quota is never reached: ``auto-far`` (auto) and ``none-far`` (no limiter)
  beside it. The variant names the cell: ``client/minute/accounting``.

A case is one configuration (scenario, variant, strategy, start method, N, concurrency); every
key of ``Case`` that a results row carries is in ``CASE_KEYS``, and analysis groups by all of
them so that no figure mixes two cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from report_lib.bench.peer_names import (
    OUR_PEER_STRATEGIES,
    PEER_NAMES,
    PEER_VARIANTS,
    PEERS_N,
    PEERS_SCENARIO,
)
from report_lib.errors import ConfigError
from report_lib.execution import START_METHODS, STRATEGIES

SCENARIO_NAMES: tuple[str, ...] = ("seed", "realistic", "scale", "throttled", "original",
                              PEERS_SCENARIO, "quota")
THREE_REPORT_SCENARIOS: tuple[str, ...] = ("seed", "realistic")  # always N = 3
ORIGINAL = "original"  # the original design, a baseline (never a winner)
SEQUENTIAL = "sequential"
BENCH_STRATEGIES: tuple[str, ...] = STRATEGIES.names()
# What seed/realistic/scale run when no strategy is named: every registered strategy but the
# baseline, which has its own scenario (ask for it with strategies=[..., "original"]).
DEFAULT_STRATEGIES: tuple[str, ...] = tuple(s for s in BENCH_STRATEGIES if s != ORIGINAL)
SCALE_N: tuple[int, ...] = (3, 10, 30, 100, 300)
ORIGINAL_N: tuple[int, ...] = (3, 300)
THROTTLED_N = 30
# The throttled scenario's clients: our retries alone, the client-side limiter told the quota,
# the limiter finding the quota on its own (--tpm-limit auto), botocore's adaptive retry mode.
THROTTLED_VARIANTS: tuple[str, ...] = ("retries", "limiter", "auto", "adaptive")
QUOTA = "quota"
QUOTA_N: tuple[int, ...] = (40, 200)
QUOTA_MINUTE_KINDS: tuple[str, ...] = ("bucket", "sliding", "fixed")  # llm.quota.QUOTA_MINUTES
QUOTA_ACCOUNTINGS: tuple[str, ...] = ("actual", "bedrock")  # llm.quota.ACCOUNTINGS
QUOTA_CLIENTS: tuple[str, ...] = ("known", "auto", "adaptive", "retries")
FAR = "-far"  # a cell whose quota is never reached
QUOTA_FAR_CLIENTS: tuple[str, ...] = ("auto" + FAR, "none" + FAR)
QUOTA_STRATEGIES: tuple[str, ...] = ("thread", "asyncio")
# The quota scenario's default time scale: a quota minute of 3 s, calls of 50 ms (1 s × 0.05),
# so the whole matrix (about 150 cells, one run each) takes about 25 minutes.
QUOTA_TIME_SCALE = 0.05
QUOTA_REPEATS = 1
# seed's "cold" variant (a fresh process per run), planned with the default strategies
COLD_STRATEGIES: tuple[str, ...] = ("thread", "asyncio")
BARE_N = (300,)  # where the bare client (variant "bare") runs beside thread and asyncio
SEQUENTIAL_MAX_N = 10  # by default sequential runs only up to here; larger N are estimated
PROCESS_METHOD_N = (3, 100)  # where every start method runs by default
# The original's claim: 3 calls faked with time.sleep(2), sequential vs ThreadPoolExecutor(3).
PUBLISHED: dict[str, float] = {"sequential_s": 6.01, "parallel_s": 2.01}
PUBLISHED_CALL_S = 2.0

# The columns of a results row that define its case (plus time_scale: a scaled run is another
# condition). Grouping by fewer keys mixes cases.
CASE_KEYS: tuple[str, ...] = ("scenario", "variant", "strategy", "start_method", "n_jobs",
                              "concurrency", "time_scale")


@dataclass(frozen=True)
class Case:
    """One benchmark configuration; repeated ``repeats`` times."""

    scenario: str
    strategy: str  # a BENCH_STRATEGIES name
    n_jobs: int
    concurrency: int
    latency_model: str
    variant: str = ""
    start_method: str | None = None
    tpm: int | None = None
    quota_minute: str = ""  # quota scenario: bucket | sliding | fixed
    accounting: str = ""  # quota scenario: actual | bedrock
    client: str = ""  # quota scenario: a QUOTA_CLIENTS or QUOTA_FAR_CLIENTS name

    @property
    def far(self) -> bool:
        """A quota cell whose quota is never reached."""
        return self.client.endswith(FAR)

    @property
    def label(self) -> str:
        extra = "/".join(x for x in (self.variant, self.start_method or "") if x)
        return (f"{self.scenario} {self.strategy}{'/' + extra if extra else ''} "
                f"n={self.n_jobs} c={self.concurrency}")


def split_names(values: Sequence[str] | str | None) -> list[str]:
    """Names from a list and/or comma-separated strings, blanks dropped."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def check_names(names: Sequence[str], valid: Sequence[str], what: str) -> None:
    """ConfigError naming the unknown ``what`` values and the valid ones."""
    bad = [n for n in names if n not in valid]
    if bad:
        raise ConfigError(f"unknown {what} {', '.join(bad)}; choose from {', '.join(valid)}")


def _concurrencies(n: int, wanted: Sequence[int] | None, default: Sequence[int]) -> list[int]:
    levels = wanted or default
    return sorted({max(1, min(int(c), n)) for c in levels}, reverse=True)


def plan_cases(
    scenario: str,
    *,
    strategies: Sequence[str] | None = None,
    n_values: Sequence[int] | None = None,
    start_methods: Sequence[str] | None = None,
    max_concurrency: Sequence[int] | None = None,
) -> list[Case]:
    """The cases of one scenario (defaults as documented in the module docstring)."""
    check_names([scenario], SCENARIO_NAMES, "scenario")
    methods = list(start_methods or ["spawn"])
    check_names(methods, START_METHODS, "start method")
    chosen = list(strategies) if strategies else None
    if scenario == PEERS_SCENARIO:
        return plan_peer_cases(n_values, chosen)
    if chosen:
        check_names(chosen, BENCH_STRATEGIES, "strategy")
    if scenario in THREE_REPORT_SCENARIOS:
        return _three_report_cases(scenario, chosen, methods, max_concurrency)
    if scenario == "scale":
        return _scale_cases(n_values, chosen, methods, max_concurrency)
    if scenario == "throttled":
        return _throttled_cases(n_values, chosen, methods, max_concurrency)
    if scenario == QUOTA:
        return quota_cases(n_values, chosen, max_concurrency)
    return [Case(ORIGINAL, ORIGINAL, n, _concurrency(ORIGINAL, n, n), "fixed:1.0")
            for n in n_values or ORIGINAL_N]


def _concurrency(strategy: str, n: int, wanted: int) -> int:
    """``wanted``, or the strategy's own bound when it has one (sequential 1, original 3)."""
    own = STRATEGIES.get(strategy)
    return min(wanted, own.pool_size(wanted), own.default_concurrency(n))


def _with_methods(case: Case, methods: Sequence[str]) -> list[Case]:
    """A process case once per start method; any other case as is."""
    if case.strategy != "process" or case.start_method is not None:
        return [case]
    return [replace(case, start_method=method) for method in methods]


def _three_report_cases(scenario: str, chosen: list[str] | None, methods: list[str],
                        max_concurrency: Sequence[int] | None) -> list[Case]:
    model = "fixed:2.0" if scenario == "seed" else "sonnet"
    n = 3  # the three reports; --n applies to scale, throttled and original
    cases: list[Case] = []
    for c in _concurrencies(n, max_concurrency, [n]):
        for strategy in chosen or DEFAULT_STRATEGIES:
            conc = _concurrency(strategy, n, c)
            cases += _with_methods(Case(scenario, strategy, n, conc, model), methods)
            if scenario == "seed" and not chosen and strategy in COLD_STRATEGIES:
                cases.append(Case(scenario, strategy, n, conc, model, variant="cold"))
    return cases


def _throttled_cases(n_values: Sequence[int] | None, chosen: list[str] | None,
                     methods: list[str], max_concurrency: Sequence[int] | None) -> list[Case]:
    cases: list[Case] = []
    for n in n_values or [THROTTLED_N]:
        for c in _concurrencies(n, max_concurrency, [n]):
            for strategy in chosen or ("thread", "asyncio"):
                for variant in THROTTLED_VARIANTS:
                    case = Case("throttled", strategy, n, c, "fixed:1.0", variant=variant)
                    cases += _with_methods(case, methods)
    return cases


def _scale_cases(n_values: Sequence[int] | None, chosen: list[str] | None, methods: list[str],
                 max_concurrency: Sequence[int] | None) -> list[Case]:
    """Scale cases. Without an explicit strategy list the plan is trimmed to keep a full run
    short: sequential only up to N=10, concurrency 10 only for thread and asyncio, and start
    methods beyond the first only at N in PROCESS_METHOD_N (the process-overhead target)."""
    model, cases = "fixed:1.0", []
    for n in n_values or SCALE_N:
        for c in _concurrencies(n, max_concurrency, [n, 10]):
            for strategy in chosen or DEFAULT_STRATEGIES:
                cases += _scale_case(n, c, strategy, chosen, methods, model)
    return cases


def _scale_case(n: int, c: int, strategy: str, chosen: list[str] | None, methods: list[str],
                model: str) -> list[Case]:
    if strategy == SEQUENTIAL:
        keep = c == min(n, 10) and (chosen or n <= SEQUENTIAL_MAX_N)
        return [Case("scale", strategy, n, 1, model)] if keep else []
    if strategy == ORIGINAL:
        return [Case("scale", strategy, n, _concurrency(strategy, n, c), model)] if c == n else []
    if not (chosen or c == n or strategy in ("thread", "asyncio")):
        return []
    if strategy in ("thread", "asyncio") and c == n and n in BARE_N:
        return [Case("scale", strategy, n, c, model),
                Case("scale", strategy, n, c, model, variant="bare")]
    if strategy == "process":
        every = chosen or (c == n and n in PROCESS_METHOD_N)
        return [Case("scale", strategy, n, c, model, start_method=method)
                for method in (methods if every else methods[:1])]
    return [Case("scale", strategy, n, c, model)]


PEERS_MODEL = "fixed:1.0"
PEERS_QUOTA_N = 100  # where the quota variant runs (the largest N asked for when not asked)


def plan_peer_cases(n_values: Sequence[int] | None, chosen: Sequence[str] | None) -> list[Case]:
    """The peers scenario: every strategy warm and cold at each N (concurrency N), then every
    strategy under a quota at one N; the order is the order measured side by side."""
    names = (*OUR_PEER_STRATEGIES, *PEER_NAMES)
    strategies = list(chosen or names)
    check_names(strategies, names, "peers strategy")
    sizes = sorted({int(n) for n in n_values or PEERS_N})
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"the peers scenario needs job counts >= 1, got {list(n_values or [])}")
    warm, cold, quota = PEER_VARIANTS
    cases = [Case(PEERS_SCENARIO, s, n, n, PEERS_MODEL, variant=v)
             for n in sizes for v in (warm, cold) for s in strategies]
    quota_n = PEERS_QUOTA_N if PEERS_QUOTA_N in sizes else sizes[-1]
    return cases + [Case(PEERS_SCENARIO, s, quota_n, quota_n, PEERS_MODEL, variant=quota)
                    for s in strategies]


def quota_variant(client: str, minute: str, accounting: str) -> str:
    """The variant naming one quota cell: ``client/minute/accounting``."""
    return f"{client}/{minute}/{accounting}"


def quota_cases(n_values: Sequence[int] | None = None, chosen: Sequence[str] | None = None,
                max_concurrency: Sequence[int] | None = None) -> list[Case]:
    """The quota matrix (module docstring), without its quotas: the run sets each cell's
    ``tpm`` and latency model from its jobs (bench.quota_cells). Cells of one N, quota minute
    and accounting are listed together, far cells after the quota-bound ones."""
    cases: list[Case] = []
    for n in n_values or QUOTA_N:
        for c in _concurrencies(n, max_concurrency, [n]):
            for minute in QUOTA_MINUTE_KINDS:
                for accounting in QUOTA_ACCOUNTINGS:
                    for client in (*QUOTA_CLIENTS, *QUOTA_FAR_CLIENTS):
                        for strategy in chosen or QUOTA_STRATEGIES:
                            cases.append(Case(
                                QUOTA, strategy, n, _concurrency(strategy, n, c), "fixed:1.0",
                                variant=quota_variant(client, minute, accounting),
                                quota_minute=minute, accounting=accounting, client=client))
    return cases
