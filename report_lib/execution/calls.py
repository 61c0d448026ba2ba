"""One job through one backend: a ReportResult whatever happens (the contract of every strategy).

``run_one`` (sync) and ``arun_one`` (async) never raise for a job's own failure: any exception of
the call becomes a failed result with ``error_type``/``error_message``/``attempts``. Interrupts
(KeyboardInterrupt, asyncio cancellation) are not failures of the job and propagate.

Both drive one body, ``answer_steps``: a generator that yields each request to send (the job,
then any repair turn) and is sent back the backend's answer or its exception, without I/O of its
own; ``run_one`` sends with ``backend.call``, ``arun_one`` with ``await backend.acall``.

A job with a repair policy is reviewed and, when the review finds fault, repaired here, through
the same backend (execution.repair). ``on_draft(result)`` receives the report as it stands
before each repair turn (and after each one), so an interrupted run keeps what had finished.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING

from report_lib.errors import BackendError
from report_lib.execution.repair import INTERRUPTED, Repair
from report_lib.llm.pricing import cost_usd
from report_lib.records import CallOutcome, ReportJob, ReportResult

if TYPE_CHECKING:
    from report_lib.llm.backends import Backend
    from report_lib.llm.settings import BackendSettings

KeyedTextCallback = Callable[[str, str], None]
DraftCallback = Callable[[ReportResult], None]
Clock = Callable[[], float]


def worker_name() -> str:
    """``PID/thread name``: where a job ran (the ``worker`` of its result)."""
    return f"{os.getpid()}/{threading.current_thread().name}"


def _text_callback(
    on_text: KeyedTextCallback | None, job: ReportJob
) -> Callable[[str], None] | None:
    return None if on_text is None else partial(on_text, job.key)


def _cost(settings: BackendSettings, outcome: CallOutcome) -> float | None:
    if outcome.cached or settings.backend == "offline":
        return 0.0  # a cache hit is not billed; the offline writer costs nothing
    return cost_usd(
        settings.model_id, outcome.input_tokens, outcome.output_tokens, settings.prices or None
    )


def make_result(
    job: ReportJob,
    settings: BackendSettings,
    start: float,
    end: float,
    outcome: CallOutcome | None = None,
    error: BaseException | None = None,
    worker: str | None = None,
) -> ReportResult:
    """The result of ``job``: from the backend's ``outcome``, or failed with ``error``."""
    result = ReportResult(
        key=job.key,
        kind=job.kind,
        seconds=end - start,
        start_s=start,
        end_s=end,
        worker=worker or worker_name(),
    )
    if outcome is not None:
        result.content = outcome.text
        result.input_tokens = outcome.input_tokens
        result.output_tokens = outcome.output_tokens
        result.attempts = outcome.attempts
        result.cached = outcome.cached
        result.ttft_s = outcome.ttft_s
        result.cost_usd = _cost(settings, outcome)
    elif error is not None:
        result.error_type = (
            error.error_type if isinstance(error, BackendError) else type(error).__name__
        )
        message = str(error) or repr(error)
        prefix = f"{result.error_type}: "  # the type is error_type: not twice in the message
        result.error_message = message[len(prefix):] if message.startswith(prefix) else message
        result.attempts = error.attempts if isinstance(error, BackendError) else 1
    return result


def _draft(repair: Repair, end: float, on_draft: DraftCallback | None) -> None:
    """Hand the report as it stands to ``on_draft`` (kept if the run is interrupted now)."""
    if on_draft is not None:
        on_draft(repair.result(end, stopped=INTERRUPTED))


# what the steps yield: a request and where its streamed text goes; what they are sent: the
# backend's answer, or the exception its call raised
Request = tuple[ReportJob, Callable[[str], None] | None]
Steps = Generator[Request, CallOutcome | Exception, ReportResult]


def answer_steps(
    job: ReportJob,
    settings: BackendSettings,
    t0: float,
    *,
    clock: Clock = time.perf_counter,
    on_text: KeyedTextCallback | None = None,
    on_draft: DraftCallback | None = None,
    worker: str | None = None,
) -> Steps:
    """One job's attempt, then its repair turns (see the module doc); returns the result."""
    start = clock() - t0
    answer = yield job, _text_callback(on_text, job)
    if isinstance(answer, Exception):
        return make_result(job, settings, start, clock() - t0, error=answer, worker=worker)
    result = make_result(job, settings, start, clock() - t0, outcome=answer, worker=worker)
    if job.repair is None:
        return result
    return (yield from repair_steps(job, settings, result, t0, clock=clock, on_draft=on_draft))


def repair_steps(
    job: ReportJob,
    settings: BackendSettings,
    first: ReportResult,
    t0: float,
    *,
    clock: Clock = time.perf_counter,
    on_draft: DraftCallback | None = None,
) -> Steps:
    """Review ``first`` (the answer to ``job``) and ask for repairs while the policy, the review
    and the deadline allow; returns the report to deliver. Repairs are not streamed: the page
    shows the result."""
    repair = Repair(job, settings, first)
    while (request := repair.next_job(clock() - t0 - first.start_s)) is not None:
        _draft(repair, clock() - t0, on_draft)
        began = clock()
        answer = yield request, None
        if isinstance(answer, Exception):
            repair.failed(answer, clock() - began)
            break
        repair.answered(answer, clock() - began, _cost(settings, answer))
    return repair.result(clock() - t0)


def drive(steps: Steps, backend: Backend) -> ReportResult:
    """Send every request of ``steps`` with ``backend.call``; the result they return."""
    try:
        request, on_text = next(steps)
        while True:
            try:
                answer: CallOutcome | Exception = backend.call(request, on_text=on_text)
            except Exception as exc:
                answer = exc
            request, on_text = steps.send(answer)
    except StopIteration as done:
        result: ReportResult = done.value
        return result


async def adrive(steps: Steps, backend: Backend) -> ReportResult:
    """``drive`` with ``await backend.acall``."""
    try:
        request, on_text = next(steps)
        while True:
            try:
                answer: CallOutcome | Exception = await backend.acall(request, on_text=on_text)
            except Exception as exc:
                answer = exc
            request, on_text = steps.send(answer)
    except StopIteration as done:
        result: ReportResult = done.value
        return result


def run_one(
    backend: Backend,
    job: ReportJob,
    settings: BackendSettings,
    t0: float,
    *,
    clock: Clock = time.perf_counter,
    on_text: KeyedTextCallback | None = None,
    on_draft: DraftCallback | None = None,
) -> ReportResult:
    """Answer one job (and repair it, see the module doc); any exception becomes a failed
    ReportResult (offsets from ``t0``)."""
    return drive(answer_steps(job, settings, t0, clock=clock, on_text=on_text,
                              on_draft=on_draft), backend)


def repair_one(
    backend: Backend,
    job: ReportJob,
    settings: BackendSettings,
    first: ReportResult,
    t0: float,
    *,
    clock: Clock = time.perf_counter,
    on_draft: DraftCallback | None = None,
) -> ReportResult:
    """Review ``first`` (the answer to ``job``) and repair it while the policy, the review and
    the deadline allow; the report to deliver."""
    return drive(repair_steps(job, settings, first, t0, clock=clock, on_draft=on_draft), backend)


async def arun_one(
    backend: Backend,
    job: ReportJob,
    settings: BackendSettings,
    t0: float,
    *,
    on_text: KeyedTextCallback | None = None,
    on_draft: DraftCallback | None = None,
) -> ReportResult:
    """Async twin of run_one (``backend.acall``, ``time.perf_counter`` offsets)."""
    task = asyncio.current_task()
    worker = f"{os.getpid()}/{task.get_name() if task else 'task'}"
    return await adrive(answer_steps(job, settings, t0, on_text=on_text, on_draft=on_draft,
                                     worker=worker), backend)
