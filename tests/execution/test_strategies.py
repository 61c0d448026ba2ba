"""Execution strategies: same contents, bounded concurrency, failures kept, notebook loops."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from report_lib.emulator import Emulator
from report_lib.errors import BackendError, ConfigError
from report_lib.execution import MAX_CONCURRENCY, START_METHODS, STRATEGIES, arun_jobs, run_jobs
from report_lib.execution.base import share_limits
from report_lib.execution.process import split_evenly
from report_lib.llm.backends import BaseBackend
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob
from report_lib.reports.build import build_many_jobs
from report_lib.reports.offline.backend import OfflineBackend
from tests.helpers import emulator_test_settings

# (strategy, start method): every strategy, and the process strategy with each start method.
NAMES = STRATEGIES.names()
CASES = [(s, None) for s in NAMES if s != "process"] + [("process", m) for m in START_METHODS]
CASE_IDS = [s if m is None else f"{s}-{m}" for s, m in CASES]


@pytest.fixture(scope="module")
def jobs(sample_frame: pd.DataFrame) -> list[ReportJob]:
    """12 real report jobs (4 operators × kpi/cpo/trend)."""
    return build_many_jobs(sample_frame, 12)


@pytest.fixture(scope="module")
def expected(jobs: list[ReportJob]) -> dict[str, str]:
    """Each job's report written by the offline writer: what the emulator must answer."""
    offline = OfflineBackend()
    return {job.key: offline.call(job).text for job in jobs}


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator(latency_model="fixed:0.1")


@pytest.fixture(scope="module")
def rejecting() -> Iterator[Emulator]:
    """An emulator that rejects every 'trend' report (ValidationException, not retried)."""
    with Emulator(latency_model="fixed:0.05", reject=("trend",)) as emu:
        yield emu


def _settings(emu: Emulator, **changes: object) -> BackendSettings:
    return emulator_test_settings(emu.url, **changes)


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "method"), CASES, ids=CASE_IDS)
def test_every_strategy_delivers_the_same_reports(
    strategy: str, method: str | None, jobs: list[ReportJob], expected: dict[str, str],
    emulator: Emulator,
) -> None:
    emulator.reset_stats()
    started = time.time()
    results = run_jobs(jobs, _settings(emulator), strategy=strategy, start_method=method)
    wall = time.time() - started
    assert [r.key for r in results] == [j.key for j in jobs]
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok]
    assert {r.key: r.content for r in results} == expected
    for r in results:
        assert 0 <= r.start_s <= r.end_s <= wall
        assert r.input_tokens > 0 and r.output_tokens > 0
        assert r.cost_usd > 0
        assert r.worker
    assert emulator.stats()["answered"] == len(jobs)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", NAMES)
def test_max_concurrency_bounds_calls_in_flight(
    strategy: str, jobs: list[ReportJob], emulator: Emulator
) -> None:
    emulator.reset_stats()
    results = run_jobs(jobs, _settings(emulator), strategy=strategy, max_concurrency=4)
    stats = emulator.stats()
    assert all(r.ok for r in results)
    assert stats["requests"] == len(jobs)
    assert 1 <= stats["max_in_flight"] <= (1 if strategy == "sequential" else 4)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", NAMES)
def test_a_failing_job_never_loses_the_others(
    strategy: str, jobs: list[ReportJob], expected: dict[str, str], rejecting: Emulator
) -> None:
    results = run_jobs(jobs, _settings(rejecting), strategy=strategy, max_concurrency=5)
    assert [r.key for r in results] == [j.key for j in jobs]
    for job, r in zip(jobs, results, strict=True):
        if job.kind == "trend":
            assert not r.ok and r.content is None
            assert r.error_type == "ValidationException"
            assert "rejected" in (r.error_message or "")
        else:
            assert r.ok and r.content == expected[job.key]


@pytest.mark.slow
def test_asyncio_runs_inside_an_already_running_loop(
    jobs: list[ReportJob], expected: dict[str, str], emulator: Emulator
) -> None:
    calls: list[int] = []

    async def notebook_cell() -> tuple[list[str | None], int]:
        # asyncio.run() would fail here; run_jobs must still work (as in a Jupyter cell).
        results = run_jobs(jobs, _settings(emulator), strategy="asyncio", max_concurrency=3,
                           on_result=lambda r: calls.append(threading.get_ident()))
        return [r.content for r in results], threading.get_ident()

    contents, caller = asyncio.run(notebook_cell())
    assert contents == [expected[j.key] for j in jobs]
    assert calls == [caller] * len(jobs)  # on_result ran in the caller's thread


@pytest.mark.slow
def test_arun_jobs_can_be_awaited(
    jobs: list[ReportJob], expected: dict[str, str], emulator: Emulator
) -> None:
    emulator.reset_stats()
    results = asyncio.run(arun_jobs(jobs, _settings(emulator), max_concurrency=2))
    assert [r.content for r in results] == [expected[j.key] for j in jobs]
    assert emulator.stats()["max_in_flight"] <= 2


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_streamed_text_reaches_on_text_with_the_job_key(
    strategy: str, jobs: list[ReportJob], expected: dict[str, str], emulator: Emulator
) -> None:
    pieces: dict[str, list[str]] = {}
    lock = threading.Lock()

    def on_text(key: str, delta: str) -> None:
        with lock:
            pieces.setdefault(key, []).append(delta)

    some = jobs[:4]
    results = run_jobs(some, _settings(emulator, stream=True), strategy=strategy, on_text=on_text)
    assert all(r.ok for r in results)
    assert {k: "".join(v) for k, v in pieces.items()} == {j.key: expected[j.key] for j in some}


@pytest.mark.slow
def test_dask_uses_an_existing_scheduler_and_leaves_it_running(
    jobs: list[ReportJob], expected: dict[str, str], emulator: Emulator
) -> None:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=4, processes=False,
                      dashboard_address=":0") as cluster:
        emulator.reset_stats()
        results = run_jobs(jobs, _settings(emulator), strategy="dask", max_concurrency=3,
                           scheduler=cluster.scheduler_address)
        assert [r.content for r in results] == [expected[j.key] for j in jobs]
        assert emulator.stats()["max_in_flight"] <= 3  # the window bounds it, not the 4 threads
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            assert client.submit(sum, [1, 2]).result() == 3  # still running


@pytest.mark.slow
def test_process_results_come_from_worker_processes(
    jobs: list[ReportJob], emulator: Emulator
) -> None:
    results = run_jobs(jobs, _settings(emulator), strategy="process", max_concurrency=4)
    pids = {int(r.worker.split("/")[0]) for r in results if r.worker}
    assert pids and os.getpid() not in pids
    assert len(pids) <= min(4, os.cpu_count() or 1)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", NAMES)
def test_a_backend_that_cannot_be_built_raises(strategy: str, jobs: list[ReportJob]) -> None:
    no_endpoint = BackendSettings(backend="emulator", endpoint_url=None)
    with pytest.raises(ConfigError, match="endpoint_url"):
        run_jobs(jobs[:2], no_endpoint, strategy=strategy)


# --------------------------------------------------------------------------- fake backend


class FlakyBackend(BaseBackend):
    """Answers instantly; raises for the jobs named in ``fail`` (a test double of a Backend)."""

    name = "flaky"

    def __init__(self, fail: dict[str, Exception]) -> None:
        self.fail = fail
        self.closed = False

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        if job.key in self.fail:
            raise self.fail[job.key]
        return CallOutcome(text=f"report {job.key}", input_tokens=10, output_tokens=5, attempts=2)

    async def acall(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        await asyncio.sleep(0)
        return self.call(job)

    def close(self) -> None:
        self.closed = True


def _fake_jobs(n: int) -> list[ReportJob]:
    return [ReportJob(key=f"job{i}", kind="kpi", system="s", prompt=f"p{i}") for i in range(n)]


@pytest.mark.parametrize("strategy", ["sequential", "thread", "asyncio"])
def test_any_exception_becomes_a_failed_result(strategy: str) -> None:
    backend = FlakyBackend({
        "job1": BackendError("quota", error_type="ThrottlingException", attempts=5),
        "job3": KeyError("boom"),
    })
    seen: list[str] = []
    results = run_jobs(_fake_jobs(5), BackendSettings(), strategy=strategy, backend=backend,
                       on_result=lambda r: seen.append(r.key))
    assert [r.key for r in results] == [f"job{i}" for i in range(5)]
    assert sorted(seen) == sorted(r.key for r in results)
    assert (results[1].error_type, results[1].attempts) == ("ThrottlingException", 5)
    assert results[3].error_type == "KeyError" and "boom" in (results[3].error_message or "")
    ok = [results[i] for i in (0, 2, 4)]
    assert [r.content for r in ok] == ["report job0", "report job2", "report job4"]
    assert all(r.attempts == 2 and r.input_tokens == 10 for r in ok)
    assert not backend.closed  # a borrowed backend is left open


def test_sequential_runs_one_job_after_another() -> None:
    results = run_jobs(_fake_jobs(6), BackendSettings(), strategy="sequential",
                       backend=FlakyBackend({}))
    for before, after in itertools.pairwise(results):
        assert before.end_s <= after.start_s


def test_progress_bar_counts_completed_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    run_jobs(_fake_jobs(7), BackendSettings(), strategy="thread", backend=FlakyBackend({}),
             progress=True)
    assert "7/7" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "fibers"}, "unknown strategy"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_concurrency": MAX_CONCURRENCY + 1}, f"from 1 to {MAX_CONCURRENCY}"),
        ({"strategy": "process", "start_method": "vfork"}, "start method"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_jobs(_fake_jobs(2), BackendSettings(), **kwargs)  # type: ignore[arg-type]


def test_no_jobs_no_results() -> None:
    assert run_jobs([], BackendSettings(), strategy="process") == []


@pytest.mark.parametrize(
    ("total", "parts", "sizes"),
    [(10, 3, [4, 3, 3]), (2, 2, [1, 1]), (5, 1, [5]), (300, 2, [150, 150])],
)
def test_split_evenly(total: int, parts: int, sizes: list[int]) -> None:
    assert split_evenly(total, parts) == sizes


def test_limits_are_shared_between_worker_processes() -> None:
    settings = BackendSettings(backend="emulator", tpm_limit=10_000, rpm_limit=9)
    half = share_limits(settings, 2)
    assert (half.tpm_limit, half.rpm_limit) == (5_000, 4)
    assert share_limits(settings, 1) is settings
    assert share_limits(BackendSettings(), 4).tpm_limit is None


# --------------------------------------------------------------------------- the registry


def test_the_registry_names_every_strategy_and_refuses_others() -> None:
    assert NAMES == ("sequential", "thread", "process", "asyncio", "dask", "original")
    for name in NAMES:
        strategy = STRATEGIES.get(name)
        assert strategy.name == name and strategy.summary
    assert STRATEGIES.validate("thread") == "thread"
    with pytest.raises(ConfigError, match="unknown strategy 'fibers'; choose one of sequential"):
        STRATEGIES.validate("fibers")


def test_in_process_and_borrowed_backend_flags() -> None:
    assert [n for n in NAMES if STRATEGIES.get(n).in_process] == [
        "sequential", "thread", "asyncio", "original"
    ]
    assert [n for n in NAMES if STRATEGIES.get(n).reuses_backend] == [
        "sequential", "thread", "asyncio"
    ]


@pytest.mark.slow
def test_original_runs_on_at_most_three_threads(
    jobs: list[ReportJob], expected: dict[str, str], emulator: Emulator
) -> None:
    emulator.reset_stats()
    results = run_jobs(jobs, _settings(emulator), strategy="original")
    assert {r.key: r.content for r in results} == expected
    threads = {(r.worker or "").split("/")[1] for r in results}
    assert threads <= {"original_0", "original_1", "original_2"}
    assert emulator.stats()["max_in_flight"] <= 3
