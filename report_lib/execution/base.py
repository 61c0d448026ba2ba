"""Strategies behind one interface: the Strategy base class, the registry, result collection.

papermill's engines are the model: ``STRATEGIES`` is a registry object (``register``,
``names``, ``validate``, ``get``); a Strategy's public ``run`` does the shared set-up (checks,
results in job order, progress bar, ``on_result``, interrupts) and calls one abstract method,
``execute``. Every strategy keeps the same contract: one ReportResult per job, in job order, with
``start_s``/``end_s`` offsets from the run's start; a job's failure is a result with
``error_type``, never an exception; ``max_concurrency`` bounds the calls in flight; the
deadline (``deadline_s``) counts from the run's start for every job (``run_deadline``).

An interrupt (Ctrl-C, or SIGTERM turned into one by the caller) stops a run promptly: the
strategy stops its threads/processes, the finished results are kept, every other job gets an
``Interrupted`` result, and ``run`` raises errors.RunInterrupted carrying them.

The strategies themselves live in ``local`` (sequential, thread, asyncio, original),
``process`` and ``dask``; they are registered here by path and imported on first use.
"""

from __future__ import annotations

import abc
import asyncio
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from report_lib.errors import ConfigError, RunInterrupted
from report_lib.execution.calls import KeyedTextCallback, make_result
from report_lib.llm.backends import BACKENDS, open_sync_client
from report_lib.records import ReportJob, ReportResult
from report_lib.registry import Registry

if TYPE_CHECKING:
    from report_lib.llm.backends import Backend
    from report_lib.llm.settings import BackendSettings

ResultCallback = Callable[[ReportResult], None]

START_METHODS: tuple[str, ...] = ("spawn", "fork", "forkserver")
DEFAULT_START_METHOD = "spawn"
MAX_CONCURRENCY = 1000  # calls in flight: the emulator and one client stay sound up to here
MAX_JOBS = 10_000  # jobs in one run (bench --n): results and timelines stay in memory


# --------------------------------------------------------------------------- checks


def check_concurrency(value: object, option: str = "max_concurrency") -> int:
    """``value`` as a whole number in 1..MAX_CONCURRENCY, else a ConfigError naming ``option``."""
    return _check_count(value, option, MAX_CONCURRENCY)


def check_job_count(value: object, option: str = "n") -> int:
    """``value`` as a whole number in 1..MAX_JOBS, else a ConfigError naming ``option``."""
    return _check_count(value, option, MAX_JOBS)


def _check_count(value: object, option: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be a whole number from 1 to {maximum}, got {value!r}")
    if not 1 <= value <= maximum:
        raise ConfigError(f"{option} must be from 1 to {maximum}, got {value}")
    return value


def check_start_method(method: str | None) -> str:
    """A process start method (None: the default), else a ConfigError listing the choices."""
    if method is None:
        return DEFAULT_START_METHOD
    if method not in START_METHODS:
        raise ConfigError(
            f"unknown start method {method!r}; choose one of {', '.join(START_METHODS)}"
        )
    return method


SCHEDULER_PROTOCOLS: tuple[str, ...] = ("tcp", "tls", "ws", "wss", "ucx")
_SCHEDULER_ADDRESS = re.compile(
    r"(?:(?P<protocol>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>\d{1,5})/?"
)


def check_scheduler_address(address: str | None, option: str = "--scheduler") -> str | None:
    """A Dask scheduler address (``tcp://HOST:PORT``, or ``HOST:PORT``), else a ConfigError
    naming ``option``: checked before any cluster or connection is made."""
    if address is None:
        return None
    if re.fullmatch(r"inproc://\S+", address.strip()):  # a cluster inside this process
        return address.strip()
    match = _SCHEDULER_ADDRESS.fullmatch(address.strip())
    if (match is None or (match["protocol"] or "tcp") not in SCHEDULER_PROTOCOLS
            or not 0 < int(match["port"]) < 65536):
        raise ConfigError(
            f"{option} {address!r} is not a Dask scheduler address; expected "
            f"PROTOCOL://HOST:PORT with PROTOCOL one of {', '.join(SCHEDULER_PROTOCOLS)} "
            "(e.g. tcp://127.0.0.1:8786, as `dask scheduler` prints it)"
        )
    return address.strip()


def share_limits(settings: BackendSettings, parts: int) -> BackendSettings:
    """Split the client-side tokens/requests-per-minute limits over ``parts`` worker processes.

    Each process (or dask worker) builds its own limiter; without the split a run would send
    ``parts`` times the quota. A share that cannot hold one request (0 requests per minute, or
    fewer tokens than one request reserves: input + ``max_tokens``) is a ConfigError naming
    the option: rounding it up would send more than the quota the user gave.
    """
    if parts <= 1 or (settings.tpm_limit is None and settings.rpm_limit is None):
        return settings
    tpm = None if settings.tpm_limit is None else settings.tpm_limit // parts
    rpm = None if settings.rpm_limit is None else settings.rpm_limit // parts
    shared = "or --strategy thread or asyncio (one limiter for the whole run)"
    if settings.rpm_limit is not None and not rpm:
        raise ConfigError(
            f"--rpm-limit {settings.rpm_limit} cannot be split over {parts} worker processes "
            f"(less than 1 request per minute each); run at most {settings.rpm_limit} workers "
            f"(--max-concurrency or --workers {settings.rpm_limit}), raise --rpm-limit, {shared}"
        )
    if settings.tpm_limit is not None and tpm is not None and tpm < settings.max_tokens:
        most = settings.tpm_limit // settings.max_tokens
        fewer = f"run at most {most} workers (--max-concurrency or --workers {most}), " \
            if most >= 1 else ""
        raise ConfigError(
            f"--tpm-limit {settings.tpm_limit} cannot be split over {parts} worker processes: "
            f"{tpm} tokens per minute each is less than one request reserves (input + "
            f"--max-tokens {settings.max_tokens}); {fewer}raise --tpm-limit, lower "
            f"--max-tokens, {shared}"
        )
    return replace(settings, tpm_limit=tpm, rpm_limit=rpm)


# --------------------------------------------------------------------------- one run


class Collector:
    """Results by job index, a tqdm bar and the on_result callback, all in the caller's thread.

    ``draft(result)`` (any thread) keeps a report that is still being repaired as it stands: an
    interrupted run delivers it instead of failing it (``fail_missing``).
    """

    def __init__(self, jobs: Sequence[ReportJob], desc: str, progress: bool,
                 on_result: ResultCallback | None) -> None:
        self.jobs = jobs
        self.results: list[ReportResult | None] = [None] * len(jobs)
        self.on_result = on_result
        self.index = {job.key: i for i, job in enumerate(jobs)}
        self.drafts: dict[int, ReportResult] = {}
        self._lock = threading.Lock()
        self.bar: Any = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(jobs), desc=desc, unit="report", leave=True)

    def add(self, index: int, result: ReportResult) -> None:
        if self.results[index] is not None:
            return
        self.results[index] = result
        if self.bar is not None:
            self.bar.update(1)
        if self.on_result is not None:
            self.on_result(result)

    def draft(self, result: ReportResult) -> None:
        """Keep ``result`` as the report of its job until the final one comes (thread-safe)."""
        index = self.index.get(result.key)
        if index is not None:
            with self._lock:
                self.drafts[index] = result

    def missing(self) -> list[int]:
        return [i for i, r in enumerate(self.results) if r is None]

    def fail_missing(self, settings: BackendSettings, error: BaseException, now: float,
                     error_type: str | None = None) -> None:
        """Give every job without a result its draft (a report interrupted while being
        repaired), or a failed one (its worker died, say)."""
        with self._lock:
            drafts = dict(self.drafts)
        for i in self.missing():
            if i in drafts:
                self.add(i, drafts[i])
                continue
            result = make_result(self.jobs[i], settings, now, now, error=error, worker="lost")
            if error_type is not None:
                result.error_type = error_type
            self.add(i, result)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def ordered(self) -> list[ReportResult]:
        missing = self.missing()
        if missing:  # defensive: every strategy fills or fails every slot
            raise RuntimeError(f"internal error: no result for jobs {missing}")
        return [r for r in self.results if r is not None]


@dataclass(frozen=True)
class RunOptions:
    """The knobs of a run; each strategy reads those that apply to it (see run_jobs)."""

    max_concurrency: int | None = None
    start_method: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    backend: Backend | None = None
    on_text: KeyedTextCallback | None = None
    loop: asyncio.AbstractEventLoop | None = None  # asyncio: run on this loop (another thread's)


@dataclass
class Run:
    """What ``Strategy.execute`` works on: checked inputs, the collector and the run's clocks."""

    jobs: list[ReportJob]
    settings: BackendSettings
    options: RunOptions
    concurrency: int  # calls in flight, already bounded by the job count
    collector: Collector
    t0: float  # time.perf_counter() at the start (in-process offsets)
    t0_wall: float  # time.time() at the start (offsets measured in other processes)
    warned: set[str] = field(default_factory=set)  # warning categories relayed from workers


class Strategy(abc.ABC):
    """One way to run many jobs. Subclasses set the class attributes and write ``execute``."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for --help and docs
    in_process: ClassVar[bool] = True  # the calls run in this process's threads or event loop
    reuses_backend: ClassVar[bool] = False  # RunOptions.backend is used instead of a new one
    uses_async_client: ClassVar[bool] = False  # the calls go through the aiobotocore client

    def default_concurrency(self, n_jobs: int) -> int:
        """Calls in flight when ``max_concurrency`` is not given: every job at once."""
        return max(1, n_jobs)

    def pool_size(self, concurrency: int) -> int:
        """Connections the backend of this strategy needs for ``concurrency`` calls."""
        return concurrency

    def make_backend(self, run: Run) -> Backend:
        """The run's own backend; a sync strategy's client is built before its workers start."""
        backend = BACKENDS.create(run.settings, max_concurrency=self.pool_size(run.concurrency))
        return backend if self.uses_async_client else open_sync_client(backend)

    def run(
        self,
        jobs: Sequence[ReportJob],
        settings: BackendSettings,
        options: RunOptions | None = None,
        *,
        progress: bool = False,
        on_result: ResultCallback | None = None,
    ) -> list[ReportResult]:
        """Answer every job; results in job order, failures as results (see the module doc)."""
        run = self.prepare(jobs, settings, options, progress=progress, on_result=on_result)
        if run is None:
            return []
        try:
            self.execute(run)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM raised as a RunInterrupted
            raise interrupted(run, exc) from None
        finally:
            run.collector.close()
        return run.collector.ordered()

    def prepare(
        self,
        jobs: Sequence[ReportJob],
        settings: BackendSettings,
        options: RunOptions | None = None,
        *,
        progress: bool = False,
        on_result: ResultCallback | None = None,
    ) -> Run | None:
        """The set-up every run shares (``run`` and ``execution.local.arun_jobs``): the options
        checked, the concurrency bounded by the job count, the collector, the clocks started and
        the run's deadline on every job. None when there is no job (nothing to run)."""
        options = options or RunOptions()
        jobs = list(jobs)
        if options.max_concurrency is None:
            concurrency = self.default_concurrency(len(jobs))
        else:
            concurrency = check_concurrency(options.max_concurrency)
        concurrency = min(concurrency, max(1, len(jobs)))
        check_start_method(options.start_method)
        check_scheduler_address(options.scheduler)
        if not jobs:
            return None
        collector = Collector(jobs, self.name, progress, on_result)
        t0, t0_wall = time.perf_counter(), time.time()
        return Run(run_deadline(jobs, settings, t0_wall), settings, options, concurrency,
                   collector, t0, t0_wall)

    @abc.abstractmethod
    def execute(self, run: Run) -> None:
        """Give every job of ``run`` a result through ``run.collector.add(index, result)``.

        On KeyboardInterrupt: stop promptly (no waiting for calls in flight), leave nothing
        running, and let the exception propagate; ``run`` keeps the finished results.
        """


def run_deadline(jobs: list[ReportJob], settings: BackendSettings,
                 t0_wall: float) -> list[ReportJob]:
    """``jobs`` carrying the run's deadline: ``settings.deadline_s`` from the run's start
    ``t0_wall``, one clock for every job of the run (a job waiting in line spends its time too).
    A job that already carries one (a run inside a longer run) keeps it."""
    if settings.deadline_s is None:
        return jobs
    deadline_at = t0_wall + settings.deadline_s
    return [job if job.deadline_at is not None else replace(job, deadline_at=deadline_at)
            for job in jobs]


@contextmanager
def interrupts_held() -> Iterator[None]:
    """While the block runs (the clean-up after a first Ctrl-C or SIGTERM), a second one is
    ignored instead of cutting the clean-up short with a traceback; the block is short (workers
    killed, files written). Outside the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted(run: Run, exc: KeyboardInterrupt) -> RunInterrupted:
    """The RunInterrupted for ``run``: finished results kept, the rest failed as Interrupted."""
    signum = getattr(exc, "signum", signal.SIGINT)
    name = signal.Signals(signum).name
    error = RunInterrupted(
        f"the run was stopped by {name} before this report finished; run it again",
        signum=signum,
    )
    run.collector.fail_missing(run.settings, error, time.perf_counter() - run.t0, "Interrupted")
    done = sum(1 for r in run.collector.results if r is not None and r.error_type != "Interrupted")
    return RunInterrupted(
        f"stopped by {name}: {done} of {len(run.jobs)} reports had finished",
        signum=signum,
        results=run.collector.ordered(),
    )


# --------------------------------------------------------------------------- the registry


class StrategyRegistry(Registry[type[Strategy]]):
    """Strategies by name. An entry is a Strategy class or a ``"module:Class"`` path imported
    on first use (so ``names()`` costs no import of process/dask machinery)."""

    def __init__(self) -> None:
        super().__init__("strategy")

    def get(self, name: str) -> Strategy:
        """A Strategy instance for ``name`` (ConfigError when unknown)."""
        strategy = self.load(name)
        if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
            raise ConfigError(
                f"strategy {name!r} is registered as {strategy!r}, not a Strategy subclass; "
                "register a class derived from report_lib.execution.base.Strategy"
            )
        return strategy()


STRATEGIES = StrategyRegistry()
STRATEGIES.register("sequential", "report_lib.execution.local:SequentialStrategy")
STRATEGIES.register("thread", "report_lib.execution.local:ThreadStrategy")
STRATEGIES.register("process", "report_lib.execution.process:ProcessStrategy")
STRATEGIES.register("asyncio", "report_lib.execution.local:AsyncioStrategy")
STRATEGIES.register("dask", "report_lib.execution.dask:DaskStrategy")
STRATEGIES.register("original", "report_lib.execution.local:OriginalStrategy")


def run_jobs(
    jobs: Sequence[ReportJob],
    settings: BackendSettings,
    *,
    strategy: str = "thread",
    max_concurrency: int | None = None,
    start_method: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    on_result: ResultCallback | None = None,
    on_text: KeyedTextCallback | None = None,
    backend: Backend | None = None,
    workers: int | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> list[ReportResult]:
    """Answer every job with ``strategy`` (a name in STRATEGIES); results in job order.

    ``max_concurrency`` (default: all jobs at once; ``original``: 3) bounds calls in flight in
    every strategy. ``start_method`` (spawn|fork|forkserver) applies to ``process``;
    ``scheduler`` (a dask scheduler address) to ``dask``; ``workers`` sets the process/dask
    worker count. ``backend`` reuses a built backend in sequential/thread/asyncio (process and
    dask workers always build their own from ``settings``). ``loop`` (asyncio) is an event loop
    running on another thread (execution.loop.LoopThread) to run on, where ``backend``'s async
    client may already be open; it is left running. ``on_result(result)`` is called in
    the caller's thread as each job completes; ``on_text(key, delta)`` receives streamed text in
    the in-process strategies. Ctrl-C raises errors.RunInterrupted with the finished results.
    """
    options = RunOptions(max_concurrency=max_concurrency, start_method=start_method,
                         scheduler=scheduler, workers=workers, backend=backend, on_text=on_text,
                         loop=loop)
    return STRATEGIES.get(strategy).run(jobs, settings, options, progress=progress,
                                        on_result=on_result)
