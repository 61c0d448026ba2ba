"""Synchronous Bedrock Runtime client (boto3): one session, a sized pool, Converse(Stream).

``make_client`` builds one ``bedrock-runtime`` client per process from one boto3 Session
(clients are thread-safe, sessions are not), with the connection pool sized to the concurrency
and botocore's own retries off (report_lib.llm.retry retries, counts attempts and keeps the
deadline). Requests, parsing and credentials come from report_lib.llm.wire and
report_lib.llm.credentials, shared with the async client.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from report_lib.llm.credentials import credential_errors, fixed_keys, require_credentials
from report_lib.llm.direct import DirectConverse, with_direct_converse
from report_lib.llm.retry import THROTTLING_CODES, call_deadline, call_with_retries, classify
from report_lib.llm.wire import (
    CONVERSE_EVENT,
    SERVICE,
    CallPlan,
    StreamCollector,
    TextCallback,
    call_settings,
    check_converse_body,
    check_stream_type,
    client_config_kwargs,
    parse_converse_response,
    require_text,
)
from report_lib.records import CallOutcome, ReportJob

if TYPE_CHECKING:
    from report_lib.llm.limiter import RateLimiter, Reservation
    from report_lib.llm.settings import BackendSettings


def make_session(settings: BackendSettings) -> boto3.Session:
    """One boto3 Session with checked credentials (dummy keys for the emulator)."""
    keys = fixed_keys(settings)
    if keys is not None:
        return boto3.Session(region_name=settings.region, **keys)
    with credential_errors(settings):
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
        require_credentials(session.get_credentials())
    return session


def make_client(settings: BackendSettings, max_concurrency: int = 10,
                session: boto3.Session | None = None) -> Any:
    """A ``bedrock-runtime`` client with the pool sized to ``max_concurrency`` (at least 10),
    from ``session`` (one made by make_session) or a new session; its ``converse`` takes the
    direct transport (report_lib.llm.direct) unless ``settings.transport`` is ``botocore``."""
    client = (session or make_session(settings)).client(
        SERVICE,
        endpoint_url=settings.endpoint_url or None,
        config=Config(**client_config_kwargs(settings, max_concurrency)),
    )
    client.meta.events.register(CONVERSE_EVENT, check_converse_body(settings))
    client.meta.events.register(f"before-call.{SERVICE}", _reads_within_deadline(settings))
    return with_direct_converse(client, settings, DirectConverse)


_CALL = threading.local()  # ``left``: the seconds this thread's call has before its deadline


def _reads_within_deadline(settings: BackendSettings) -> Any:
    """A ``before-call`` handler: the attempt's read timeout cut to what is left of its call's
    deadline (botocore's per-request ``read_timeout``), so an attempt started late in a run
    cannot outlive the run's deadline by a whole read timeout."""
    read_timeout = client_config_kwargs(settings)["read_timeout"]

    def handler(context: dict[str, Any], **_: Any) -> None:
        left = getattr(_CALL, "left", None)
        if left is not None:
            context["read_timeout"] = max(0.05, min(read_timeout, left))

    return handler


def _stream_once(
    client: Any, request: dict[str, Any], on_text: TextCallback | None, deadline: float | None,
    settings: BackendSettings | None = None, reservation: Reservation | None = None,
) -> CallOutcome:
    collector = StreamCollector(on_text, settings=settings)
    response = client.converse_stream(**request)
    stream = response["stream"]
    try:
        check_stream_type(response)
    except Exception:
        stream.close()
        raise
    try:
        for event in stream:
            if reservation is not None:  # a first event, not a throttlingException frame:
                reservation.admitted()  # the service admitted the request
                reservation = None
            collector.feed(event)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the deadline passed while the answer was streaming")
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return collector.outcome()


def converse(
    client: Any,
    job: ReportJob,
    settings: BackendSettings,
    on_text: TextCallback | None = None,
    limiter: RateLimiter | None = None,
) -> CallOutcome:
    """Answer ``job`` with Converse, or ConverseStream when ``settings.stream`` is set.

    Retries throttling/5xx/timeouts/resets/cut-short bodies within ``settings.max_attempts``
    and ``settings.deadline_s``; raises errors.BackendError (ThrottledError, CallTimeoutError,
    DeadlineExceeded, MalformedResponseError) with the error code and the attempts made. A
    stream that fails midway is retried from the start, so ``on_text`` may then see the
    beginning of the text again; the returned text is always one whole answer.
    """
    settings = call_settings(job, settings)
    plan = CallPlan(job, settings, limiter is not None)
    deadline = call_deadline(settings, job.deadline_at)  # the run's, when the job carries it

    def attempt(number: int) -> CallOutcome:
        reservation = None
        if limiter is not None:  # a wait past the deadline ends the call as DeadlineExceeded
            left = None if deadline is None else deadline - time.monotonic()
            reservation = limiter.acquire(plan.estimate, left, plan.input_estimate)
        _CALL.left = None if deadline is None else deadline - time.monotonic()
        try:
            if settings.stream or (reservation is not None and reservation.stream):
                outcome = _stream_once(client, plan.request, on_text, deadline, settings,
                                       reservation)
            else:
                outcome = parse_converse_response(client.converse(**plan.request))
        except Exception as exc:
            if reservation is not None:  # an adaptive limiter learns the quota from 429s
                info = classify(exc)
                reservation.fail(info.error_type in THROTTLING_CODES, info.message)
            raise
        finally:
            _CALL.left = None
        return plan.settle(outcome, number, reservation)

    outcome = call_with_retries(attempt, settings, label=job.label, deadline_at=job.deadline_at)
    return require_text(outcome, settings)
