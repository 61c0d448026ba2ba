"""From data to the three reports: facts → prompts → jobs → a strategy → the result contract."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from report_lib import config
from report_lib.app.outputs import write_outputs, write_outputs_or_rescue
from report_lib.data.loader import load_data
from report_lib.errors import RunInterrupted
from report_lib.execution import STRATEGIES, run_jobs
from report_lib.execution.loop import LoopThread
from report_lib.llm.async_client import load_aiobotocore
from report_lib.llm.backends import BACKENDS, Backend, Endpoint, open_sync_client
from report_lib.llm.quota import burndown_rate, quota_usage
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportResult, RunResult
from report_lib.reports.build import build_jobs
from report_lib.reports.factcheck import ResultChecker, parse_repair, repair_policy

if TYPE_CHECKING:  # the argument's type only: the emulator is reached through BACKENDS
    from report_lib.emulator.options import EmulatorConfig

# write_outputs, write_outputs_or_rescue: from app.outputs
__all__ = ["backend_endpoint", "generate_reports", "write_outputs", "write_outputs_or_rescue"]


@contextmanager
def backend_endpoint(
    settings: BackendSettings, *, emulator: EmulatorConfig | None = None
) -> Iterator[Endpoint]:
    """The run's endpoint (settings checked first, ``Endpoint.settings`` ready to use): for
    ``emulator`` without an ``endpoint_url``, the backend starts one for the run."""
    with BACKENDS.serve(settings, emulator if settings.backend == "emulator" else None) as ready:
        yield ready


@dataclass
class Ahead:
    """What ``client_ahead`` prepares: the shared backend (None when the strategy's workers
    build their own) and, for the asyncio strategy, the loop its async client was opened on."""

    backend: Future[Backend | None]
    loop: asyncio.AbstractEventLoop | None = None


def _build(settings: BackendSettings, pool: int, loop: LoopThread | None) -> Backend:
    backend = BACKENDS.create(settings, pool)
    if loop is None:
        open_sync_client(backend)  # the client the threads share
    else:
        loop.submit(backend.aopen()).result()  # the client belongs to that loop: open it there
    return backend


@contextmanager
def client_ahead(settings: BackendSettings, strategy: str, max_concurrency: int | None,
                 n_jobs: int) -> Iterator[Ahead]:
    """Build the client a strategy shares (sequential/thread/asyncio) on a helper thread while
    the caller computes the facts, so a cold run does not wait for it; closed at the end.
    For asyncio, the async client is opened on an event loop of its own thread, where the run
    then goes (``Ahead.loop``)."""
    chosen = STRATEGIES.get(strategy)
    if chosen.uses_async_client:
        # an import, as boto3's is when this module loads (aiobotocore's is deferred so that
        # sync runs and process workers never pay it): the helper then only builds the client
        load_aiobotocore()
    loop = LoopThread() if chosen.uses_async_client else None
    helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="client-ahead")
    future: Future[Backend | None] = Future()
    try:
        if chosen.reuses_backend:
            wanted = max_concurrency or chosen.default_concurrency(n_jobs)
            pool = chosen.pool_size(max(1, min(wanted, n_jobs)))
            future = helper.submit(_build, settings, pool, loop)
        else:
            future.set_result(None)
        yield Ahead(future, loop.loop if loop is not None else None)
    finally:
        helper.shutdown(wait=True)  # a build still under way ends, so that it can be closed
        if future.done() and future.exception() is None and (built := future.result()):
            built.close()  # before the loop stops: its async client closes on it
        if loop is not None:
            loop.close()


def generate_reports(
    data: str | Path | pd.DataFrame,
    *,
    month: str = "latest",
    focus_cpo: str | None = config.DEFAULT_FOCUS_CPO,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    language: str = config.DEFAULT_LANGUAGE,
    kinds: Sequence[str] = config.REPORT_KINDS,
    backend: str = config.DEFAULT_BACKEND,
    strategy: str = "thread",
    max_concurrency: int | None = None,
    settings: BackendSettings | None = None,
    emulator: EmulatorConfig | None = None,
    on_result: Callable[[ReportResult], None] | None = None,
    on_text: Callable[[str, str], None] | None = None,
    progress: bool = False,
    repair: int | str | None = None,
) -> RunResult:
    """Compute the facts, ask the backend for every report in parallel, return the run.

    ``strategy`` is a name in ``report_lib.execution.STRATEGIES``; a kind named twice in
    ``kinds`` runs once. A failed report is listed
    under ``errors`` of ``RunResult.to_dict()``; the others are kept. On Ctrl-C (or SIGTERM
    raised as one) errors.RunInterrupted is raised with ``.run``: the RunResult of the reports
    that had finished, the others listed as ``Interrupted``.

    ``repair`` (``"off"``, ``"once"``, or a number of rounds; default once, off for the offline
    writer): a report whose fact check flags figures is asked for again in the same conversation
    with those figures listed, inside the run (execution.repair); the version with fewer
    unsupported figures is delivered, ``fact_check[key]["repair"]`` tells what it took.

    ``emulator`` (``backend="emulator"`` only): the options of the emulator started for the run
    (``report_lib.emulator.EmulatorConfig``: time_scale, latency_model, tpm, faults, ...);
    None: its defaults. It is ignored when ``settings.endpoint_url`` names a running one.
    """
    STRATEGIES.validate(strategy)
    kinds = tuple(dict.fromkeys(kinds))  # a kind named twice is asked (and paid) once
    rounds = (0 if backend == "offline" else 1) if repair is None else parse_repair(repair,
                                                                                      "repair")
    policy = repair_policy(rounds)
    base = replace(settings or BackendSettings(), backend=backend)
    extra: dict[str, Any] = {"window_months": window}
    with (
        backend_endpoint(base, emulator=emulator) as endpoint,
        client_ahead(endpoint.settings, strategy, max_concurrency, len(kinds)) as ahead,
    ):
        ready = endpoint.settings
        # the data and the facts; the strategy's client is being built meanwhile
        df = data if isinstance(data, pd.DataFrame) else load_data(data)
        jobs = build_jobs(
            df, month=month, focus_cpo=focus_cpo, window=window, language=language, kinds=kinds
        )
        if policy is not None:  # reviewed (and repaired) where each report is answered
            jobs = [replace(job, repair=policy) for job in jobs]
        # the clock starts where the facts end, as it always has: a client still being built
        # is waited for inside the timed run
        started = time.perf_counter()
        client = ahead.backend.result()
        checker = ResultChecker(jobs)  # every delivered report gets its fact_check

        def finish(results: list[ReportResult]) -> RunResult:
            total = time.perf_counter() - started
            results = checker.check_all(results)
            extra.update(endpoint.describe())  # the emulator's time scale and counters
            if backend != "offline":
                calls = [(r.input_tokens, r.output_tokens) for r in results
                         if r.ok and not r.cached]
                extra["quota"] = quota_usage(
                    calls, max_tokens=ready.max_tokens,
                    burndown=burndown_rate(ready.model_id, ready.burndown))
            return RunResult(
                results=results, total_time=total, strategy=strategy,
                backend=backend, model_id=None if backend == "offline" else ready.model_id,
                target_month=jobs[0].target_month if jobs else None,
                focus_cpo=jobs[0].focus_cpo if jobs else None, language=language, extra=extra,
            )

        try:
            results = run_jobs(jobs, ready, strategy=strategy, max_concurrency=max_concurrency,
                               progress=progress, on_result=checker.wrap(on_result),
                               on_text=on_text, backend=client, loop=ahead.loop)
        except RunInterrupted as exc:
            exc.run = finish(exc.results or [])
            raise
        return finish(results)

