"""The Dask cluster a grid runs on, started while the grid is planned.

``ClusterAhead`` connects to an existing scheduler, or starts a ``LocalCluster`` of ``workers``
processes with ``runs_per_worker`` threads each (a thread drives one papermill run and its
kernel), on a helper thread, and then has every worker import what each run needs (papermill,
nbconvert, this package's task module: about a second of imports per process). Planning the grid
(reading the notebooks' parameters, loading the data) takes about as long in the client, so the
two overlap instead of adding up. No run is submitted before the plan is complete and checked;
a plan that fails closes the cluster again.

On Ctrl-C (``abort``) the cluster's processes are killed at once (the local workers ignore
Ctrl-C themselves: execution.dask_worker_signals) and the client and cluster are closed without
waiting; with ``--scheduler`` the client's tasks are released, so what has not started never
starts.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from report_lib.errors import ConfigError
from report_lib.execution.base import interrupts_held
from report_lib.execution.dask import (
    WORKER_PRELOAD,
    close_quickly,
    own_processes,
    stop_own_processes,
)

log = logging.getLogger(__name__)


def connect(scheduler: str | None, workers: int | None, runs_per_worker: int,
            stack: ExitStack) -> Any:
    """A client of ``scheduler``, or of a LocalCluster; both closed with ``stack``.

    Closed with ``close()``, not as context managers: the client is made on a helper thread
    and used and closed on the caller's, and its ``with`` block cannot span two threads."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"--scheduler {scheduler}: cannot connect ({exc}); start one with "
                "`dask scheduler` and `dask worker ADDRESS`, or leave --scheduler out"
            ) from None
        stack.callback(client.close)
        return client
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1, threads_per_worker=runs_per_worker,
        processes=True, dashboard_address=None, preload=[WORKER_PRELOAD],
    )
    stack.callback(cluster.close)
    client = Client(cluster)
    stack.callback(client.close)
    return client


def warm_worker() -> bool:
    """Import, once per worker process, what every notebook run needs."""
    import nbconvert  # noqa: F401
    import papermill  # noqa: F401

    from report_lib.pipeline import export, tasks  # noqa: F401

    return True


class ClusterAhead:
    """``with ClusterAhead(...) as ahead: plan(); client = ahead.client()``."""

    def __init__(self, scheduler: str | None, workers: int | None, runs_per_worker: int) -> None:
        self._before = own_processes()
        self._stack = ExitStack()
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cluster-ahead")
        self._started = self._helper.submit(self._start, scheduler, workers, runs_per_worker)

    def _start(self, scheduler: str | None, workers: int | None, runs_per_worker: int) -> Any:
        client = connect(scheduler, workers, runs_per_worker, self._stack)
        try:
            client.run(warm_worker, on_error="raise")
        except Exception as exc:  # e.g. a worker without this package: each run will say so
            log.info("warming the Dask workers failed: %s", exc)
        return client

    def client(self) -> Any:
        """The connected client (raises the cluster's start error, e.g. an unreachable
        scheduler, as ConfigError)."""
        return self._started.result()

    def __enter__(self) -> ClusterAhead:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.abort()
            return
        self._helper.shutdown(wait=True)  # a start still under way ends, then closes
        self._stack.close()

    def abort(self) -> None:
        """After Ctrl-C: kill the cluster's processes (even while it starts), close the client
        and the cluster without waiting for them. A second Ctrl-C meanwhile is ignored."""
        with interrupts_held():
            started = self._started
            client = started.result() if started.done() and not started.exception() else None
            stop_own_processes(self._before, getattr(client, "cluster", None))
            self._helper.shutdown(wait=False, cancel_futures=True)
            self._stack.pop_all()  # closed here, quickly, instead
            if client is not None:  # its tasks released: what has not started never starts
                close_quickly(client, getattr(client, "cluster", None))
            stop_own_processes(self._before)  # a worker a nanny started meanwhile
