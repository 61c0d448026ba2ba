"""The benchmark: every strategy through the real client stack against the emulator.

Scenarios (DESIGN §5–6, issue "Strategies and the benchmark"):

- ``seed``: 3 reports, fixed 2.0 s latency: the original experiment (published 6.01 s / 2.01 s);
- ``realistic``: 3 reports on the Sonnet latency model;
- ``scale``: N in {3, 10, 30, 100, 300}, fixed 1.0 s, concurrency N and 10;
- ``throttled``: the emulator's token quota set so the run is quota-bound; retries alone
  (variant ``retries``) vs the client-side limiter (variant ``limiter``);
- ``original``: the original design (a new boto3 Session + client per task in
  ``ThreadPoolExecutor(max_workers=3)``), N in {3, 300}, fixed 1.0 s.

Every delay is multiplied by ``time_scale`` (also the quota's minute and the client's backoff,
so a scaled run keeps the unscaled pattern); rows record the scale. One row per (scenario,
variant, strategy, start method, n_jobs, concurrency, repeat), after one unrecorded warm-up.

Lower bound (DESIGN §6): ``max(max_i L_i, quota term)`` with ``L_i`` the emulator's target
latency of job i (fixed models: exactly the fixed latency × scale; Sonnet/Haiku: the jitter-free
median for the job's output tokens, so ``realistic`` efficiencies are relative to the median
draw). The emulator's token bucket starts full (``tpm`` tokens), so the quota term is
``max(0, Σ tokens − tpm) / Q + min_i L_i`` with Q = tpm per scaled minute; with an empty bucket
it would be DESIGN's ``Σ tokens / Q``. Against ``--endpoint-url`` the latencies are unknown:
the bound is the slowest job's own client-measured latency (``lower_bound_kind = measured``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from report_lib import config
from report_lib.execution import START_METHODS, arun_jobs, run_jobs, run_one
from report_lib.execution import STRATEGIES as STRATEGY_REGISTRY
from report_lib.jobs import ReportJob, ReportResult

if TYPE_CHECKING:
    import pandas as pd

    from report_lib.llm.settings import BackendSettings

# The registry's names except the baseline, which bench still plans on its own (to be replaced
# by STRATEGY_REGISTRY.names() with "original" run through run_jobs like the others).
STRATEGIES: tuple[str, ...] = tuple(n for n in STRATEGY_REGISTRY.names() if n != "original")
SCENARIOS: tuple[str, ...] = ("seed", "realistic", "scale", "throttled", "original")
SCALE_N: tuple[int, ...] = (3, 10, 30, 100, 300)
ORIGINAL_N: tuple[int, ...] = (3, 300)
THROTTLED_N = 30
THROTTLED_QUOTA_MINUTES = 4.0  # Σ tokens ≈ 4 × tpm: 1 minute of burst + 3 quota-bound minutes
SEQUENTIAL_MAX_N = 10  # by default sequential runs only up to here; larger N are estimated
PROCESS_METHOD_N = (3, 100)  # where every start method runs by default
PUBLISHED = {"sequential_s": 6.01, "parallel_s": 2.01}
ORIGINAL_WORKERS = 3
PACKAGES = ("report-lib", "boto3", "botocore", "aiobotocore", "aiohttp", "urllib3", "dask",
            "distributed", "pandas", "psutil", "tqdm")
POOL_FULL_TEXT = "Connection pool is full"

COLUMNS: tuple[str, ...] = (
    "scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency", "repeat",
    "makespan_s", "lower_bound_s", "lower_bound_kind", "efficiency", "speedup_vs_sequential",
    "speedup_estimated", "sum_latency_s", "cpu_s", "cpu_ms_per_call", "peak_rss_mb",
    "requests", "throttled", "retries", "failed", "server_failed", "rejected", "max_in_flight",
    "pool_full_warnings", "tokens", "throughput_tpm", "sustained_tpm", "quota_tpm",
    "latency_model", "time_scale", "backend",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One benchmark configuration; repeated ``repeats`` times."""

    scenario: str
    strategy: str  # a strategies.STRATEGIES name, or "original"
    n_jobs: int
    concurrency: int
    latency_model: str
    variant: str = ""
    start_method: str | None = None
    tpm: int | None = None

    @property
    def label(self) -> str:
        extra = "/".join(x for x in (self.variant, self.start_method or "") if x)
        return f"{self.scenario} {self.strategy}{'/' + extra if extra else ''} " \
               f"n={self.n_jobs} c={self.concurrency}"


@dataclass
class TargetCheck:
    """One target of the issue, measured: ``passed`` is None when it is informational."""

    target: str
    scenario: str
    strategy: str
    measured: float
    threshold: float | None
    passed: bool | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- planning


def _split(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _check_names(names: Sequence[str], valid: Sequence[str], what: str) -> None:
    bad = [n for n in names if n not in valid]
    if bad:
        raise ValueError(f"unknown {what} {', '.join(bad)}; choose from {', '.join(valid)}")


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
    _check_names([scenario], SCENARIOS, "scenario")
    methods = list(start_methods or ["spawn"])
    _check_names(methods, START_METHODS, "start method")
    chosen = list(strategies) if strategies else None
    if chosen:
        _check_names(chosen, (*STRATEGIES, "original"), "strategy")
    cases: list[Case] = []

    def add(strategy: str, n: int, c: int, model: str, **kw: Any) -> None:
        if strategy == "process" and "start_method" not in kw:
            for method in methods:
                cases.append(Case(scenario, strategy, n, c, model, start_method=method, **kw))
        else:
            cases.append(Case(scenario, strategy, n, c, model, **kw))

    if scenario in ("seed", "realistic"):
        model = "fixed:2.0" if scenario == "seed" else "sonnet"
        n = 3  # the three reports; --n applies to scale, throttled and original
        for c in _concurrencies(n, max_concurrency, [n]):
            for strategy in chosen or STRATEGIES:
                if strategy == "original":
                    add(strategy, n, ORIGINAL_WORKERS, model)
                else:
                    add(strategy, n, 1 if strategy == "sequential" else c, model)
    elif scenario == "scale":
        cases += _scale_cases(n_values, chosen, methods, max_concurrency)
    elif scenario == "throttled":
        for n in n_values or [THROTTLED_N]:
            for c in _concurrencies(n, max_concurrency, [n]):
                for strategy in chosen or ("thread", "asyncio"):
                    for variant in ("retries", "limiter"):
                        add(strategy, n, c, "fixed:1.0", variant=variant)
    else:  # original
        for n in n_values or ORIGINAL_N:
            add("original", n, ORIGINAL_WORKERS, "fixed:1.0")
    return cases


def _scale_cases(n_values: Sequence[int] | None, chosen: list[str] | None, methods: list[str],
                 max_concurrency: Sequence[int] | None) -> list[Case]:
    """Scale cases. Without an explicit strategy list the plan is trimmed to keep a full run
    short: sequential only up to N=10, concurrency 10 only for thread and asyncio, and start
    methods beyond the first only at N in PROCESS_METHOD_N (the process-overhead target)."""
    model, cases = "fixed:1.0", []
    for n in n_values or SCALE_N:
        for c in _concurrencies(n, max_concurrency, [n, 10]):
            for strategy in chosen or STRATEGIES:
                if strategy == "sequential":
                    if c == min(n, 10) and (chosen or n <= SEQUENTIAL_MAX_N):
                        cases.append(Case("scale", strategy, n, 1, model))
                elif strategy == "original":
                    if c == n:
                        cases.append(Case("scale", strategy, n, ORIGINAL_WORKERS, model))
                elif not (chosen or c == n or strategy in ("thread", "asyncio")):
                    continue
                elif strategy == "process":
                    every = chosen or (c == n and n in PROCESS_METHOD_N)
                    for method in methods if every else methods[:1]:
                        cases.append(Case("scale", strategy, n, c, model, start_method=method))
                else:
                    cases.append(Case("scale", strategy, n, c, model))
    return cases


# --------------------------------------------------------------------------- jobs


class JobSource:
    """Report jobs built once from synthetic data; prefixes serve every N."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._df: pd.DataFrame | None = None
        self._many: list[ReportJob] = []
        self._three: list[ReportJob] | None = None

    @property
    def df(self) -> pd.DataFrame:
        if self._df is None:
            from report_lib.data.sample import synthesize

            self._df = synthesize(seed=self.seed)
        return self._df

    def jobs(self, scenario: str, n: int) -> list[ReportJob]:
        from report_lib.reports.jobs import build_jobs, build_many_jobs

        if scenario in ("seed", "realistic") and n == 3:
            if self._three is None:
                self._three = build_jobs(self.df)
            return list(self._three)
        if len(self._many) < n:
            self._many = build_many_jobs(self.df, n)
        return self._many[:n]


def estimate_job_tokens(jobs: Sequence[ReportJob]) -> list[tuple[int, int]]:
    """(input, output) tokens the emulator will bill for each job (its answer, counted)."""
    from report_lib.emulator.answers import answer_for
    from report_lib.llm.tokens import estimate_tokens

    out = []
    for job in jobs:
        answer = answer_for(job.system, job.prompt)
        out.append((estimate_tokens(job.system + "\n" + job.prompt), estimate_tokens(answer.text)))
    return out


def throttled_quota(jobs: Sequence[ReportJob], minutes: float = THROTTLED_QUOTA_MINUTES) -> int:
    """A tokens-per-minute quota that ``jobs`` need about ``minutes`` quota minutes for."""
    tokens = [i + o for i, o in estimate_job_tokens(jobs)]
    return max(math.ceil(sum(tokens) / minutes), 2 * max(tokens))


# --------------------------------------------------------------------------- running


class _PoolFullCounter(logging.Handler):
    """Counts urllib3's "Connection pool is full" warnings (and keeps them off stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if POOL_FULL_TEXT in record.getMessage():
            self.count += 1


@contextmanager
def count_pool_full() -> Iterator[_PoolFullCounter]:
    """Count pool-full warnings of urllib3 in this process while the block runs."""
    logger = logging.getLogger("urllib3.connectionpool")
    counter = _PoolFullCounter()
    propagate = logger.propagate
    logger.addHandler(counter)
    logger.propagate = False
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.propagate = propagate


def run_original(
    jobs: Sequence[ReportJob], settings: BackendSettings, max_workers: int = ORIGINAL_WORKERS
) -> list[ReportResult]:
    """The original design: ThreadPoolExecutor(3), a new boto3 Session and client per task."""
    from report_lib.llm.backends import make_backend

    t0 = time.perf_counter()

    def task(job: ReportJob) -> ReportResult:
        backend = make_backend(settings, max_concurrency=1)  # new Session + client, every time
        try:
            return run_one(backend, job, settings, t0)
        finally:
            backend.close()

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="original") as pool:
        return list(pool.map(task, jobs))


class _Dask:
    """A LocalCluster shared by the dask rows of one emulator group (or an external scheduler).

    Closed after the group's dask rows, which run last in their group: its scheduler thread
    and worker processes would otherwise add their idle CPU to the other strategies' rows.
    """

    def __init__(self, scheduler: str | None) -> None:
        self.external = scheduler
        self.address = scheduler
        self.cluster: Any = None
        self.start_s: list[float] = []

    def ensure(self, threads: int) -> str:
        if self.address is None:
            from dask.distributed import LocalCluster

            from report_lib.execution.dask import default_dask_workers
            from report_lib.execution.dask import quiet_dask as _quiet_dask

            _quiet_dask()
            n_workers = default_dask_workers(threads)
            started = time.perf_counter()
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=math.ceil(threads / n_workers),
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self.start_s.append(time.perf_counter() - started)
            self.address = self.cluster.scheduler_address
        return self.address

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
            self.address = self.external


def _case_settings(case: Case, base: BackendSettings, time_scale: float,
                   jobs: Sequence[ReportJob], emu: Any) -> BackendSettings:
    """The client settings of one case: endpoint, and for a quota its scaled backoff/limiter."""
    settings = replace(base, endpoint_url=emu.url) if emu is not None else base
    if case.tpm is None:
        return settings
    # The quota's minute is scaled: scale the client's backoff with it.
    settings = replace(settings, backoff_base_s=base.backoff_base_s * time_scale,
                       backoff_max_s=base.backoff_max_s * time_scale)
    if case.variant == "limiter":  # reserve the answers' mean size, not a generic guess
        outputs = [o for _, o in estimate_job_tokens(jobs)]
        settings = replace(settings, tpm_limit=case.tpm, limiter_window_s=60.0 * time_scale,
                           expected_output_tokens=math.ceil(statistics.mean(outputs)))
    return settings


def client_create_ms(settings: BackendSettings, times: int = 3) -> float:
    """Median milliseconds to build a backend (Session + client): excluded from warm rows."""
    from report_lib.llm.backends import make_backend

    samples = []
    for _ in range(times):
        t = time.perf_counter()
        make_backend(settings, max_concurrency=10).close()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def _warmup_jobs(case: Case, jobs: Sequence[ReportJob]) -> Sequence[ReportJob]:
    """One round at the case's concurrency (3 jobs under a quota, to leave the bucket alone)."""
    return jobs[: 3 if case.tpm else max(1, min(case.n_jobs, case.concurrency))]


class _Runner:
    """Runs one case. In-process strategies reuse one warm backend across the warm-up and the
    repeats (a service's steady state: client built once, connections kept alive; asyncio on one
    long-lived loop), except under a quota, where each run needs a fresh client-side limiter.
    Process pools are started by every run (their cost is what the process rows show); dask
    rows use the benchmark's shared cluster, whose workers cache their backend."""

    def __init__(self, case: Case, settings: BackendSettings, dask: _Dask, max_threads: int):
        self.case, self.settings, self.dask, self.max_threads = case, settings, dask, max_threads
        self.backend: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Runner:
        case = self.case
        if case.tpm is None and case.strategy in ("sequential", "thread", "asyncio"):
            from report_lib.llm.backends import make_backend

            pool = 1 if case.strategy == "sequential" else case.concurrency
            self.backend = make_backend(self.settings, max_concurrency=pool)
            if case.strategy == "asyncio":
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                               name="bench-loop")
                self.thread.start()
        return self

    def run(self, jobs: Sequence[ReportJob]) -> list[ReportResult]:
        case = self.case
        if case.strategy == "original":
            return run_original(jobs, self.settings)
        if self.loop is not None:
            coro = arun_jobs(jobs, self.settings, max_concurrency=case.concurrency,
                             backend=self.backend)
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()
        scheduler = self.dask.ensure(self.max_threads) if case.strategy == "dask" else None
        return run_jobs(jobs, self.settings, strategy=case.strategy,
                        max_concurrency=case.concurrency, start_method=case.start_method,
                        scheduler=scheduler, backend=self.backend)

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.thread is not None:
            aclose = getattr(self.backend, "aclose", None)
            if aclose is not None:
                asyncio.run_coroutine_threadsafe(aclose(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()
        if self.backend is not None:
            self.backend.close()


def _latencies(case: Case, results: Sequence[ReportResult], time_scale: float,
               external: bool) -> list[float]:
    ok = [r for r in results if r.ok]
    if external:
        return [r.seconds for r in ok]
    from report_lib.emulator.latency import parse_latency_model

    model = parse_latency_model(case.latency_model, time_scale)
    return [model.median_s(r.output_tokens) for r in ok]


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


def make_row(case: Case, repeat: int, results: Sequence[ReportResult], makespan: float, *,
             time_scale: float, external: bool, stats: Mapping[str, Any] | None,
             cpu_s: float, peak_rss_mb: float, pool_full: int | None,
             backend: str) -> dict[str, Any]:
    """One results.csv row from a measured run (speedups are filled in afterwards)."""
    latencies = _latencies(case, results, time_scale, external)
    tokens = sum(r.input_tokens + r.output_tokens for r in results if r.ok)
    max_l = max(latencies) if latencies else math.nan
    lower, kind = max_l, ("measured" if external else "latency")
    minute = 60.0 * time_scale
    sustained = math.nan
    if case.tpm and latencies:
        rate = case.tpm / minute  # tokens per second
        quota_bound = max(0.0, tokens - case.tpm) / rate + min(latencies)
        if quota_bound > lower:
            lower, kind = quota_bound, "quota"
        busy = makespan - min(latencies)
        if busy > 0:
            sustained = max(0.0, tokens - case.tpm) / busy * minute
    stats = stats or {}
    n = len(results)
    return {
        "scenario": case.scenario,
        "variant": case.variant,
        "strategy": case.strategy,
        "start_method": case.start_method or "",
        "n_jobs": n,
        "concurrency": case.concurrency,
        "repeat": repeat,
        "makespan_s": makespan,
        "lower_bound_s": lower,
        "lower_bound_kind": kind,
        "efficiency": lower / makespan if makespan > 0 else math.nan,
        "speedup_vs_sequential": math.nan,
        "speedup_estimated": True,
        "sum_latency_s": sum(latencies) if latencies else math.nan,
        "cpu_s": cpu_s,
        "cpu_ms_per_call": cpu_s / n * 1000 if n else math.nan,
        "peak_rss_mb": peak_rss_mb,
        "requests": _nan_if_none(stats.get("requests")),
        "throttled": _nan_if_none(stats.get("throttled")),
        "retries": sum(max(0, r.attempts - 1) for r in results),
        "failed": sum(1 for r in results if not r.ok),
        "server_failed": _nan_if_none(stats.get("failed")),
        "rejected": _nan_if_none(stats.get("rejected")),
        "max_in_flight": _nan_if_none(stats.get("max_in_flight")),
        "pool_full_warnings": math.nan if pool_full is None else pool_full,
        "tokens": tokens,
        "throughput_tpm": tokens / makespan * minute if makespan > 0 else math.nan,
        "sustained_tpm": sustained,
        "quota_tpm": _nan_if_none(case.tpm),
        "latency_model": "external" if external else case.latency_model,
        "time_scale": time_scale,
        "backend": backend,
    }


def _timeline(row: Mapping[str, Any], results: Sequence[ReportResult]) -> dict[str, Any]:
    keys = ("scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency", "repeat",
            "makespan_s")
    return {
        **{k: row[k] for k in keys},
        "jobs": [
            {"key": r.key, "start_s": round(r.start_s, 4), "end_s": round(r.end_s, 4),
             "attempts": r.attempts, "worker": r.worker, "error_type": r.error_type}
            for r in results
        ],
    }


def fill_speedups(rows: list[dict[str, Any]]) -> None:
    """Measured speedup where a sequential row of the same group exists, else Σ L_i / makespan."""
    group = ("scenario", "variant", "n_jobs", "time_scale", "latency_model")
    sequential: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        if row["strategy"] == "sequential":
            sequential.setdefault(tuple(row[k] for k in group), []).append(row["makespan_s"])
    for row in rows:
        base = sequential.get(tuple(row[k] for k in group))
        if base:
            row["speedup_vs_sequential"] = statistics.median(base) / row["makespan_s"]
            row["speedup_estimated"] = False
        else:
            row["speedup_vs_sequential"] = row["sum_latency_s"] / row["makespan_s"]
            row["speedup_estimated"] = True


def _scale_for(time_scale: float | Mapping[str, float], scenario: str) -> float:
    if isinstance(time_scale, Mapping):
        return float(time_scale.get(scenario, time_scale.get("default", 1.0)))
    return float(time_scale)


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def output_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """(results csv, timelines json, metadata json) for a folder or a ``.csv`` path."""
    out = Path(out)
    if out.suffix.lower() == ".csv":
        csv, stem = out, out.stem
        prefix = "" if stem == "results" else f"{stem}_"
        return (csv, out.with_name(f"{prefix}timelines.json"),
                out.with_name(f"{prefix}metadata.json"))
    return out / "results.csv", out / "timelines.json", out / "metadata.json"


def run_benchmark(
    scenarios: Sequence[str] = ("seed",),
    strategies: Sequence[str] | None = None,
    n_values: Sequence[int] | None = None,
    repeats: int = 3,
    time_scale: float | Mapping[str, float] = 1.0,
    endpoint_url: str | None = None,
    out_dir: str | Path = config.OUTPUT_DIR / "bench",
    progress: bool = True,
    start_methods: Sequence[str] | None = None,
    *,
    max_concurrency: Sequence[int] | None = None,
    scheduler: str | None = None,
    settings: BackendSettings | None = None,
    warmup: bool = True,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the scenarios, write results.csv, timelines.json, metadata.json; return the rows.

    ``out_dir`` is a folder, or a ``.csv`` path whose companions go next to it.
    ``time_scale`` may map scenario names to scales (``{"scale": 0.5, "default": 1.0}``).
    ``endpoint_url`` benchmarks that Bedrock-compatible endpoint (credentials from the
    environment) instead of starting the emulator; emulator counters are then NaN.
    """
    import pandas as pd

    from report_lib.llm.settings import BackendSettings

    scenarios = _split(scenarios) or ["seed"]
    _check_names(scenarios, SCENARIOS, "scenario")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if endpoint_url and "throttled" in scenarios:
        raise ValueError(
            "the throttled scenario sets the emulator's token quota; it cannot run against "
            "--endpoint-url. Drop one of them."
        )
    plan = {
        s: plan_cases(s, strategies=_split(strategies) or None, n_values=n_values,
                      start_methods=_split(start_methods) or None, max_concurrency=max_concurrency)
        for s in scenarios
    }
    csv_path, timelines_path, metadata_path = output_paths(out_dir)
    external = bool(endpoint_url)
    base = settings or BackendSettings()
    base = replace(base, backend="bedrock" if external else "emulator", endpoint_url=endpoint_url)
    source = JobSource()
    dask = _Dask(scheduler)
    max_threads = max((c.concurrency for cs in plan.values() for c in cs
                       if c.strategy == "dask"), default=1)
    runs_per_case = repeats + (1 if warmup else 0)
    total = sum(len(cs) for cs in plan.values()) * runs_per_case
    bar = _progress_bar(total, progress)
    rows: list[dict[str, Any]] = []
    timelines: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    client_ms: float | None = None
    try:
        for scenario, cases in plan.items():
            scale = _scale_for(time_scale, scenario)
            if scenario == "throttled":
                cases = [replace(c, tpm=throttled_quota(source.jobs(scenario, c.n_jobs)))
                         for c in cases]
            for model, tpm, group in _by_emulator(cases):
                with _endpoint(external, model, scale, tpm) as emu:
                    if client_ms is None:
                        client_ms = client_create_ms(
                            replace(base, endpoint_url=emu.url) if emu is not None else base
                        )
                    for case in sorted(group, key=lambda c: c.strategy == "dask"):
                        jobs = source.jobs(scenario, case.n_jobs)
                        settings_c = _case_settings(case, base, scale, jobs, emu)
                        with _Runner(case, settings_c, dask, max_threads) as runner:
                            if warmup:
                                bar.set_description(f"warm-up {case.label}")
                                runner.run(_warmup_jobs(case, jobs))
                                bar.update(1)
                            for repeat in range(1, repeats + 1):
                                bar.set_description(case.label)
                                row, timeline = _measure(case, repeat, jobs, runner, emu, scale,
                                                         external)
                                rows.append(row)
                                timelines.append(timeline)
                                bar.update(1)
                    dask.close()
    finally:
        bar.close()
        dask.close()
    fill_speedups(rows)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(csv_path, index=False)
    timelines_path.write_text(json.dumps(timelines, ensure_ascii=False) + "\n", encoding="utf-8")
    meta = {
        "created": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
        "time_scale": dict(time_scale) if isinstance(time_scale, Mapping) else time_scale,
        "repeats": repeats,
        "warmup": warmup,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": {"start": load_start[0], "end": os.getloadavg()[0]},
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": _package_versions(),
        "scenarios": list(scenarios),
        "endpoint_url": endpoint_url,
        "model_id": base.model_id,
        "dask_cluster_start_s": dask.start_s,
        "client_create_ms": client_ms,
        "published": dict(PUBLISHED),
        "lower_bound": "max(max_i L_i, max(0, tokens - tpm) / Q + min_i L_i); docs/BENCHMARKS.md",
    }
    metadata_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return df


def _by_emulator(cases: Sequence[Case]) -> list[tuple[str, int | None, list[Case]]]:
    groups: dict[tuple[str, int | None], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.latency_model, case.tpm), []).append(case)
    return [(model, tpm, group) for (model, tpm), group in groups.items()]


@contextmanager
def _endpoint(external: bool, model: str, time_scale: float, tpm: int | None) -> Iterator[Any]:
    if external:
        yield None
        return
    from report_lib.emulator import Emulator

    with Emulator(latency_model=model, time_scale=time_scale, tpm=tpm) as emu:
        yield emu


def _measure(case: Case, repeat: int, jobs: Sequence[ReportJob], runner: _Runner, emu: Any,
             time_scale: float, external: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    from report_lib.bench.resources import ResourceMonitor

    if emu is not None:
        emu.reset_stats()  # fresh counters and a full token bucket
    in_process = case.strategy in ("sequential", "thread", "asyncio", "original")
    counting = count_pool_full() if in_process else nullcontext(None)
    exclude = [emu.pid] if emu is not None else []
    with counting as counter, ResourceMonitor(exclude_pids=exclude) as monitor:
        t = time.perf_counter()
        results = runner.run(jobs)
        makespan = time.perf_counter() - t
    stats = emu.stats() if emu is not None else None
    row = make_row(
        case, repeat, results, makespan, time_scale=time_scale, external=external, stats=stats,
        cpu_s=monitor.cpu_s, peak_rss_mb=monitor.peak_rss_mb,
        pool_full=counter.count if counter is not None else None,
        backend=runner.settings.backend,
    )
    return row, _timeline(row, results)


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", disable=not enabled, leave=False)


# --------------------------------------------------------------------------- reading, summary


def load_results(out_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """(results, timelines, metadata) written by run_benchmark (folder or ``.csv`` path)."""
    import pandas as pd

    csv_path, timelines_path, metadata_path = output_paths(out_dir)
    df = pd.read_csv(csv_path, keep_default_na=False, na_values=["", "nan", "NaN"])
    for col in ("variant", "start_method"):
        if col in df:
            df[col] = _text_column(df[col])
    timelines = json.loads(timelines_path.read_text(encoding="utf-8"))
    meta = json.loads(metadata_path.read_text(encoding="utf-8"))
    return df, timelines, meta


def _text_column(values: pd.Series) -> pd.Series:
    """A label column as plain strings, empty for missing (CSV reads an empty column as NaN)."""
    return values.astype("string").fillna("").astype(str)


GROUP_KEYS = ["scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency",
              "time_scale"]


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Median per scenario/variant/strategy/start method/n/concurrency, with the spread."""
    df = results.copy()
    for col in ("variant", "start_method"):
        df[col] = _text_column(df[col])
    grouped = df.groupby(GROUP_KEYS, sort=False, dropna=False)
    out = grouped.agg(
        repeats=("repeat", "count"),
        makespan_s=("makespan_s", "median"),
        makespan_min_s=("makespan_s", "min"),
        makespan_max_s=("makespan_s", "max"),
        lower_bound_s=("lower_bound_s", "median"),
        efficiency=("efficiency", "median"),
        speedup_vs_sequential=("speedup_vs_sequential", "median"),
        speedup_estimated=("speedup_estimated", "max"),
        cpu_ms_per_call=("cpu_ms_per_call", "median"),
        peak_rss_mb=("peak_rss_mb", "max"),
        requests=("requests", "median"),
        throttled=("throttled", "median"),
        retries=("retries", "median"),
        failed=("failed", "sum"),
        max_in_flight=("max_in_flight", "max"),
        pool_full_warnings=("pool_full_warnings", "sum"),
        throughput_tpm=("throughput_tpm", "median"),
        sustained_tpm=("sustained_tpm", "median"),
        quota_tpm=("quota_tpm", "first"),
    ).reset_index()
    out["spread_pct"] = (out["makespan_max_s"] - out["makespan_min_s"]) / out["makespan_s"] * 100
    return out


def _median_of(df: pd.DataFrame, column: str, **where: Any) -> float:
    sel = df
    for key, value in where.items():
        sel = sel[sel[key] == value]
    values = sel[column].dropna()
    return float(values.median()) if len(values) else math.nan


def _largest(df: pd.DataFrame, scenario: str) -> int | None:
    sel = df[df["scenario"] == scenario]
    return int(sel["n_jobs"].max()) if len(sel) else None


def check_targets(results: pd.DataFrame) -> list[TargetCheck]:
    """The issue's targets, each measured from the rows present (medians over repeats)."""
    df = results.copy()
    for col in ("variant", "start_method"):
        df[col] = _text_column(df[col])
    checks: list[TargetCheck] = []
    _seed_checks(df, checks)
    _scale_checks(df, checks)
    _throttled_checks(df, checks)
    _process_checks(df, checks)
    _cpu_checks(df, checks)
    return checks


def _seed_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    seed = df[(df["scenario"] == "seed") & (df["n_jobs"] == 3)]
    if seed.empty:
        return
    scale = float(seed["time_scale"].iloc[0])
    latency = 2.0 * scale
    for strategy in ("thread", "asyncio"):
        m = _median_of(seed, "makespan_s", strategy=strategy)
        if not math.isnan(m):
            checks.append(TargetCheck(
                "makespan ≤ 1.02 × latency", "seed", strategy, m, 1.02 * latency,
                m <= 1.02 * latency, f"{m:.3f} s vs {latency:.3f} s latency ({m / latency:.3f}×)",
            ))
    seq = _median_of(seed, "makespan_s", strategy="sequential")
    thr = _median_of(seed, "makespan_s", strategy="thread")
    if not (math.isnan(seq) or math.isnan(thr)):
        ratio = seq / thr
        checks.append(TargetCheck(
            "sequential ≈ 3× thread", "seed", "sequential", ratio, 3.0, 2.85 <= ratio <= 3.15,
            f"{seq:.3f} s / {thr:.3f} s = {ratio:.2f}× (published 6.01 / 2.01 = 2.99×)",
        ))


def _scale_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    n = _largest(df, "scale")
    if n is None:
        return
    scale = df[(df["scenario"] == "scale") & (df["n_jobs"] == n) & (df["concurrency"] == n)]
    original = df[(df["strategy"] == "original") & (df["n_jobs"] == n)]
    for strategy in ("thread", "asyncio"):
        rows = scale[scale["strategy"] == strategy]
        if rows.empty:
            continue
        eff = float(rows["efficiency"].median())
        checks.append(TargetCheck(
            f"efficiency ≥ 0.90 at N={n}, concurrency N", "scale", strategy, eff, 0.90,
            eff >= 0.90, f"median makespan {rows['makespan_s'].median():.3f} s, lower bound "
            f"{rows['lower_bound_s'].median():.3f} s",
        ))
        warnings = rows["pool_full_warnings"].sum()
        checks.append(TargetCheck(
            f"no 'Connection pool is full' at N={n}", "scale", strategy, float(warnings), 0.0,
            bool(warnings == 0), f"{int(warnings)} warnings over {len(rows)} repeats",
        ))
        same_scale = original[original["time_scale"] == rows["time_scale"].iloc[0]]
        if not same_scale.empty:
            ratio = float(same_scale["makespan_s"].median() / rows["makespan_s"].median())
            checks.append(TargetCheck(
                f"≥ 100× faster than original at N={n}", "scale", strategy, ratio, 100.0,
                ratio >= 100.0, f"original {same_scale['makespan_s'].median():.2f} s vs "
                f"{rows['makespan_s'].median():.3f} s",
            ))


def _throttled_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    sel = df[df["scenario"] == "throttled"]
    for (strategy, variant), rows in sel.groupby(["strategy", "variant"], sort=False):
        sustained = float(rows["sustained_tpm"].median())
        quota = float(rows["quota_tpm"].iloc[0])
        failed = int(rows["failed"].sum())
        ratio = sustained / quota if quota else math.nan
        checks.append(TargetCheck(
            f"throughput ≥ 0.90 × quota, no failed report ({variant})", "throttled",
            str(strategy), ratio, 0.90, bool(ratio >= 0.90 and failed == 0),
            f"sustained {sustained:,.0f} of {quota:,.0f} tokens/min; {failed} failed reports in "
            f"{len(rows)} runs of {int(rows['n_jobs'].iloc[0])}; per run "
            f"{rows['throttled'].median():.0f} throttled, {rows['retries'].median():.0f} retries",
        ))


def _process_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    sel = df[df["scenario"] == "scale"]
    for n in (3, 100):
        at_n = sel[(sel["n_jobs"] == n) & (sel["concurrency"] == n)]
        thread = _median_of(at_n, "makespan_s", strategy="thread")
        proc = at_n[at_n["strategy"] == "process"]
        for method, rows in proc.groupby("start_method", sort=False):
            m = float(rows["makespan_s"].median())
            over = m - thread
            checks.append(TargetCheck(
                f"process overhead vs thread at N={n}", "scale", f"process/{method}", over,
                None, None, f"{m:.3f} s vs thread {thread:.3f} s: +{over:.3f} s "
                f"({m / thread:.2f}×)" if thread else "no thread row",
            ))


def _cpu_checks(df: pd.DataFrame, checks: list[TargetCheck]) -> None:
    n = _largest(df, "scale")
    scenario = "scale" if n is not None else "seed"
    if n is None:
        n = _largest(df, "seed")
        if n is None:
            return
    sel = df[(df["scenario"] == scenario) & (df["n_jobs"] == n) & (df["concurrency"] == n)]
    for strategy in ("thread", "asyncio"):
        value = _median_of(sel, "cpu_ms_per_call", strategy=strategy)
        if not math.isnan(value):
            checks.append(TargetCheck(
                f"client CPU ≤ 2 ms per call at N={n}", scenario, strategy, value, 2.0,
                value <= 2.0, f"{value:.2f} ms per call, client already built (warm)",
            ))


# --------------------------------------------------------------------------- formatting


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                   formats: Mapping[str, str] | None = None) -> str:
    """A plain Markdown table (numbers formatted per column; NaN shown as '–')."""
    formats = formats or {}

    def cell(col: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        fmt = formats.get(col)
        if fmt and isinstance(value, int | float) and not isinstance(value, bool):
            return format(value, fmt)
        return str(value)

    body = [[cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c)
              for i, c in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [line, rule]
    for r in body:
        out.append("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(out)


SUMMARY_COLUMNS = ("scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency",
                   "time_scale", "repeats", "makespan_s", "spread_pct", "lower_bound_s",
                   "efficiency", "speedup_vs_sequential", "cpu_ms_per_call", "peak_rss_mb",
                   "requests", "throttled", "retries", "failed", "max_in_flight",
                   "pool_full_warnings", "sustained_tpm", "quota_tpm")
SUMMARY_FORMATS = {
    "makespan_s": ".3f", "spread_pct": ".1f", "lower_bound_s": ".3f", "efficiency": ".3f",
    "speedup_vs_sequential": ".1f", "cpu_ms_per_call": ".2f", "peak_rss_mb": ".0f",
    "requests": ".0f", "throttled": ".0f", "retries": ".0f", "max_in_flight": ".0f",
    "pool_full_warnings": ".0f", "sustained_tpm": ",.0f", "quota_tpm": ",.0f",
    "time_scale": "g",
}


def format_summary(summary: pd.DataFrame, checks: Sequence[TargetCheck] | None = None) -> str:
    """The summary table and the targets as Markdown, ready to print or paste."""
    rows = []
    for rec in summary.to_dict("records"):
        rec = dict(rec)
        if rec.get("speedup_estimated") and not math.isnan(rec.get("speedup_vs_sequential")
                                                           or math.nan):
            rec["speedup_vs_sequential"] = f"~{rec['speedup_vs_sequential']:.1f}"
        rows.append(rec)
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns
               and not summary[c].isna().all() and not (summary[c].astype(str) == "").all()]
    parts = [markdown_table(rows, columns, SUMMARY_FORMATS)]
    if "seed" in set(summary["scenario"]):
        parts.append(
            f"Published original (time.sleep(2)): sequential {PUBLISHED['sequential_s']} s, "
            f"parallel {PUBLISHED['parallel_s']} s. `~` marks a speedup estimated as "
            "Σ latencies / makespan."
        )
    if checks:
        target_rows = [
            {"target": c.target, "scenario": c.scenario, "strategy": c.strategy,
             "measured": c.measured, "result": "info" if c.passed is None
             else ("PASS" if c.passed else "FAIL"), "detail": c.detail}
            for c in checks
        ]
        parts.append(markdown_table(target_rows, ["target", "scenario", "strategy", "measured",
                                                  "result", "detail"], {"measured": ".3f"}))
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- CLI
