"""CPU seconds and peak memory of the client: this process and its children (psutil).

``ResourceMonitor`` measures a block of code: CPU = user + system time of this process and
every descendant (live ones sampled, finished ones through the ``children_*`` counters of
whoever reaped them: this process's at nanosecond resolution, others' in clock ticks), minus
the monitor's own sampling thread; peak RSS = the largest sum of
resident set sizes seen by the sampler. Processes given in ``exclude_pids`` (the emulator
server) and their descendants are left out: they are the "cloud", not the client.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Iterable

import psutil

from report_lib.closing import Closing

_GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


def _cpu_of(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class ResourceMonitor(Closing):
    """``with ResourceMonitor(exclude_pids=[emu.pid]) as mon: ...`` then ``mon.cpu_s``."""

    def __init__(self, exclude_pids: Iterable[int] = (), interval_s: float = 0.1) -> None:
        self.exclude_pids = set(exclude_pids)
        self.interval_s = interval_s
        self.cpu_s = 0.0
        self.peak_rss_mb = 0.0
        self._me = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampler_cpu = 0.0
        self._start_cpu = 0.0
        self._lock = threading.Lock()

    def _excluded(self) -> set[int]:
        pids = set()
        for pid in self.exclude_pids:
            pids.add(pid)
            with contextlib.suppress(*_GONE):
                pids.update(p.pid for p in psutil.Process(pid).children(recursive=True))
        return pids

    def _tree(self) -> list[psutil.Process]:
        excluded = self._excluded()
        try:
            children = self._me.children(recursive=True)
        except _GONE:
            children = []
        return [self._me, *(c for c in children if c.pid not in excluded)]

    def sample(self, own_first: bool = False) -> tuple[float, float]:
        """(cumulative CPU seconds, RSS in MB) of the client tree right now.

        This process and its reaped children are read at nanosecond resolution (before the
        walk over live descendants when ``own_first``, else after it, so the walk's own cost
        stays outside the measured interval); live descendants from /proc in clock ticks.
        """
        own = self._own_cpu() if own_first else 0.0
        cpu = rss = 0.0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    if proc.pid != self._me.pid:
                        cpu += _cpu_of(proc)
                    rss += proc.memory_info().rss
            except _GONE:
                continue
        if not own_first:
            own = self._own_cpu()
        with self._lock:
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
        return own + cpu, rss / 2**20

    @staticmethod
    def _own_cpu() -> float:
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + reaped.ru_utime + reaped.ru_stime

    def _run(self) -> None:
        started = time.thread_time()
        while not self._stop.wait(self.interval_s):
            self.sample()
        self._sampler_cpu = time.thread_time() - started

    def start(self) -> None:
        """Begin measuring (``with`` calls it on the way in)."""
        self._start_cpu, _ = self.sample()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop measuring and set ``cpu_s`` (``with`` calls it on the way out)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end_cpu, _ = self.sample(own_first=True)
        self.cpu_s = max(0.0, end_cpu - self._start_cpu - self._sampler_cpu)
