"""The client a run shares is built while the data is read and the facts computed.

A cold ``generate`` (every papermill run is one) must not wait for its client: the sync client
is built on a helper thread, the asyncio client is opened on an event loop of its own thread,
and the run then goes to that loop. Timing belongs to benchmarks/; these tests check what was
built, where, and that everything is closed.
"""

from __future__ import annotations

import asyncio
import threading

import pandas as pd
import pytest

import report_lib.llm.backends as backends_module
from report_lib.app.generate import client_ahead, generate_reports
from report_lib.emulator import Emulator, EmulatorConfig
from report_lib.execution import run_jobs
from report_lib.execution.loop import LoopThread
from report_lib.llm.backends import BaseBackend, BedrockBackend
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import make_jobs


class LoopRecorder(BaseBackend):
    """A backend that notes the event loop and thread of each async call."""

    name = "recorder"

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.threads: list[str] = []

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        raise AssertionError("the asyncio strategy made a sync call")

    async def acall(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        self.loops.append(asyncio.get_running_loop())
        self.threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return CallOutcome(text=f"report {job.key}", input_tokens=3, output_tokens=2)

    def close(self) -> None:
        pass


def _count_clients(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the sync boto3 clients the backends build from now on."""
    built: list[int] = []
    real = backends_module.make_client

    def counting(*args: object, **kwargs: object) -> object:
        built.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(backends_module, "make_client", counting)
    return built


def test_loop_thread_runs_coroutines_and_stops() -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    with LoopThread(name="probe-loop") as lt:
        assert lt.alive
        assert lt.submit(where()).result(timeout=5) == "probe-loop"
    assert not lt.alive and lt.loop.is_closed()
    lt.close()  # twice is harmless


def test_cancelling_a_submitted_coroutine_cancels_its_task() -> None:
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    with LoopThread() as lt:
        future = lt.submit(forever())
        assert started.wait(5)
        future.cancel()
        assert lt.submit(asyncio.sleep(0, result="still serving")).result(5) == "still serving"
    assert future.cancelled()


def test_asyncio_run_goes_to_the_loop_it_is_given_and_leaves_it_running() -> None:
    backend = LoopRecorder()
    with LoopThread(name="given-loop") as lt:
        results = run_jobs(make_jobs(4), BackendSettings(), strategy="asyncio", backend=backend,
                           loop=lt.loop)
        assert lt.alive  # the caller's loop is the caller's to stop
    assert [r.content for r in results] == [f"report job{i}" for i in range(4)]
    assert set(backend.loops) == {lt.loop} and set(backend.threads) == {"given-loop"}


@pytest.mark.slow
@pytest.mark.usefixtures("no_credentials")
@pytest.mark.parametrize(("strategy", "sync_built", "async_open"),
                         [("thread", True, False), ("asyncio", False, True)])
def test_the_shared_client_is_ready_before_the_run(strategy: str, sync_built: bool,
                                                   async_open: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    built = _count_clients(monkeypatch)
    with Emulator(latency_model="fixed:0.05") as emu:
        settings = BackendSettings(backend="emulator", endpoint_url=emu.url)
        with client_ahead(settings, strategy, None, 3) as ahead:
            backend = ahead.backend.result(timeout=60)
            assert isinstance(backend, BedrockBackend)
            assert (ahead.loop is not None) is async_open
            assert bool(built) is sync_built
            if ahead.loop is not None:  # opened on that loop, before any call
                async def opened() -> bool:
                    return backend.async_client().client is not None

                fut = asyncio.run_coroutine_threadsafe(opened(), ahead.loop)
                assert fut.result(timeout=10)
        if ahead.loop is not None:
            assert ahead.loop.is_closed()  # client and loop closed with the block


@pytest.mark.slow
@pytest.mark.usefixtures("no_credentials")
def test_an_asyncio_run_never_builds_the_sync_client(sample_frame: pd.DataFrame,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    built = _count_clients(monkeypatch)
    run = generate_reports(sample_frame, backend="emulator", strategy="asyncio",
                           emulator=EmulatorConfig(latency_model="fixed:0.05"))
    assert run.success and len(run.results) == 3
    assert built == []
    run = generate_reports(sample_frame, backend="emulator", strategy="thread",
                           emulator=EmulatorConfig(latency_model="fixed:0.05"))
    assert run.success and built == [1]  # one client, shared by the three threads
