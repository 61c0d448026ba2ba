"""Running one case: its endpoint, client settings, warm backend, and one measured run.

In-process strategies reuse one warm backend across the warm-up and the repeats (a service's
steady state: client built once, connections kept alive; asyncio on one long-lived loop),
except under the throttled scenario's quota, where each run builds a fresh client-side
limiter with its client. A quota-scenario cell keeps its warm backend and gets a fresh limiter
before every run (``use_limiter``). Process pools are
started by every run (their cost is what the process rows show); dask rows use the run's shared
cluster, whose workers cache their backend.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any

from report_lib.bench.cold import run_cold
from report_lib.bench.floor import BareThreads, run_bare_async
from report_lib.bench.metrics import Measured, make_row, timeline
from report_lib.bench.plan import QUOTA, Case
from report_lib.bench.quota_cells import at_once, cell_bound, cell_settings
from report_lib.bench.resources import ResourceMonitor
from report_lib.bench.workload import estimate_job_tokens
from report_lib.emulator import Emulator
from report_lib.execution import STRATEGIES, arun_jobs, run_jobs
from report_lib.execution.dask import close_cluster, local_cluster
from report_lib.execution.loop import LoopThread
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.backends import BACKENDS, Backend, BedrockBackend, open_sync_client
from report_lib.llm.limiter import limiter_for
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportJob, ReportResult

POOL_FULL_TEXT = "Connection pool is full"


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


class DaskCluster:
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
            started = time.perf_counter()
            self.cluster = local_cluster(threads)
            self.start_s.append(time.perf_counter() - started)
            self.address = self.cluster.scheduler_address
        return str(self.address)

    def close(self, interrupted: bool = False) -> None:
        """Close the cluster; ``interrupted``: kill its workers first, do not wait for them."""
        if self.cluster is not None:
            close_cluster(self.cluster, interrupted=interrupted)
            self.cluster = None
            self.address = self.external


def case_settings(case: Case, base: BackendSettings, time_scale: float,
                  jobs: Sequence[ReportJob], emu: Emulator | None) -> BackendSettings:
    """The client settings of one case: endpoint, and for a quota its scaled backoff/limiter."""
    settings = replace(base, endpoint_url=emu.url) if emu is not None else base
    if case.scenario == QUOTA:
        return cell_settings(case, settings, time_scale, estimate_job_tokens(jobs))
    if case.tpm is None:
        return settings
    # The quota's minute is scaled: scale the client's backoff with it.
    settings = replace(settings, backoff_base_s=base.backoff_base_s * time_scale,
                       backoff_max_s=base.backoff_max_s * time_scale)
    outputs = [o for _, o in estimate_job_tokens(jobs)]  # reserve the answers' mean size
    limited = replace(settings, limiter_window_s=60.0 * time_scale,
                      expected_output_tokens=math.ceil(statistics.mean(outputs)))
    if case.variant == "limiter":  # told the quota
        return replace(limited, tpm_limit=case.tpm)
    if case.variant == "auto":  # finds it (--tpm-limit auto)
        return replace(limited, tpm_auto=True)
    if case.variant == "adaptive":  # botocore's adaptive retry mode: its own client-side rate
        return replace(settings, retry_mode="adaptive")
    return settings


def client_create_ms(settings: BackendSettings, times: int = 3) -> float:
    """Median milliseconds to build a backend (Session + client): excluded from warm rows."""
    samples = []
    for _ in range(times):
        t = time.perf_counter()
        open_sync_client(BACKENDS.create(settings, max_concurrency=10)).close()  # Session + client
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def warmup_jobs(case: Case, jobs: Sequence[ReportJob],
                settings: BackendSettings | None = None) -> Sequence[ReportJob]:
    """One round at the case's concurrency (3 jobs under the throttled scenario's quota, to
    leave the bucket alone; a quota cell: as many as its quota admits at once, the
    connections its first burst opens)."""
    if case.scenario == QUOTA and settings is not None:
        return jobs[: at_once(case, estimate_job_tokens(jobs), settings.model_id,
                              settings.max_tokens)]
    return jobs[: 3 if case.tpm else max(1, min(case.n_jobs, case.concurrency))]


class CaseRunner:
    """Runs one case's runs (see the module docstring for what is reused between them)."""

    def __init__(self, case: Case, settings: BackendSettings, dask: DaskCluster,
                 max_threads: int) -> None:
        self.case, self.settings, self.dask, self.max_threads = case, settings, dask, max_threads
        self.backend: Backend | None = None
        self.loop_thread: LoopThread | None = None
        self.own_makespan_s: float | None = None  # a cold run measures itself
        self.bare: BareThreads | None = None
        self.abed: AsyncBedrock | None = None

    @property
    def warms_up(self) -> bool:
        """A cold case's every run is a first run: it has no warm-up."""
        return self.case.variant != "cold"

    def __enter__(self) -> CaseRunner:
        case, strategy = self.case, STRATEGIES.get(self.case.strategy)
        if case.variant == "bare":
            self._open_bare()
        elif ((case.tpm is None or case.scenario == QUOTA) and strategy.reuses_backend
              and case.variant != "cold"):
            pool = strategy.pool_size(case.concurrency)
            self.backend = BACKENDS.create(self.settings, max_concurrency=pool)
            if not strategy.uses_async_client:
                open_sync_client(self.backend)
            if case.strategy == "asyncio":  # one long-lived loop, as in an async service
                self._start_loop()
        return self

    def _start_loop(self) -> LoopThread:
        self.loop_thread = LoopThread(name="bench-loop")
        return self.loop_thread

    def _open_bare(self) -> None:
        if self.case.strategy == "asyncio":
            self.abed = AsyncBedrock(self.settings, self.case.concurrency)
            self._start_loop().run(self.abed.open())
        else:
            self.bare = BareThreads(self.settings, self.case.concurrency)

    def run(self, jobs: Sequence[ReportJob]) -> list[ReportResult]:
        case = self.case
        if case.scenario == QUOTA and isinstance(self.backend, BedrockBackend):
            # a fresh limiter: nothing learnt before
            self.backend.use_limiter(limiter_for(self.settings))
        if self.bare is not None:
            return self.bare.run(jobs)
        if self.abed is not None and self.loop_thread is not None:
            return self.loop_thread.run(run_bare_async(self.abed.client, jobs, self.settings))
        if case.variant == "cold":
            self.own_makespan_s, results = run_cold(self.settings, case.strategy,
                                                    case.concurrency)
            return results
        if self.loop_thread is not None:
            return self.loop_thread.run(arun_jobs(
                jobs, self.settings, max_concurrency=case.concurrency, backend=self.backend))
        scheduler = self.dask.ensure(self.max_threads) if case.strategy == "dask" else None
        return run_jobs(jobs, self.settings, strategy=case.strategy,
                        max_concurrency=case.concurrency, start_method=case.start_method,
                        scheduler=scheduler, backend=self.backend)

    def __exit__(self, *exc: object) -> None:
        if self.bare is not None:
            self.bare.close()
        if self.loop_thread is not None:
            opened = self.abed or self.backend
            if opened is not None:
                self.loop_thread.submit(opened.aclose()).result(timeout=30)
            self.loop_thread.close()
        if self.backend is not None:
            self.backend.close()


@contextmanager
def endpoint(external: bool, model: str, time_scale: float, tpm: int | None,
             quota_minute: str = "", accounting: str = "") -> Iterator[Emulator | None]:
    """An emulator for one (latency model, quota) group, or None against an external endpoint.
    ``quota_minute`` and ``accounting`` (the quota scenario) default to the emulator's own."""
    if external:
        yield None
        return
    quota: dict[str, Any] = {k: v for k, v in (("quota_minute", quota_minute),
                                               ("accounting", accounting)) if v}
    with Emulator(latency_model=model, time_scale=time_scale, tpm=tpm, **quota) as emu:
        yield emu


def by_emulator(cases: Sequence[Case]) -> list[tuple[str, int | None, list[Case]]]:
    """Cases grouped by the emulator they need (latency model, quota and its model), in plan
    order."""
    groups: dict[tuple[str, int | None, str, str], list[Case]] = {}
    for case in cases:
        key = (case.latency_model, case.tpm, case.quota_minute, case.accounting)
        groups.setdefault(key, []).append(case)
    return [(model, tpm, group) for (model, tpm, _, _), group in groups.items()]


def measure(case: Case, repeat: int, jobs: Sequence[ReportJob], runner: CaseRunner,
            emu: Emulator | None, time_scale: float,
            external: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """One measured run of a case: its results row and its timeline."""
    if emu is not None:
        emu.reset_stats()  # fresh counters and a full token bucket
    in_process = STRATEGIES.get(case.strategy).in_process
    counting = count_pool_full() if in_process else nullcontext(None)
    exclude = [emu.pid] if emu is not None else []
    with counting as counter, ResourceMonitor(exclude_pids=exclude) as monitor:
        t = time.perf_counter()
        results = runner.run(jobs)
        makespan = time.perf_counter() - t
    if runner.own_makespan_s is not None:
        makespan = runner.own_makespan_s
    bound = None
    if case.scenario == QUOTA and case.tpm is not None:
        bound = cell_bound(case, estimate_job_tokens(jobs), runner.settings, time_scale)
    measured = Measured(makespan, monitor.cpu_s, monitor.peak_rss_mb,
                        counter.count if counter is not None else None,
                        emu.stats() if emu is not None else None, bound)
    row = make_row(case, repeat, results, measured, time_scale=time_scale, external=external,
                   backend=runner.settings.backend)
    return row, timeline(row, results)
