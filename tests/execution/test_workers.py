"""The thread strategy's daemon workers: reused between runs, gone when idle too long."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from report_lib.execution import run_jobs
from report_lib.execution.workers import DaemonWorkers
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import make_jobs


class Gate:
    """A backend whose calls wait until ``open`` is set, noting the threads they ran on."""

    name = "gate"

    def __init__(self) -> None:
        self.open = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        self.open.wait(10)
        with self.lock:
            self.in_flight -= 1
        return CallOutcome(text=job.key, input_tokens=1, output_tokens=1)

    async def acall(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_idle_threads_take_the_next_tasks_and_end_after_keep_alive() -> None:
    workers = DaemonWorkers("probe", keep_alive_s=0.3)
    ran: list[str] = []
    done = threading.Barrier(4)

    def task() -> None:
        ran.append(threading.current_thread().name)
        done.wait(5)

    for _ in range(3):
        workers.submit(task)
    done.wait(5)
    first = set(ran)
    assert len(first) == 3 and workers.alive == 3
    assert _wait_until(lambda: len(ran) == 3)
    time.sleep(0.05)  # the three are idle now: the next three tasks reuse them
    for _ in range(3):
        workers.submit(task)
    done.wait(5)
    assert set(ran[3:]) == first and workers.alive == 3
    assert _wait_until(lambda: workers.alive == 0)  # idle longer than keep_alive_s


def _pool_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("report_")}


def _gated_run(n: int) -> set[str]:
    """A thread run of ``n`` jobs held until all ``n`` calls are in flight: its threads."""
    gate = Gate()
    used: list[set[str]] = []

    def run() -> None:
        results = run_jobs(make_jobs(n), BackendSettings(), strategy="thread", backend=gate)
        used.append({(r.worker or "").split("/")[1] for r in results})

    runner = threading.Thread(target=run)
    runner.start()
    assert _wait_until(lambda: gate.in_flight == n)
    gate.open.set()
    runner.join(10)
    return used[0]


def test_a_second_thread_run_starts_no_new_thread() -> None:
    first = _gated_run(6)
    pool = _pool_threads()
    time.sleep(0.05)  # let the threads park before the next run
    second = _gated_run(6)
    assert len(first) == len(second) == 6
    assert second <= pool and _pool_threads() == pool


def test_reused_threads_still_bound_the_calls_in_flight() -> None:
    warm = Gate()
    warm.open.set()
    run_jobs(make_jobs(8), BackendSettings(), strategy="thread", max_concurrency=8, backend=warm)
    gate = Gate()
    finished: list[int] = []
    runner = threading.Thread(target=lambda: finished.append(len(run_jobs(
        make_jobs(8), BackendSettings(), strategy="thread", max_concurrency=3, backend=gate))))
    runner.start()
    assert _wait_until(lambda: gate.in_flight == 3)
    time.sleep(0.1)  # more idle threads than the bound: still only three calls at once
    assert gate.in_flight == 3
    gate.open.set()
    runner.join(10)
    assert finished == [8] and gate.peak == 3
