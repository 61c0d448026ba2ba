"""Strategies that run every call in this process: sequential, thread, asyncio, original.

- ``sequential``: one backend, one job after another.
- ``thread``: ``max_concurrency`` threads over ONE backend built before they start, its
  connection pool sized to the concurrency. The threads are daemon threads pulling from a queue:
  on Ctrl-C the run returns at once and a call still in flight cannot hold the process open.
  They are kept between runs (execution.workers), so a process that runs reports again does not
  start them again.
- ``asyncio``: ``backend.acall`` under an asyncio.Semaphore(max_concurrency). From a script it
  uses ``asyncio.run``; when an event loop already runs in this thread (a Jupyter cell) it runs
  a fresh loop on a helper thread and waits for it; ``RunOptions.loop`` runs it on a loop the
  caller keeps on another thread (execution.loop.LoopThread: generate opens the client there
  ahead of the run). ``await arun_jobs(...)`` is the async API.
- ``original``: the design this project replaces, kept as the benchmark's baseline: 3 threads
  (or ``max_concurrency``), and a new boto3 Session + client built for every job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from report_lib.execution.base import ResultCallback, Run, RunOptions, Strategy
from report_lib.execution.calls import KeyedTextCallback, arun_one, run_one
from report_lib.execution.loop import LoopThread
from report_lib.execution.workers import DaemonWorkers
from report_lib.llm.backends import BACKENDS
from report_lib.records import ReportJob, ReportResult

if TYPE_CHECKING:
    from report_lib.llm.backends import Backend
    from report_lib.llm.settings import BackendSettings

ORIGINAL_WORKERS = 3  # the original design's ThreadPoolExecutor(max_workers=3)
THREAD_WORKERS = DaemonWorkers("report")  # the thread strategy's threads, kept between runs
_HELPER_JOIN_S = 2.0  # how long an interrupted notebook run waits for its loop to wind down


class _BorrowedOrOwn:
    """The run's backend: ``RunOptions.backend`` when given (left open), else a new one."""

    def __init__(self, strategy: Strategy, run: Run) -> None:
        self.own = run.options.backend is None
        self.backend = strategy.make_backend(run) if self.own else run.options.backend

    def __enter__(self) -> Backend:
        assert self.backend is not None
        return self.backend

    def __exit__(self, *exc: object) -> None:
        if self.own and self.backend is not None:
            self.backend.close()


def run_in_threads(run: Run, n_threads: int, answer: Callable[[ReportJob], ReportResult],
                   prefix: str, workers: DaemonWorkers | None = None) -> None:
    """``answer`` every job on ``n_threads`` daemon threads; results go to the collector here.

    The threads are ``workers``' (kept between runs) or new ones named ``prefix_i``. An
    exception of ``answer`` itself (not a failed call: run_one turns those into results) is
    re-raised in the caller's thread. On KeyboardInterrupt the threads take no further job.
    """
    todo: queue.SimpleQueue[tuple[int, ReportJob]] = queue.SimpleQueue()
    for pair in enumerate(run.jobs):
        todo.put(pair)
    done: queue.Queue[tuple[int, ReportResult] | BaseException] = queue.Queue()
    stop = threading.Event()

    def slot() -> None:
        while not stop.is_set():
            try:
                index, job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, answer(job)))
            except BaseException as exc:
                done.put(exc)

    try:
        for i in range(max(1, min(n_threads, len(run.jobs)))):
            if workers is not None:
                workers.submit(slot)
            else:
                threading.Thread(target=slot, name=f"{prefix}_{i}", daemon=True).start()
        for _ in run.jobs:
            item = done.get()
            if isinstance(item, BaseException):
                raise item
            run.collector.add(*item)
    except KeyboardInterrupt:
        stop.set()
        with contextlib.suppress(queue.Empty):  # keep the answers that are already here
            while True:
                if not isinstance(item := done.get_nowait(), BaseException):
                    run.collector.add(*item)
        raise
    finally:
        stop.set()


class SequentialStrategy(Strategy):
    name = "sequential"
    summary = "one call after another (the baseline of speedups)"
    reuses_backend = True

    def pool_size(self, concurrency: int) -> int:
        return 1

    def execute(self, run: Run) -> None:
        with _BorrowedOrOwn(self, run) as backend:
            for i, job in enumerate(run.jobs):
                result = run_one(backend, job, run.settings, run.t0, on_text=run.options.on_text,
                                 on_draft=run.collector.draft)
                run.collector.add(i, result)


class ThreadStrategy(Strategy):
    name = "thread"
    summary = "threads sharing one client (connection pool sized to the concurrency)"
    reuses_backend = True

    def execute(self, run: Run) -> None:
        with _BorrowedOrOwn(self, run) as backend:

            def answer(job: ReportJob) -> ReportResult:
                return run_one(backend, job, run.settings, run.t0, on_text=run.options.on_text,
                               on_draft=run.collector.draft)

            run_in_threads(run, run.concurrency, answer, "report", THREAD_WORKERS)


class OriginalStrategy(Strategy):
    name = "original"
    summary = "the design this project replaces: 3 threads, a new boto3 client per call"

    def default_concurrency(self, n_jobs: int) -> int:
        return ORIGINAL_WORKERS

    def execute(self, run: Run) -> None:
        def answer(job: ReportJob) -> ReportResult:
            backend = BACKENDS.create(run.settings, max_concurrency=1)  # new Session + client
            try:
                return run_one(backend, job, run.settings, run.t0, on_draft=run.collector.draft)
            finally:
                backend.close()

        run_in_threads(run, run.concurrency, answer, "original")


# --------------------------------------------------------------------------- asyncio


async def _arun(run: Run, backend: Backend, report: Callable[[int, ReportResult], None]) -> None:
    semaphore = asyncio.Semaphore(run.concurrency)

    async def one(index: int, job: ReportJob) -> tuple[int, ReportResult]:
        async with semaphore:
            result = await arun_one(backend, job, run.settings, run.t0,
                                    on_text=run.options.on_text, on_draft=run.collector.draft)
            return index, result

    tasks = [asyncio.create_task(one(i, job), name=f"report-{i}")
             for i, job in enumerate(run.jobs)]
    reported: set[int] = set()
    try:
        for next_done in asyncio.as_completed(tasks):
            index, result = await next_done
            reported.add(index)
            report(index, result)
    finally:  # interrupted: keep the answers that are in, cancel the rest
        for i, task in enumerate(tasks):
            if i not in reported and task.done() and not task.cancelled() \
                    and task.exception() is None:
                report(*task.result())
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _release(backend: Backend, own: bool) -> None:
    """Close this loop's async client; also the whole backend when the run built it."""
    await backend.aclose()
    if own:
        backend.close()


async def _arun_with_backend(strategy: Strategy, run: Run,
                             report: Callable[[int, ReportResult], None], *,
                             loop_ends: bool) -> None:
    """``_arun`` with the run's backend. ``loop_ends``: this loop ends with the run, so its
    async client is closed even on a borrowed backend (an awaiting caller keeps it warm)."""
    borrowed = run.options.backend
    backend = borrowed if borrowed is not None else strategy.make_backend(run)
    try:
        await _arun(run, backend, report)
    finally:
        if borrowed is None or loop_ends:
            await _release(backend, own=borrowed is None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncioStrategy(Strategy):
    name = "asyncio"
    summary = "one event loop, aiobotocore, a semaphore bounding the calls"
    reuses_backend = True
    uses_async_client = True

    def execute(self, run: Run) -> None:
        if run.options.loop is not None:  # a loop the caller keeps (its client opened ahead)
            self._execute_on(run, run.options.loop, loop_ends=False)
        elif _running_loop() is None:
            asyncio.run(_arun_with_backend(self, run, run.collector.add, loop_ends=True))
        else:  # a loop already runs in this thread (Jupyter): ours runs on a helper thread
            with LoopThread() as helper:
                self._execute_on(run, helper.loop, loop_ends=True)

    def _execute_on(self, run: Run, loop: asyncio.AbstractEventLoop, *, loop_ends: bool) -> None:
        """Run on ``loop``, another thread's, handing each result back through a queue so
        on_result and the bar stay in the caller's thread."""
        done = object()
        inbox: queue.Queue[Any] = queue.Queue()
        future = asyncio.run_coroutine_threadsafe(
            _arun_with_backend(self, run, lambda i, r: inbox.put((i, r)), loop_ends=loop_ends),
            loop,
        )
        future.add_done_callback(lambda _: inbox.put(done))
        try:
            while (item := inbox.get()) is not done:
                run.collector.add(*item)
        except KeyboardInterrupt:
            future.cancel()  # cancels the task on its loop; finished answers still come in
            concurrent.futures.wait([future], timeout=_HELPER_JOIN_S)
            with contextlib.suppress(queue.Empty):  # keep the answers that are already here
                while (item := inbox.get_nowait()) is not done:
                    run.collector.add(*item)
            raise
        future.result()  # a failure of the run itself (not of a job) is raised here


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
    strategy = AsyncioStrategy()
    options = RunOptions(max_concurrency=max_concurrency, backend=backend, on_text=on_text)
    run = strategy.prepare(jobs, settings, options, progress=progress, on_result=on_result)
    if run is None:
        return []
    try:
        await _arun_with_backend(strategy, run, run.collector.add, loop_ends=False)
    finally:
        run.collector.close()
    return run.collector.ordered()
