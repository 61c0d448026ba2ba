"""The ``dask`` strategy: dask.distributed, a LocalCluster or an existing scheduler.

A LocalCluster (worker processes, threads inside) by default, or ``Client(scheduler)`` for an
existing cluster. At most ``max_concurrency`` tasks are submitted at a time (a sliding window),
so the bound holds whatever the cluster's thread count; each worker caches one backend per
settings. A report to repair comes back after its first answer, is reviewed here (and kept as
a draft) and goes out again as a repair task in the same slot of the window, so an interrupted
run keeps it. On an interrupt the run's own cluster is closed and any of its processes still alive
after a short wait are killed (an external cluster is left running; the run's tasks are
released).
dask and distributed are imported only when this strategy runs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from dataclasses import replace
from typing import Any

import psutil

from report_lib.execution.base import Run, Strategy, interrupts_held, share_limits
from report_lib.execution.calls import make_result, repair_one, run_one
from report_lib.execution.relay import Held, hold_warnings, reissue, take_held
from report_lib.execution.repair import INTERRUPTED, Repair
from report_lib.llm.backends import BACKENDS, Backend
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportJob, ReportResult

_CLOSE_S = 0.5  # an interrupted run's client and cluster get this long each to close
WORKER_PRELOAD = "report_lib.execution.dask_worker_signals"  # imported by each worker process

_BACKENDS: dict[tuple[str, int], Backend] = {}
_LOCK = threading.Lock()


def _worker_backend(settings: BackendSettings, pool_size: int) -> Backend:
    """One backend per dask worker process and settings (workers' threads share it)."""
    key = (repr(settings), pool_size)
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = _BACKENDS[key] = BACKENDS.create(settings, pool_size)
    return backend


def _task(index: int, job: ReportJob, settings: BackendSettings, t0_wall: float,
          pool_size: int, client_pid: int,
          first: ReportResult | None = None) -> tuple[int, ReportResult, Held]:
    """The first answer to ``job`` (never repaired here: the parent reviews it), or, given
    ``first``, its repair turns; with the warnings that worker kept (execution.relay)."""
    if os.getpid() != client_pid:  # a worker process: the client's shows them, once per run
        hold_warnings()
    backend = _worker_backend(settings, pool_size)  # raises when no backend can be built
    if first is not None:
        result = repair_one(backend, job, settings, first, t0_wall, clock=time.time)
    else:
        result = run_one(backend, replace(job, repair=None), settings, t0_wall, clock=time.time)
    return index, result, take_held()


def _needs_repair(run: Run, index: int, result: ReportResult) -> bool:
    """Review a first answer in the parent: True when a repair task is due (the report as it
    stands kept as a draft), else the result is final (reviewed) as it is."""
    job = run.jobs[index]
    if job.repair is None or not result.ok or result.fact_check is not None:
        return False
    repair = Repair(job, run.settings, result)
    now = time.time() - run.t0_wall
    if repair.next_job(now - result.start_s) is None:
        result.fact_check = repair.result(now).fact_check
        return False
    run.collector.draft(repair.result(now, stopped=INTERRUPTED))
    return True


def default_dask_workers(max_concurrency: int) -> int:
    """LocalCluster size: two worker processes (one per CPU on small machines), threads inside."""
    return max(1, min(2, os.cpu_count() or 1, max_concurrency))


_LOGGERS = ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
            "distributed.core", "distributed.comm", "distributed.utils", "tornado", "bokeh")


def quiet_dask(level: int = logging.ERROR) -> None:
    """Only errors from dask/distributed's loggers (they are chatty at start and close)."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(level)


def local_cluster(threads: int, workers: int | None = None) -> Any:
    """A quiet LocalCluster of worker processes with ``threads`` threads in all."""
    from dask.distributed import LocalCluster

    quiet_dask()
    n_workers = max(1, min(workers or default_dask_workers(threads), threads))
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=math.ceil(threads / n_workers),
        processes=True,
        dashboard_address=":0",  # a free port, never the 8787 another cluster may hold
        silence_logs=logging.ERROR,
        preload=[WORKER_PRELOAD],  # workers ignore Ctrl-C: this process stops them
    )


def _take(items: Any, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(next(items))
        except StopIteration:
            break
    return out


def _children() -> set[int]:
    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return set()


def _kill(pids: set[int]) -> None:
    """Kill these processes (multiprocessing's resource tracker spared: it ends by itself when
    this process does, and killing it would make every later semaphore clean-up complain)."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if "resource_tracker" not in " ".join(proc.cmdline()):
                procs.append(proc)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=1.0)


def _no_restarts(cluster: Any) -> None:
    """Tell a LocalCluster's nannies not to start a new worker for one that dies (killed after
    an interrupt, its replacement would start while this process exits and print a traceback)."""
    from distributed.core import Status

    for nanny in list(getattr(cluster, "workers", {}).values()) if cluster is not None else []:
        with contextlib.suppress(Exception):  # a nanny closing gracefully does not restart
            nanny.status = Status.closing_gracefully


def own_processes() -> set[int]:
    """The PIDs of this process's children (and theirs): call before starting a cluster."""
    return _children()


def stop_own_processes(before: set[int], cluster: Any = None) -> None:
    """After an interrupt: dask's loggers silenced, ``cluster``'s nannies told not to restart
    workers, every child process started since ``before`` (own_processes) killed, the
    cluster's even while it is still starting."""
    quiet_dask(logging.CRITICAL)  # nannies would log the workers' deaths at length
    _no_restarts(cluster)
    _kill(_children() - before)


def close_quickly(client: Any, cluster: Any) -> None:
    """Close an interrupted run's client and own cluster (its workers already killed) without
    waiting more than a moment for either."""
    _close(client, cluster, timeout=_CLOSE_S)


def close_cluster(cluster: Any, *, interrupted: bool = False) -> None:
    """Close a LocalCluster. After an interrupt its worker processes are killed first (their
    calls in flight are abandoned) and the close gets a short timeout, so Ctrl-C ends a run
    that shares one cluster between runs (bench) as fast as one that owns it."""
    if interrupted:
        quiet_dask(logging.CRITICAL)  # nannies would log the workers' deaths at length
        _no_restarts(cluster)
        _kill({pid for w in cluster.workers.values() if (pid := getattr(w, "pid", None))})
    _close(None, cluster, timeout=_CLOSE_S if interrupted else None)


def _close(client: Any, cluster: Any, timeout: float | None) -> None:
    """Close the client, then the run's own cluster; with a ``timeout`` (an interrupted run,
    whose workers are already gone) a cluster that does not close in time is marked closed, so
    distributed's exit hook does not wait for it again."""
    for part in (client, cluster):
        if part is not None:
            with contextlib.suppress(Exception):
                part.close(timeout=timeout)
    if cluster is not None and timeout is not None:
        from distributed.core import Status

        cluster.status = Status.closed


class DaskStrategy(Strategy):
    name = "dask"
    summary = "dask.distributed: a LocalCluster of worker processes, or --scheduler"
    in_process = False

    def execute(self, run: Run) -> None:
        from dask.distributed import Client

        quiet_dask()
        before = _children()
        cluster = client = None
        try:
            if run.options.scheduler:
                client = Client(run.options.scheduler, set_as_default=False)
            else:
                cluster = local_cluster(run.concurrency, run.options.workers)
                client = Client(cluster, set_as_default=False)
            self._submit_all(run, client)
        except BaseException:  # interrupted (or failed): no waiting for the calls in flight
            with interrupts_held():  # a second Ctrl-C does not cut this short
                stop_own_processes(before, cluster)  # the run's cluster, even one starting
                _close(client, cluster, timeout=_CLOSE_S)
                _kill(_children() - before)  # a worker a nanny started meanwhile
            raise
        _close(client, cluster, timeout=None)

    def _submit_all(self, run: Run, client: Any) -> None:
        n_workers = len(client.scheduler_info().get("workers", {})) or 1
        worker_settings = share_limits(run.settings, n_workers)
        run_id = f"{os.getpid()}-{time.time_ns()}"
        pending = iter(enumerate(run.jobs))
        submitted: list[Any] = []

        def submit(index: int, job: ReportJob, first: ReportResult | None = None) -> Any:
            name = f"report-{run_id}-{index}" if first is None else f"repair-{run_id}-{index}"
            submitted.append(client.submit(_task, index, job, worker_settings, run.t0_wall,
                                           run.concurrency, os.getpid(), first, key=name,
                                           pure=False))
            return submitted[-1]

        try:
            self._collect(run, client, submit, pending)
        except KeyboardInterrupt:  # keep the answers that are in
            for future in submitted:
                with contextlib.suppress(Exception):
                    if future.status == "finished":
                        index, result, _ = future.result(timeout=_CLOSE_S)
                        if index not in run.collector.drafts or result.fact_check is not None:
                            run.collector.add(index, result)  # else its draft is kept
            raise

    def _collect(self, run: Run, client: Any, submit: Any, pending: Any) -> None:
        """A sliding window of ``run.concurrency`` tasks; each result to the collector."""
        from dask.distributed import as_completed

        window = as_completed([submit(i, job) for i, job in _take(pending, run.concurrency)],
                              loop=client.loop)
        task_errors: list[BaseException] = []
        for future in window:
            try:
                index, result, held = future.result()
                reissue(held, run.warned)
            except Exception as exc:  # no backend on that worker, or the worker was lost
                task_errors.append(exc)
                index = int(str(future.key).rsplit("-", 1)[1])
                now = time.time() - run.t0_wall
                result = make_result(run.jobs[index], run.settings, now, now, error=exc,
                                     worker="lost")
                draft = run.collector.drafts.get(index)
                if draft is not None and draft.fact_check is not None:  # its repair was lost
                    result = draft
                    draft.fact_check["repair"].update(stopped="error", error=f"{exc!r}")
            if str(future.key).startswith("report-") and _needs_repair(run, index, result):
                window.add(submit(index, run.jobs[index], result))  # its slot repairs it
                continue
            run.collector.add(index, result)
            for i, job in _take(pending, 1):
                window.add(submit(i, job))
        if len(task_errors) == len(run.jobs):
            raise task_errors[0]  # e.g. no backend could be built: not one job's fault
