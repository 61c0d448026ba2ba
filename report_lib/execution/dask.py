"""The ``dask`` strategy: dask.distributed, a LocalCluster or an existing scheduler.

A LocalCluster (worker processes, threads inside) by default, or ``Client(scheduler)`` for an
existing cluster. At most ``max_concurrency`` tasks are submitted at a time (a sliding window),
so the bound holds whatever the cluster's thread count; each worker caches one backend per
settings. On an interrupt the run's own cluster is closed and any of its processes still alive
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
from typing import Any

import psutil

from report_lib.execution.base import Run, Strategy, share_limits
from report_lib.execution.calls import make_result, run_one
from report_lib.jobs import ReportJob, ReportResult
from report_lib.llm.backends import Backend, make_backend
from report_lib.llm.settings import BackendSettings

_CLOSE_S = 1.0  # an interrupted run's cluster gets this long to close before its processes die

_BACKENDS: dict[tuple[str, int], Backend] = {}
_LOCK = threading.Lock()


def _worker_backend(settings: BackendSettings, pool_size: int) -> Backend:
    """One backend per dask worker process and settings (workers' threads share it)."""
    key = (repr(settings), pool_size)
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = _BACKENDS[key] = make_backend(settings, pool_size)
    return backend


def _task(index: int, job: ReportJob, settings: BackendSettings, t0_wall: float,
          pool_size: int) -> tuple[int, ReportResult]:
    backend = _worker_backend(settings, pool_size)  # raises when no backend can be built
    return index, run_one(backend, job, settings, t0_wall, clock=time.time)


def default_dask_workers(max_concurrency: int) -> int:
    """LocalCluster size: two worker processes (one per CPU on small machines), threads inside."""
    return max(1, min(2, os.cpu_count() or 1, max_concurrency))


def quiet_dask() -> None:
    """Only errors from dask/distributed's loggers (they are chatty at start and close)."""
    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny",
                 "distributed.core", "distributed.comm", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)


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


def _kill_new_children(before: set[int]) -> None:
    """Kill this process's descendants that did not exist before the run (its cluster)."""
    procs = []
    for pid in _children() - before:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=1.0)


class DaskStrategy(Strategy):
    name = "dask"
    summary = "dask.distributed: a LocalCluster of worker processes, or --scheduler"
    in_process = False

    def execute(self, run: Run) -> None:
        from dask.distributed import Client

        quiet_dask()
        before = _children()
        cluster = None
        finished = False
        try:
            if run.options.scheduler:
                client = Client(run.options.scheduler, set_as_default=False)
            else:
                cluster = local_cluster(run.concurrency, run.options.workers)
                client = Client(cluster, set_as_default=False)
            try:
                self._submit_all(run, client)
                finished = True
            finally:
                with contextlib.suppress(Exception):
                    client.close(timeout=None if finished else _CLOSE_S)
        finally:
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=None if finished else _CLOSE_S)
            if not finished:
                _kill_new_children(before)

    def _submit_all(self, run: Run, client: Any) -> None:
        from dask.distributed import as_completed

        n_workers = len(client.scheduler_info().get("workers", {})) or 1
        worker_settings = share_limits(run.settings, n_workers)
        run_id = f"{os.getpid()}-{time.time_ns()}"
        pending = iter(enumerate(run.jobs))

        def submit(index: int, job: ReportJob) -> Any:
            return client.submit(_task, index, job, worker_settings, run.t0_wall,
                                 run.concurrency, key=f"report-{run_id}-{index}", pure=False)

        window = as_completed([submit(i, job) for i, job in _take(pending, run.concurrency)],
                              loop=client.loop)
        task_errors: list[BaseException] = []
        for future in window:
            try:
                index, result = future.result()
            except Exception as exc:  # no backend on that worker, or the worker was lost
                task_errors.append(exc)
                index = int(str(future.key).rsplit("-", 1)[1])
                now = time.time() - run.t0_wall
                result = make_result(run.jobs[index], run.settings, now, now, error=exc,
                                     worker="lost")
            run.collector.add(index, result)
            for i, job in _take(pending, 1):
                window.add(submit(i, job))
        if len(task_errors) == len(run.jobs):
            raise task_errors[0]  # e.g. no backend could be built: not one job's fault
