"""Ctrl-C and SIGTERM: finished reports kept and written, the rest Interrupted, nothing left.

In-process tests use a backend that signals its own process from inside a call and then hangs;
end-to-end tests run ``report-lib generate`` as a real process against an emulator whose calls
take 3 s, and signal it (or its whole process group) once the first report is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from report_lib.app.signals import exit_status, sigterm_as_interrupt
from report_lib.bench.result_files import load_results
from report_lib.emulator import Emulator
from report_lib.emulator.options import READY_PREFIX
from report_lib.errors import RunInterrupted
from report_lib.execution import run_jobs
from report_lib.execution.loop import LoopThread
from report_lib.llm.backends import BaseBackend
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import (
    aws_isolated_env,
    make_jobs,
    own_group,
    process_family,
    still_running,
    wait_while_running,
)

HANG_S = 30.0  # a hung call; every test ends long before it would


class SignallingBackend(BaseBackend):
    """Answers job0 at once; job1 sends ``signum`` to this process and hangs, as does job2."""

    name = "signalling"

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.release = threading.Event()

    def _answer_or_signal(self, job: ReportJob) -> CallOutcome | None:
        if job.key == "job0":
            return CallOutcome(text="report job0", input_tokens=3, output_tokens=2)
        if job.key == "job1":
            os.kill(os.getpid(), self.signum)
        return None

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        outcome = self._answer_or_signal(job)
        if outcome is None:
            self.release.wait(HANG_S)
            raise RuntimeError("the call was not interrupted")
        return outcome

    async def acall(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        outcome = self._answer_or_signal(job)
        if outcome is None:
            await asyncio.sleep(HANG_S)
            raise RuntimeError("the call was not interrupted")
        return outcome

    def close(self) -> None:
        self.release.set()


@pytest.mark.parametrize("strategy", ["sequential", "thread", "asyncio"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_keeps_finished_results_and_marks_the_rest(
    strategy: str, signum: int
) -> None:
    backend = SignallingBackend(signum)
    seen: list[str] = []
    started = time.monotonic()
    try:
        with sigterm_as_interrupt(), pytest.raises(RunInterrupted) as info:
            run_jobs(make_jobs(3), BackendSettings(), strategy=strategy, max_concurrency=1,
                     backend=backend, on_result=lambda r: seen.append(r.key))
    finally:
        backend.close()
    assert time.monotonic() - started < HANG_S / 2  # it did not wait for the hung call
    exc = info.value
    name = signal.Signals(signum).name
    assert (exc.signum, exit_status(exc)) == (signum, 128 + signum)
    assert str(exc) == f"stopped by {name}: 1 of 3 reports had finished"
    assert exc.results is not None
    assert [(r.key, r.content, r.error_type) for r in exc.results] == [
        ("job0", "report job0", None), ("job1", None, "Interrupted"),
        ("job2", None, "Interrupted"),
    ]
    assert exc.results[1].error_message == (
        f"the run was stopped by {name} before this report finished; run it again"
    )
    assert seen == ["job0", "job1", "job2"]


def test_sigterm_is_left_alone_outside_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


# --------------------------------------------------------------------------- real processes


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    """Every call takes 3 s: with one call at a time, the second is in flight when we signal."""
    with Emulator(latency_model="fixed:3") as emu:
        yield emu


def _generate(args: list[str], tmp_path: Path) -> contextlib.AbstractContextManager[
        subprocess.Popen[str]]:
    cmd = [sys.executable, "-m", "report_lib", "generate", "--no-progress",
           "--out", str(tmp_path / "run.json"), "--markdown-dir", str(tmp_path / "md"), *args]
    return own_group(cmd, env=aws_isolated_env(tmp_path))


def _answered(emu: Emulator) -> Callable[[], bool]:
    return lambda: emu.stats()["answered"] >= 1


def _signal_after_first_answer(args: list[str], tmp_path: Path, emu: Emulator, signum: int,
                               to_group: bool) -> dict[str, Any]:
    """Run ``generate *args``, wait for one answer, send ``signum``; the exit code, seconds to
    exit, output and the process's family."""
    with _generate(args, tmp_path) as proc:
        wait_while_running(proc, _answered(emu), 120, "no report was answered")
        time.sleep(0.5)  # let the client record the answer; the next call has 2.5 s to go
        family = process_family(proc.pid)
        sent = time.monotonic()
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        seconds = time.monotonic() - sent
    return {"code": proc.returncode, "seconds": seconds, "out": out, "err": err,
            "family": family}


CASES = [  # every strategy once; both signals; to the process alone or to its whole group
    ("sequential", signal.SIGTERM, False),
    ("thread", signal.SIGINT, True),
    ("asyncio", signal.SIGTERM, True),
    ("process", signal.SIGTERM, False),
    ("process", signal.SIGINT, True),
    ("dask", signal.SIGINT, False),
    ("original", signal.SIGTERM, True),
]


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "signum", "to_group"), CASES,
                         ids=[f"{s}-{signal.Signals(n).name}-{'group' if g else 'main'}"
                              for s, n, g in CASES])
def test_a_signalled_run_writes_what_finished_and_leaves_no_process(
    strategy: str, signum: int, to_group: bool, slow_emulator: Emulator, tmp_path: Path
) -> None:
    ended = _signal_after_first_answer(["--endpoint-url", slow_emulator.url, "--strategy",
                                        strategy, "--max-concurrency", "1", "--max-attempts",
                                        "1"], tmp_path, slow_emulator, signum, to_group)
    name = signal.Signals(signum).name
    assert ended["code"] == 128 + signum, ended["err"]
    assert ended["err"].strip().splitlines()[-1] == (
        f"report-lib: stopped by {name}: 1 of 3 reports had finished"
    )
    assert "Traceback" not in ended["err"]
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["success"] is False
    assert list(run["reports"]) == ["kpi"]
    assert {k: e["type"] for k, e in run["errors"].items()} == {
        "cpo": "Interrupted", "trend": "Interrupted"
    }
    assert sorted(p.name for p in (tmp_path / "md").iterdir()) == ["kpi.md"]
    assert still_running(ended["family"]) == []
    print(f"{strategy} {name} {'group' if to_group else 'main'}: exit in {ended['seconds']:.2f} s")


@pytest.mark.slow
def test_a_group_ctrl_c_reaches_the_client_before_its_emulator(tmp_path: Path) -> None:
    """The embedded emulator runs in its own session: it is still there to give its counters
    after the client gave up, and it is stopped with the run."""
    with _generate(["--strategy", "thread", "--time-scale", "1"], tmp_path) as proc:
        wait_while_running(proc, lambda: any("report_lib.emulator" in " ".join(c.cmdline())
                                             for c in psutil.Process(proc.pid).children()),
                           120, "the embedded emulator did not start")
        time.sleep(2.0)
        family = process_family(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    stats = run["emulator"]["stats"]
    assert stats is not None and stats["requests"] >= 1  # asked after the interrupt
    assert len(run["reports"]) + len(run["errors"]) == 3
    assert {e["type"] for e in run["errors"].values()} <= {"Interrupted"}
    assert still_running(family) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_emulator_exits_128_plus_the_signal(signum: int, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "report_lib", "emulator", "--port", "0"],
                            env=aws_isolated_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(READY_PREFIX)
        proc.send_signal(signum)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_ctrl_c_with_one_answered_and_two_hanging_keeps_the_answer(
    strategy: str, tmp_path: Path
) -> None:
    """Three calls at once against an endpoint that never answers the first two."""
    with Emulator(latency_model="fixed:0.2", hang_first=2) as emu:
        ended = _signal_after_first_answer(["--endpoint-url", emu.url, "--strategy", strategy,
                                            "--max-attempts", "1"], tmp_path, emu, signal.SIGINT,
                                           to_group=True)
    assert ended["code"] == 130, ended["err"]
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert len(run["reports"]) == 1
    assert [e["type"] for e in run["errors"].values()] == ["Interrupted", "Interrupted"]
    assert still_running(ended["family"]) == []
    print(f"{strategy}: 1 answered, 2 hanging, Ctrl-C: exit 130 in {ended['seconds']:.2f} s")


@pytest.mark.slow
@pytest.mark.parametrize("gap_s", [0.2, 1.0])
def test_a_second_ctrl_c_to_a_dask_run_is_as_quiet(
    gap_s: float, slow_emulator: Emulator, tmp_path: Path
) -> None:
    """Ctrl-C twice to the whole group (a terminal's), the second while the first is handled:
    one line, exit 130, no traceback from the client, its workers or their replacements."""
    with _generate(["--endpoint-url", slow_emulator.url, "--strategy", "dask",
                    "--max-concurrency", "1", "--max-attempts", "1"], tmp_path) as proc:
        wait_while_running(proc, _answered(slow_emulator), 120, "no report was answered")
        time.sleep(0.5)
        family = process_family(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(gap_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == [
        "report-lib: stopped by SIGINT: 1 of 3 reports had finished"
    ]
    assert still_running(family) == []


# --------------------------------------------------------------------------- the event loop


def test_an_interrupt_while_waiting_on_a_loop_thread_cancels_the_task_and_lets_it_unwind(
) -> None:
    unwound = threading.Event()
    started = threading.Event()

    async def hangs() -> None:
        started.set()
        try:
            await asyncio.sleep(HANG_S)
        finally:
            unwound.set()

    with LoopThread() as loop:
        def interrupt_once_started() -> None:
            started.wait(10)
            signal.raise_signal(signal.SIGTERM)

        with sigterm_as_interrupt(), pytest.raises(RunInterrupted):
            threading.Thread(target=interrupt_once_started, daemon=True).start()
            loop.run(hangs())
        assert unwound.is_set()  # before run() re-raised: the task's finally had run


def test_closing_a_loop_thread_cancels_what_is_still_pending(
        caplog: pytest.LogCaptureFixture) -> None:
    cancelled: list[str] = []

    async def pending(name: str) -> None:
        try:
            await asyncio.sleep(HANG_S)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    loop = LoopThread()
    loop.submit(pending("a"))
    loop.submit(pending("b"))
    time.sleep(0.1)
    loop.close()
    assert loop.loop.is_closed()
    assert sorted(cancelled) == ["a", "b"]
    gc.collect()  # a task left pending would be reported when collected
    assert "destroyed but it is pending" not in caplog.text


@pytest.mark.slow
def test_a_benchmark_terminated_in_an_asyncio_run_keeps_the_finished_rows_in_one_line(
        tmp_path: Path) -> None:
    """Two cells measured side by side (thread, then asyncio); SIGTERM once the first row is
    written, while the asyncio cell's 40 requests are under way."""
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "report_lib", "bench", "--scenario", "quota", "--n", "40",
           "--variants", "known/sliding/bedrock", "--strategies", "thread,asyncio",
           "--no-progress", "--out", str(out)]
    with own_group(cmd, env=aws_isolated_env(tmp_path)) as proc:
        wait_while_running(proc, (out / "results.csv").exists, 300, "no row was written")
        time.sleep(1.5)  # the asyncio cell's run is under way (it takes about 9 s)
        family = process_family(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [
        "report-lib: terminated (SIGTERM); the 1 measured run that had ended is in "
        f"{out / 'results.csv'}"]
    rows, _, meta = load_results(out)
    assert list(rows["strategy"]) == ["thread"]
    assert (meta["complete"], meta["finished"]) == (False, None)
    assert still_running(family) == []
