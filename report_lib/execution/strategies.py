"""Run many report jobs at once: sequential, thread, process, asyncio or dask, one contract.

Every strategy returns one ReportResult per job, in job order, with ``start_s``/``end_s``
offsets from the run's start, and turns a job's failure into a result with ``error_type``
instead of raising. ``max_concurrency`` (default: all jobs at once) bounds every strategy:

- ``sequential``: one backend, one job after another.
- ``thread``: ThreadPoolExecutor(max_concurrency) over ONE backend built before the threads
  start, its connection pool sized to the concurrency.
- ``process``: ProcessPoolExecutor with ``min(max_concurrency, CPU count, jobs)`` processes;
  the initializer builds one backend per process. Concurrency beyond the process count is
  reached with threads inside each process: the ``max_concurrency`` slots are split over the
  processes (sizes differ by at most one) and every slot is a thread pulling jobs from a
  shared queue, so load balances and no more than ``max_concurrency`` calls are ever in flight.
  Start method ``spawn`` by default: it starts clean interpreters (no inherited threads, locks
  or sockets), behaves the same on Linux, macOS and Windows and inside Jupyter; ``fork`` starts
  fastest but copies a multi-threaded parent (unsafe; deprecated as a default since Python
  3.12); ``forkserver`` forks workers from a clean server that has preloaded boto3 and this
  package (FORKSERVER_PRELOAD). A script using ``spawn``/``forkserver`` needs the usual
  ``if __name__ == "__main__":`` guard.
- ``asyncio``: ``backend.acall`` under an asyncio.Semaphore(max_concurrency). From a script it
  uses ``asyncio.run``; when an event loop already runs in this thread (a Jupyter cell) it runs
  a fresh loop on a helper thread and waits for it. ``await arun_jobs(...)`` is the async API.
- ``dask``: dask.distributed. A LocalCluster (worker processes, threads inside) by default, or
  ``Client(scheduler)`` for an existing cluster. At most ``max_concurrency`` tasks are submitted
  at a time (a sliding window), so the bound holds whatever the cluster's thread count; each
  worker caches one backend per settings.

Timing: in-process strategies use ``time.perf_counter``; process and dask workers use
``time.time`` (one wall clock for every process of the machine) against the run's wall start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from report_lib.errors import BackendError
from report_lib.jobs import CallOutcome, ReportJob, ReportResult

if TYPE_CHECKING:
    from report_lib.llm.backends import Backend
    from report_lib.llm.settings import BackendSettings

STRATEGIES: tuple[str, ...] = ("sequential", "thread", "process", "asyncio", "dask")
START_METHODS: tuple[str, ...] = ("spawn", "fork", "forkserver")
DEFAULT_START_METHOD = "spawn"
# What a forkserver imports before it forks workers (the default is just "__main__").
FORKSERVER_PRELOAD = ("__main__", "report_lib.execution.strategies", "report_lib.llm.backends",
                      "report_lib.llm.sync_client")

ResultCallback = Callable[[ReportResult], None]
KeyedTextCallback = Callable[[str, str], None]
Clock = Callable[[], float]

# Seconds to keep reading results after every process/dask worker has finished.
_DRAIN_GRACE_S = 10.0


# --------------------------------------------------------------------------- one job


def _worker_name() -> str:
    return f"{os.getpid()}/{threading.current_thread().name}"


def _text_callback(
    on_text: KeyedTextCallback | None, job: ReportJob
) -> Callable[[str], None] | None:
    return None if on_text is None else partial(on_text, job.key)


def _cost(settings: BackendSettings, outcome: CallOutcome) -> float:
    if outcome.cached or settings.backend == "offline":
        return 0.0  # a cache hit is not billed; the offline writer costs nothing
    from report_lib.llm.pricing import cost_usd

    return cost_usd(
        settings.model_id, outcome.input_tokens, outcome.output_tokens, settings.prices or None
    )


def _result(
    job: ReportJob,
    settings: BackendSettings,
    start: float,
    end: float,
    outcome: CallOutcome | None = None,
    error: BaseException | None = None,
    worker: str | None = None,
) -> ReportResult:
    result = ReportResult(
        key=job.key,
        kind=job.kind,
        seconds=end - start,
        start_s=start,
        end_s=end,
        worker=worker or _worker_name(),
    )
    if outcome is not None:
        result.content = outcome.text
        result.input_tokens = outcome.input_tokens
        result.output_tokens = outcome.output_tokens
        result.attempts = outcome.attempts
        result.cached = outcome.cached
        result.ttft_s = outcome.ttft_s
        result.cost_usd = _cost(settings, outcome)
    elif error is not None:
        result.error_type = (
            error.error_type if isinstance(error, BackendError) else type(error).__name__
        )
        result.error_message = str(error) or repr(error)
        result.attempts = error.attempts if isinstance(error, BackendError) else 1
    return result


def run_one(
    backend: Backend,
    job: ReportJob,
    settings: BackendSettings,
    t0: float,
    *,
    clock: Clock = time.perf_counter,
    on_text: KeyedTextCallback | None = None,
) -> ReportResult:
    """Answer one job; any exception becomes a failed ReportResult (offsets from ``t0``)."""
    start = clock() - t0
    try:
        outcome = backend.call(job, on_text=_text_callback(on_text, job))
    except Exception as exc:
        return _result(job, settings, start, clock() - t0, error=exc)
    return _result(job, settings, start, clock() - t0, outcome=outcome)


async def arun_one(
    backend: Backend,
    job: ReportJob,
    settings: BackendSettings,
    t0: float,
    *,
    on_text: KeyedTextCallback | None = None,
) -> ReportResult:
    """Async twin of run_one (``backend.acall``, ``time.perf_counter`` offsets)."""
    task = asyncio.current_task()
    worker = f"{os.getpid()}/{task.get_name() if task else 'task'}"
    start = time.perf_counter() - t0
    try:
        outcome = await backend.acall(job, on_text=_text_callback(on_text, job))
    except Exception as exc:
        return _result(job, settings, start, time.perf_counter() - t0, error=exc, worker=worker)
    end = time.perf_counter() - t0
    return _result(job, settings, start, end, outcome=outcome, worker=worker)


# --------------------------------------------------------------------------- bookkeeping


class _Collector:
    """Results by job index, a tqdm bar and the on_result callback, all in the caller's thread."""

    def __init__(self, jobs: Sequence[ReportJob], desc: str, progress: bool,
                 on_result: ResultCallback | None) -> None:
        self.jobs = jobs
        self.results: list[ReportResult | None] = [None] * len(jobs)
        self.on_result = on_result
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

    def missing(self) -> list[int]:
        return [i for i, r in enumerate(self.results) if r is None]

    def fail_missing(self, settings: BackendSettings, error: BaseException, now: float) -> None:
        """Give every job without a result a failed one (its worker died, say)."""
        for i in self.missing():
            self.add(i, _result(self.jobs[i], settings, now, now, error=error, worker="lost"))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def ordered(self) -> list[ReportResult]:
        missing = self.missing()
        if missing:  # defensive: every strategy fills or fails every slot
            raise RuntimeError(f"internal error: no result for jobs {missing}")
        return [r for r in self.results if r is not None]


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most one (largest first)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _concurrency(max_concurrency: int | None, n_jobs: int) -> int:
    if max_concurrency is None:
        return max(1, n_jobs)
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise ValueError(f"max_concurrency must be a whole number >= 1, got {max_concurrency!r}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
    return max_concurrency


def _make_backend(settings: BackendSettings, max_concurrency: int) -> Backend:
    from report_lib.llm.backends import make_backend

    return make_backend(settings, max_concurrency=max_concurrency)


async def _release(backend: Backend, own: bool) -> None:
    """Close this loop's async client; also the whole backend when the run built it."""
    aclose = getattr(backend, "aclose", None)
    if aclose is not None:
        await aclose()
    if own:
        backend.close()


# --------------------------------------------------------------------------- sequential, thread


def _run_sequential(jobs: Sequence[ReportJob], settings: BackendSettings, backend: Backend,
                    collector: _Collector, on_text: KeyedTextCallback | None, t0: float) -> None:
    for i, job in enumerate(jobs):
        collector.add(i, run_one(backend, job, settings, t0, on_text=on_text))


def _run_thread(jobs: Sequence[ReportJob], settings: BackendSettings, backend: Backend,
                concurrency: int, collector: _Collector, on_text: KeyedTextCallback | None,
                t0: float) -> None:
    from concurrent.futures import as_completed

    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)), thread_name_prefix="report")
    try:
        futures = {
            pool.submit(run_one, backend, job, settings, t0, on_text=on_text): i
            for i, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            collector.add(futures[future], future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- asyncio


async def _arun(jobs: Sequence[ReportJob], settings: BackendSettings, backend: Backend,
                concurrency: int, report: Callable[[int, ReportResult], None],
                on_text: KeyedTextCallback | None, t0: float) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(index: int, job: ReportJob) -> tuple[int, ReportResult]:
        async with semaphore:
            return index, await arun_one(backend, job, settings, t0, on_text=on_text)

    tasks = [asyncio.create_task(one(i, job), name=f"report-{i}") for i, job in enumerate(jobs)]
    try:
        for next_done in asyncio.as_completed(tasks):
            index, result = await next_done
            report(index, result)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def arun_jobs(
    jobs: Sequence[ReportJob],
    settings: BackendSettings,
    *,
    max_concurrency: int | None = None,
    progress: bool = False,
    on_result: ResultCallback | None = None,
    on_text: KeyedTextCallback | None = None,
    backend: Backend | None = None,
) -> list[ReportResult]:
    """The asyncio strategy for callers that can ``await`` (a notebook cell, an async app)."""
    jobs = list(jobs)
    concurrency = min(_concurrency(max_concurrency, len(jobs)), max(1, len(jobs)))
    if not jobs:
        return []
    t0 = time.perf_counter()
    collector = _Collector(jobs, "asyncio", progress, on_result)
    own = backend is None
    used = backend if backend is not None else _make_backend(settings, concurrency)
    try:
        await _arun(jobs, settings, used, concurrency, collector.add, on_text, t0)
    finally:
        collector.close()
        if own:
            await _release(used, own=True)
    return collector.ordered()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _run_asyncio(jobs: Sequence[ReportJob], settings: BackendSettings, backend: Backend | None,
                 concurrency: int, collector: _Collector, on_text: KeyedTextCallback | None,
                 t0: float) -> None:
    async def main(report: Callable[[int, ReportResult], None]) -> None:
        used = backend if backend is not None else _make_backend(settings, concurrency)
        try:
            await _arun(jobs, settings, used, concurrency, report, on_text, t0)
        finally:  # this loop ends here: close its async client even on a borrowed backend
            await _release(used, own=backend is None)

    if _running_loop() is None:
        asyncio.run(main(collector.add))
        return
    # A loop already runs in this thread (Jupyter): run ours on a helper thread, and hand each
    # result back through a queue so on_result and the progress bar stay in the caller's thread.
    done = object()
    inbox: queue.Queue[Any] = queue.Queue()
    failure: list[BaseException] = []

    def helper() -> None:
        try:
            asyncio.run(main(lambda i, r: inbox.put((i, r))))
        except BaseException as exc:
            failure.append(exc)
        finally:
            inbox.put(done)

    thread = threading.Thread(target=helper, name="report-asyncio", daemon=True)
    thread.start()
    while (item := inbox.get()) is not done:
        collector.add(*item)
    thread.join()
    if failure:
        raise failure[0]


# --------------------------------------------------------------------------- process

_PROCESS: dict[str, Any] = {}  # per worker process: settings, backend, queues, t0


def _process_init(settings: BackendSettings, pool_size: int, job_queue: Any, result_queue: Any,
                  t0_wall: float) -> None:
    """ProcessPoolExecutor initializer: build this process's one backend."""
    _PROCESS.clear()
    _PROCESS.update(settings=settings, jobs=job_queue, results=result_queue, t0=t0_wall)
    try:
        _PROCESS["backend"] = _make_backend(settings, pool_size)
    except Exception as exc:  # reported by _process_drain, which the parent waits on
        _PROCESS["init_error"] = exc


def _process_drain(n_threads: int) -> int:
    """Run ``n_threads`` threads, each answering jobs from the shared queue until a sentinel."""
    if "init_error" in _PROCESS:
        raise _PROCESS["init_error"]
    backend: Backend = _PROCESS["backend"]
    settings: BackendSettings = _PROCESS["settings"]
    jobs, results, t0 = _PROCESS["jobs"], _PROCESS["results"], _PROCESS["t0"]

    def slot() -> int:
        done = 0
        while (item := jobs.get()) is not None:
            index, job = item
            results.put((index, run_one(backend, job, settings, t0, clock=time.time)))
            done += 1
        return done

    if n_threads == 1:
        return slot()
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="slot") as pool:
        return sum(pool.map(lambda _: slot(), range(n_threads)))


def share_limits(settings: BackendSettings, parts: int) -> BackendSettings:
    """Split the client-side tokens/requests-per-minute limits over ``parts`` worker processes.

    Each process (or dask worker) builds its own limiter; without the split a run would send
    ``parts`` times the quota.
    """
    from dataclasses import replace

    if parts <= 1 or (settings.tpm_limit is None and settings.rpm_limit is None):
        return settings
    return replace(
        settings,
        tpm_limit=None if settings.tpm_limit is None else max(1, settings.tpm_limit // parts),
        rpm_limit=None if settings.rpm_limit is None else max(1, settings.rpm_limit // parts),
    )


def _run_process(jobs: Sequence[ReportJob], settings: BackendSettings, concurrency: int,
                 start_method: str | None, workers: int | None, collector: _Collector,
                 t0_wall: float) -> None:
    method = start_method or DEFAULT_START_METHOD
    if method not in START_METHODS:
        raise ValueError(
            f"unknown start method {method!r}; choose one of {', '.join(START_METHODS)}"
        )
    slots = min(concurrency, len(jobs))
    n_proc = workers or default_process_count(slots)
    n_proc = max(1, min(n_proc, slots))
    threads = split_evenly(slots, n_proc)
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":  # the server imports these once; every worker forks with them
        ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    job_queue, result_queue = ctx.Queue(), ctx.Queue()
    for item in enumerate(jobs):
        job_queue.put(item)
    for _ in range(slots):
        job_queue.put(None)  # one sentinel per slot (thread)
    pool = ProcessPoolExecutor(
        max_workers=n_proc,
        mp_context=ctx,
        initializer=_process_init,
        initargs=(share_limits(settings, n_proc), max(threads), job_queue, result_queue, t0_wall),
    )
    try:
        drains = [pool.submit(_process_drain, n) for n in threads]
        _collect_from_queue(result_queue, drains, collector, settings, t0_wall)
    except BaseException:  # e.g. KeyboardInterrupt: drop the jobs not started, let slots exit
        _abandon(job_queue, slots)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for q in (job_queue, result_queue):
            q.close()
            q.cancel_join_thread()


def _abandon(job_queue: Any, slots: int) -> None:
    """Empty the job queue (best effort) and give every slot a sentinel so workers stop."""
    with contextlib.suppress(queue.Empty, OSError, ValueError):
        while True:
            job_queue.get_nowait()
    for _ in range(slots):
        job_queue.put(None)


def _collect_from_queue(result_queue: Any, drains: list[Future[int]], collector: _Collector,
                        settings: BackendSettings, t0_wall: float) -> None:
    """Read results as they come; once every worker has stopped, fail whatever never came."""
    n_jobs = len(collector.jobs)
    deadline: float | None = None
    while collector.missing():
        try:
            index, result = result_queue.get(timeout=0.05)
        except queue.Empty:
            if deadline is None and all(d.done() for d in drains):
                sent = sum(d.result() for d in drains if d.exception() is None)
                if n_jobs - len(collector.missing()) >= sent:
                    break  # everything the workers answered has arrived
                deadline = time.monotonic() + _DRAIN_GRACE_S  # the rest is still in the pipe
            if deadline is not None and time.monotonic() > deadline:
                break
            continue
        collector.add(index, result)
    if collector.missing():
        errors = [d.exception() for d in drains if d.done() and d.exception() is not None]
        if errors and len(errors) == len(drains):
            raise errors[0]  # e.g. no backend could be built (credentials): not one job's fault
        error = errors[0] if errors else RuntimeError("a worker process stopped without a result")
        collector.fail_missing(settings, error, time.time() - t0_wall)


def default_process_count(max_concurrency: int) -> int:
    """Processes for the ``process`` strategy: one per CPU, never more than the concurrency."""
    return max(1, min(max_concurrency, os.cpu_count() or 1))


# --------------------------------------------------------------------------- dask

_DASK_BACKENDS: dict[tuple[str, int], Backend] = {}
_DASK_LOCK = threading.Lock()


def _dask_backend(settings: BackendSettings, pool_size: int) -> Backend:
    """One backend per dask worker process and settings (workers' threads share it)."""
    key = (repr(settings), pool_size)
    with _DASK_LOCK:
        backend = _DASK_BACKENDS.get(key)
        if backend is None:
            backend = _DASK_BACKENDS[key] = _make_backend(settings, pool_size)
    return backend


def _dask_task(index: int, job: ReportJob, settings: BackendSettings, t0_wall: float,
               pool_size: int) -> tuple[int, ReportResult]:
    backend = _dask_backend(settings, pool_size)  # raises when no backend can be built
    return index, run_one(backend, job, settings, t0_wall, clock=time.time)


def default_dask_workers(max_concurrency: int) -> int:
    """LocalCluster size: two worker processes (one per CPU on small machines), threads inside."""
    return max(1, min(2, os.cpu_count() or 1, max_concurrency))


def _quiet_dask() -> None:
    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
                 "distributed.core", "distributed.comm", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _run_dask(jobs: Sequence[ReportJob], settings: BackendSettings, concurrency: int,
              scheduler: str | None, workers: int | None, collector: _Collector,
              t0_wall: float) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    _quiet_dask()
    slots = min(concurrency, len(jobs))
    cluster = None
    if scheduler:
        client = Client(scheduler, set_as_default=False)
    else:
        n_workers = max(1, min(workers or default_dask_workers(slots), slots))
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=math.ceil(slots / n_workers),
            processes=True,
            dashboard_address=":0",  # a free port, never the 8787 another cluster may hold
            silence_logs=logging.ERROR,
        )
        client = Client(cluster, set_as_default=False)
    worker_settings = share_limits(settings, len(client.scheduler_info().get("workers", {})) or 1)
    try:
        run_id = f"{os.getpid()}-{time.time_ns()}"
        pending = iter(enumerate(jobs))

        def submit(index: int, job: ReportJob) -> Any:
            return client.submit(_dask_task, index, job, worker_settings, t0_wall, slots,
                                 key=f"report-{run_id}-{index}", pure=False)

        window = as_completed(
            [submit(i, job) for i, job in _take(pending, slots)], loop=client.loop
        )
        task_errors: list[BaseException] = []
        for future in window:
            try:
                index, result = future.result()
            except Exception as exc:  # no backend on that worker, or the worker was lost
                task_errors.append(exc)
                index = int(str(future.key).rsplit("-", 1)[1])
                now = time.time() - t0_wall
                result = _result(jobs[index], settings, now, now, error=exc, worker="lost")
            collector.add(index, result)
            for i, job in _take(pending, 1):
                window.add(submit(i, job))
        if len(task_errors) == len(jobs):
            raise task_errors[0]  # e.g. no backend could be built: not one job's fault
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _take(items: Any, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(next(items))
        except StopIteration:
            break
    return out


# --------------------------------------------------------------------------- entry point


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
) -> list[ReportResult]:
    """Answer every job with ``strategy``; results in job order, failures as results.

    ``max_concurrency`` (default: all jobs at once) bounds calls in flight in every strategy.
    ``start_method`` (spawn|fork|forkserver) applies to ``process``; ``scheduler`` (a dask
    scheduler address) to ``dask``; ``workers`` sets the process/dask worker count.
    ``backend`` reuses a built backend in sequential/thread/asyncio (process and dask workers
    always build their own from ``settings``). ``on_result(result)`` is called in the caller's
    thread as each job completes; ``on_text(key, delta)`` receives streamed text in the
    in-process strategies (process and dask workers do not forward deltas).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    jobs = list(jobs)
    concurrency = min(_concurrency(max_concurrency, len(jobs)), max(1, len(jobs)))
    if start_method is not None and start_method not in START_METHODS:
        raise ValueError(
            f"unknown start method {start_method!r}; choose one of {', '.join(START_METHODS)}"
        )
    if not jobs:
        return []
    t0, t0_wall = time.perf_counter(), time.time()
    collector = _Collector(jobs, strategy, progress, on_result)
    try:
        if strategy == "process":
            _run_process(jobs, settings, concurrency, start_method, workers, collector, t0_wall)
        elif strategy == "dask":
            _run_dask(jobs, settings, concurrency, scheduler, workers, collector, t0_wall)
        elif strategy == "asyncio":
            _run_asyncio(jobs, settings, backend, concurrency, collector, on_text, t0)
        else:
            pool_size = 1 if strategy == "sequential" else concurrency
            used = backend if backend is not None else _make_backend(settings, pool_size)
            try:
                if strategy == "sequential":
                    _run_sequential(jobs, settings, used, collector, on_text, t0)
                else:
                    _run_thread(jobs, settings, used, concurrency, collector, on_text, t0)
            finally:
                if backend is None:
                    used.close()
    finally:
        collector.close()
    return collector.ordered()
