"""One deadline clock per run: ``deadline_s`` counts from the run's start for every report.

Each strategy runs three reports one at a time (``max_concurrency=1``) against a real emulator
process whose every request hangs. With a clock per call, the reports waiting in line would each
get their own deadline after the one before had spent its own: the run would last three
deadlines. With one clock per run, the whole run ends about one deadline after it started (or,
when starting the workers took longer than the deadline, as soon as the first report starts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from report_lib.emulator import Emulator
from report_lib.execution import run_jobs
from report_lib.execution.base import run_deadline
from report_lib.llm.retry import RetryState, call_deadline
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportJob

DEADLINE_S = 4.0
SLACK_S = 2.5  # classifying, recording; far below the 2 more deadlines of a clock per call
JOBS = [ReportJob(key=f"r{i}", kind="kpi", system="s", prompt=f"report {i}") for i in range(3)]


@pytest.fixture(scope="module")
def hung() -> Iterator[Emulator]:
    """An endpoint that accepts every request and never answers."""
    with Emulator(latency_model="fixed:0.05", hang_rate=1.0) as emu:
        yield emu


def test_the_run_stamps_one_deadline_on_every_job() -> None:
    settings = BackendSettings(deadline_s=7.0)
    stamped = run_deadline(JOBS, settings, 1000.0)
    assert [j.deadline_at for j in stamped] == [1007.0] * 3
    assert [j.key for j in stamped] == [j.key for j in JOBS]
    assert run_deadline(stamped, BackendSettings(deadline_s=1.0), 2000.0) == stamped  # kept
    assert run_deadline(JOBS, BackendSettings(deadline_s=None), 1000.0) == JOBS


def test_a_call_of_a_run_has_only_what_is_left_of_the_run() -> None:
    now = [50.0]
    settings = BackendSettings(deadline_s=10.0)
    wall_deadline = time.time() + 2.0  # the run started 8 s ago
    deadline = call_deadline(settings, wall_deadline, clock=lambda: now[0])
    assert deadline is not None and 51.9 < deadline < 52.1
    state = RetryState(settings, "r1", clock=lambda: now[0], deadline_at=wall_deadline)
    assert state.begin() == pytest.approx(2.0, abs=0.1)
    now[0] += 2.5
    error = state.expired()
    assert "10 s deadline of the run (counted from its start" in str(error)
    assert call_deadline(settings, None, clock=lambda: 50.0) == 60.0  # a lone call: its own
    lone = RetryState(settings, "r1", clock=lambda: now[0])
    assert "10 s deadline (model" in str(lone.expired())
    assert call_deadline(BackendSettings(deadline_s=None), None) is None


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["sequential", "thread", "asyncio", "process", "dask"])
def test_a_hung_endpoint_ends_the_whole_run_at_its_deadline(
    strategy: str, hung: Emulator
) -> None:
    settings = BackendSettings(backend="emulator", endpoint_url=hung.url, deadline_s=DEADLINE_S,
                               max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)
    results = run_jobs(JOBS, settings, strategy=strategy, max_concurrency=1)
    assert [r.error_type for r in results] == ["DeadlineExceeded"] * 3
    spans = [(r.key, round(r.start_s, 2), round(r.end_s, 2)) for r in results]
    for r in results:  # each ends at the run's deadline, or at once when it starts after it
        assert r.end_s < max(DEADLINE_S, r.start_s) + SLACK_S, spans  # (workers' start-up)
    last = max(r.end_s for r in results)
    assert last < max(DEADLINE_S, min(r.start_s for r in results)) + SLACK_S, spans
    assert all("deadline of the run" in (r.error_message or "") for r in results)
    print(f"{strategy}: 3 reports, endpoint hung, deadline {DEADLINE_S:g} s: "
          f"run over at {last:.2f} s")
