"""The ``process`` strategy: worker processes, threads inside, one backend per process.

``min(max_concurrency, CPU count, jobs)`` processes (or ``workers``), each building one backend.
Concurrency beyond the process count is reached with threads inside each process: the
``max_concurrency`` slots are split over the processes (sizes differ by at most one) and every
slot is a thread pulling jobs from a shared queue, so load balances and no more than
``max_concurrency`` calls are ever in flight.

Start method ``spawn`` by default: it starts clean interpreters (no inherited threads, locks or
sockets), behaves the same on Linux, macOS and Windows and inside Jupyter; ``fork`` starts
fastest but copies a multi-threaded parent (unsafe; deprecated as a default since Python 3.12);
``forkserver`` forks workers from a clean server that has preloaded boto3 and this module
(FORKSERVER_PRELOAD). A script using ``spawn``/``forkserver`` needs the usual
``if __name__ == "__main__":`` guard.

The workers ignore Ctrl-C: the parent decides. On an interrupt it terminates them (SIGTERM, then
SIGKILL) and returns at once, so no worker outlives the run. Timing: workers use ``time.time``
(one wall clock for every process of the machine) against the run's wall start.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from typing import Any

from report_lib.execution.base import Run, Strategy, check_start_method, share_limits
from report_lib.execution.calls import run_one
from report_lib.execution.relay import hold_warnings, reissue, take_held
from report_lib.llm.backends import BACKENDS
from report_lib.llm.settings import BackendSettings

# What a forkserver imports before it forks workers (the default is just "__main__").
FORKSERVER_PRELOAD = ("__main__", "report_lib.execution.process", "report_lib.llm.backends",
                      "report_lib.llm.sync_client")
_FINISH_S = 5.0  # after the last result, how long workers may take to exit by themselves
_STOP_S = 1.0  # after SIGTERM, how long a worker may take before SIGKILL
_LOST_GRACE_S = 1.0  # after the last worker ended, how long to wait for results still in the pipe


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most one (largest first)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def default_process_count(max_concurrency: int) -> int:
    """Processes for the ``process`` strategy: one per CPU, never more than the concurrency."""
    return max(1, min(max_concurrency, os.cpu_count() or 1))


# --------------------------------------------------------------------------- in the worker


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to reach the parent), else a RuntimeError saying it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _worker(worker: int, settings: BackendSettings, n_threads: int, pool_size: int,
            jobs: Any, results: Any, t0_wall: float) -> None:
    """One worker process: build the backend, answer jobs on ``n_threads`` threads, report.

    Messages to the parent: ``("result", worker, (index, result))`` per job, each after the
    ``("warnings", worker, held)`` warned meanwhile (execution.relay) (before it, any number of
    ``("draft", worker, result)``: a report being repaired, as it stands), then
    ``("done", worker, None)`` or, when no backend could be built, ``("failed", worker, exc)``.
    """
    hold_warnings()  # the parent shows them, once per run
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked child inherits the parent's handler
    try:
        backend = BACKENDS.create(settings, pool_size)
    except Exception as exc:
        results.put(("failed", worker, _portable(exc)))
        return

    def draft(result: Any) -> None:
        results.put(("draft", worker, result))

    def slot() -> None:
        while (item := jobs.get()) is not None:
            index, job = item
            result = run_one(backend, job, settings, t0_wall, clock=time.time, on_draft=draft)
            if held := take_held():
                results.put(("warnings", worker, held))
            results.put(("result", worker, (index, result)))

    threads = [threading.Thread(target=slot, name=f"slot_{i}") for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backend.close()
    results.put(("done", worker, None))


# --------------------------------------------------------------------------- in the parent


class ProcessStrategy(Strategy):
    name = "process"
    summary = "worker processes (spawn/fork/forkserver), threads inside, one client each"
    in_process = False

    def execute(self, run: Run) -> None:
        method = check_start_method(run.options.start_method)
        slots = run.concurrency
        n_proc = max(1, min(run.options.workers or default_process_count(slots), slots))
        threads = split_evenly(slots, n_proc)
        ctx: Any = multiprocessing.get_context(method)
        if method == "forkserver":  # the server imports these once; every worker forks with them
            ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        jobs, results = ctx.Queue(), ctx.Queue()
        for item in enumerate(run.jobs):
            jobs.put(item)
        for _ in range(slots):
            jobs.put(None)  # one sentinel per slot (thread)
        settings = share_limits(run.settings, n_proc)
        procs = [
            ctx.Process(target=_worker, name=f"report-worker-{i}", daemon=True,
                        args=(i, settings, n, max(threads), jobs, results, run.t0_wall))
            for i, n in enumerate(threads)
        ]
        finished = False
        try:
            for proc in procs:
                proc.start()
            _collect(run, results, procs)
            finished = True
        except KeyboardInterrupt:
            _keep_arrived(run, results)
            raise
        finally:  # interrupted (or failed): stop the workers now, whatever they are doing
            _stop(procs, wait_s=_FINISH_S if finished else 0.0)
            for q in (jobs, results):
                q.close()
                q.cancel_join_thread()


def _collect(run: Run, results: Any, procs: list[Any]) -> None:
    """Read results as they come; once every worker has ended, fail whatever never came."""
    ended: set[int] = set()
    failures: list[BaseException] = []
    quiet_since: float | None = None
    while run.collector.missing() and len(ended) < len(procs):
        try:
            kind, worker, payload = results.get(timeout=0.05)
        except queue.Empty:
            lost = {i for i, p in enumerate(procs) if p.exitcode is not None} - ended
            if lost and len(ended | lost) == len(procs):  # died without a word: killed, say
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > _LOST_GRACE_S:
                    break
            continue
        if kind == "result":
            run.collector.add(*payload)
        elif kind == "warnings":
            reissue(payload, run.warned)
        elif kind == "draft":
            run.collector.draft(payload)
        else:
            ended.add(worker)
            if kind == "failed":
                failures.append(payload)
    if run.collector.missing():
        if failures and len(failures) == len(procs):
            raise failures[0]  # e.g. no backend could be built (credentials): not one job's fault
        error = failures[0] if failures else RuntimeError(
            "a worker process stopped without a result"
        )
        run.collector.fail_missing(run.settings, error, time.time() - run.t0_wall)


def _keep_arrived(run: Run, results: Any) -> None:
    """Add the results already in the pipe (an interrupted run keeps every finished report)."""
    with contextlib.suppress(queue.Empty, OSError, ValueError, EOFError):
        while True:
            kind, _, payload = results.get(timeout=0.05)
            if kind == "result":
                run.collector.add(*payload)
            elif kind == "draft":
                run.collector.draft(payload)


def _stop(procs: list[Any], wait_s: float) -> None:
    """Give the workers ``wait_s`` to end by themselves; terminate, then kill, the others."""
    deadline = time.monotonic() + wait_s
    for proc in procs:
        if proc.pid is not None:
            proc.join(max(0.0, deadline - time.monotonic()))
    alive = [p for p in procs if p.pid is not None and p.exitcode is None]
    for proc in alive:
        with contextlib.suppress(OSError):
            proc.terminate()
    deadline = time.monotonic() + _STOP_S
    for proc in alive:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.exitcode is None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.join(1.0)
