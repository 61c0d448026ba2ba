"""Daemon worker threads kept between runs (the thread strategy's pool).

Starting 300 threads costs a run about a fifth of a millisecond of CPU per call on this kind of
machine (stacks, scheduler, the GIL hand-offs of a start), which the calls then wait for; a
process that runs reports again (a notebook, a service, the benchmark's repeats) reuses the
threads of its earlier runs instead. Threads are daemons, so a call still in flight never holds
the process open at exit, and an idle thread ends after ``keep_alive_s``.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable

KEEP_ALIVE_S = 60.0


class DaemonWorkers:
    """``workers.submit(fn)`` runs ``fn()`` on an idle thread, or on a new one."""

    def __init__(self, prefix: str = "report", keep_alive_s: float = KEEP_ALIVE_S) -> None:
        self.prefix = prefix
        self.keep_alive_s = keep_alive_s
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one permit per thread waiting for a task
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._alive = 0

    @property
    def alive(self) -> int:
        """Threads alive now (busy or idle)."""
        with self._lock:
            return self._alive

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (which must not raise: its exceptions are its caller's to hand over)."""
        if not self._idle.acquire(blocking=False):  # nobody idle: one more thread
            with self._lock:
                self._alive += 1
            name = f"{self.prefix}_{next(self._names)}"
            threading.Thread(target=self._work, name=name, daemon=True).start()
        self._tasks.put(fn)

    def _work(self) -> None:
        try:
            while True:
                try:
                    task = self._tasks.get(timeout=self.keep_alive_s)
                except queue.Empty:
                    if self._idle.acquire(blocking=False):  # still idle: leave
                        return
                    continue  # a submit counted on this thread: its task is on the way
                task()
                del task
                self._idle.release()
        finally:
            with self._lock:
                self._alive -= 1
