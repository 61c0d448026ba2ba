"""Tests of error classification, full-jitter backoff and the retry loops."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    EventStreamError,
    ReadTimeoutError,
)

from report_lib.errors import (
    BackendError,
    CallTimeoutError,
    DeadlineExceeded,
    MalformedResponseError,
    ReportLabError,
    ThrottledError,
)
from report_lib.llm.progress import Outstanding
from report_lib.llm.retry import (
    RetryState,
    acall_with_retries,
    backoff_delay,
    call_with_retries,
    classify,
)
from report_lib.llm.settings import BackendSettings


def client_error(code: str | None, status: int, message: str = "msg") -> ClientError:
    error: dict[str, Any] = {"Message": message}
    if code is not None:
        error["Code"] = code
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse")


@pytest.mark.parametrize(
    ("exc", "error_type", "retryable"),
    [
        (client_error("ThrottlingException", 429), "ThrottlingException", True),
        (client_error(None, 429), "ThrottlingException", True),
        (client_error("ServiceUnavailableException", 503), "ServiceUnavailableException", True),
        (client_error("InternalServerException", 500), "InternalServerException", True),
        (client_error("ModelNotReadyException", 429), "ModelNotReadyException", True),
        (client_error(None, 502), "HTTP502", True),
        (client_error("ValidationException", 400), "ValidationException", False),
        (client_error("AccessDeniedException", 403), "AccessDeniedException", False),
        (client_error("ResourceNotFoundException", 404), "ResourceNotFoundException", False),
        (client_error("UnrecognizedClientException", 403), "UnrecognizedClientException", False),
        (ReadTimeoutError(endpoint_url="http://x"), "ReadTimeout", True),
        (ConnectTimeoutError(endpoint_url="http://x"), "ConnectTimeout", True),
        (EndpointConnectionError(endpoint_url="http://x"), "EndpointConnectionError", True),
        (TimeoutError(), "ReadTimeout", True),
        (ValueError("bug"), "ValueError", False),
    ],
)
def test_classify(exc: BaseException, error_type: str, retryable: bool) -> None:
    info = classify(exc)
    assert (info.error_type, info.retryable) == (error_type, retryable)


def test_event_stream_error_codes_are_normalized() -> None:
    # ConverseStream reports errors as camelCase union members
    exc = EventStreamError(
        {"Error": {"Code": "throttlingException", "Message": "slow down"}}, "ConverseStream"
    )
    info = classify(exc)
    assert (info.error_type, info.retryable, info.message) == ("ThrottlingException", True,
                                                               "slow down")


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 12])
def test_backoff_is_full_jitter_below_the_capped_exponential(attempt: int) -> None:
    rng = random.Random(attempt)
    base, cap = 0.5, 4.0
    ceiling = min(cap, base * 2 ** (attempt - 1))  # 0.5, 1, 2, 4, 4
    delays = [backoff_delay(attempt, base, cap, rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.9 * ceiling  # spread over the whole range, not a fixed delay
    assert min(delays) < 0.1 * ceiling


def _settings(**kw: Any) -> BackendSettings:
    base = {"backoff_base_s": 1.0, "backoff_max_s": 8.0, "max_attempts": 4}
    return BackendSettings(**{**base, **kw})


def test_retry_loop_sleeps_between_attempts_only() -> None:
    sleeps: list[float] = []
    failures = [client_error("ThrottlingException", 429)] * 2

    def attempt(n: int) -> int:
        if failures:
            raise failures.pop()
        return n

    result = call_with_retries(attempt, _settings(), sleep=sleeps.append, rng=random.Random(0))
    assert result == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_budget_exhausted_raises_throttled_with_attempts() -> None:
    calls: list[int] = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise client_error("ThrottlingException", 429, "Too many tokens")

    with pytest.raises(ThrottledError) as info:
        call_with_retries(attempt, _settings(max_attempts=5), sleep=lambda s: None)
    assert calls == [1, 2, 3, 4, 5]
    assert info.value.attempts == 5
    assert info.value.error_type == "ThrottlingException"
    assert "Too many tokens" in str(info.value)


def test_timeouts_end_as_call_timeout_error() -> None:
    def attempt(n: int) -> None:
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    with pytest.raises(CallTimeoutError) as info:
        call_with_retries(attempt, _settings(max_attempts=2), sleep=lambda s: None)
    assert isinstance(info.value, TimeoutError)
    assert (info.value.error_type, info.value.attempts) == ("ReadTimeout", 2)


def test_fatal_error_is_not_retried() -> None:
    calls: list[int] = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise client_error("AccessDeniedException", 403, "You don't have access to the model")

    with pytest.raises(BackendError) as info:
        call_with_retries(attempt, _settings(), sleep=lambda s: None)
    assert calls == [1]
    assert not isinstance(info.value, ThrottledError)
    assert "You don't have access to the model" in str(info.value)
    assert "Bedrock console" in str(info.value)


def test_async_retry_loop_counts_attempts() -> None:
    failures = [client_error("InternalServerException", 500)] * 3

    async def attempt(n: int) -> int:
        if failures:
            raise failures.pop()
        return n

    settings = _settings(backoff_base_s=0.001, backoff_max_s=0.002, max_attempts=4)
    assert asyncio.run(acall_with_retries(attempt, settings)) == 4


# -- deadlines --------------------------------------------------------------------------------
class FakeTime:
    """A clock that only moves when an attempt or a wait says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_deadline_ends_a_call_that_keeps_timing_out() -> None:
    fake = FakeTime()

    def attempt(n: int) -> None:
        fake.now += 4.0  # every attempt waits 4 s for nothing
        raise ReadTimeoutError(endpoint_url="http://hung")

    settings = _settings(deadline_s=10.0, backoff_base_s=0.001, backoff_max_s=0.001,
                         max_attempts=8)
    with pytest.raises(DeadlineExceeded) as info:
        call_with_retries(attempt, settings, label="kpi", sleep=fake.sleep, clock=fake.clock)
    error = info.value
    assert isinstance(error, TimeoutError) and isinstance(error, ReportLabError)
    assert (error.error_type, error.attempts) == ("DeadlineExceeded", 3)  # at 0, 4 and 8 s
    assert "kpi: no answer within the 10 s deadline" in str(error)
    assert "last error ReadTimeout" in str(error)
    assert len(fake.sleeps) == 2


def test_a_wait_past_the_deadline_is_not_waited() -> None:
    fake = FakeTime()

    def attempt(n: int) -> None:
        fake.now += 1.0
        raise client_error("ThrottlingException", 429)

    rng = random.Random(3)
    settings = _settings(deadline_s=5.0, backoff_base_s=1000.0, backoff_max_s=1000.0)
    first_delay = backoff_delay(1, 1000.0, 1000.0, random.Random(3))
    assert first_delay > 4.0  # the seeded draw is longer than the 4 s left
    with pytest.raises(DeadlineExceeded) as info:
        call_with_retries(attempt, settings, sleep=fake.sleep, rng=rng, clock=fake.clock)
    assert info.value.attempts == 1
    assert fake.sleeps == []


def test_non_retryable_error_after_the_deadline_keeps_its_type() -> None:
    fake = FakeTime()

    def attempt(n: int) -> None:
        fake.now += 20.0
        raise client_error("ValidationException", 400, "bad model id")

    with pytest.raises(BackendError) as info:
        call_with_retries(attempt, _settings(deadline_s=5.0), sleep=fake.sleep, clock=fake.clock)
    assert info.value.error_type == "ValidationException"


def test_async_deadline_cancels_a_hanging_attempt() -> None:
    async def attempt(n: int) -> None:
        await asyncio.Event().wait()  # an endpoint that never answers

    settings = _settings(deadline_s=0.2, max_attempts=8)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        asyncio.run(acall_with_retries(attempt, settings, label="cpo"))
    assert time.monotonic() - started < 5.0  # generous: the machine is shared
    assert info.value.attempts == 1
    assert "cpo: no answer within the 0.2 s deadline" in str(info.value)


def test_no_deadline_means_the_attempt_budget_alone() -> None:
    fake = FakeTime()

    def attempt(n: int) -> None:
        fake.now += 1000.0
        raise ReadTimeoutError(endpoint_url="http://slow")

    settings = _settings(deadline_s=None, max_attempts=3)
    with pytest.raises(CallTimeoutError) as info:
        call_with_retries(attempt, settings, sleep=fake.sleep, clock=fake.clock)
    assert not isinstance(info.value, DeadlineExceeded)
    assert info.value.attempts == 3


def test_outstanding_calls_show_their_attempt_and_wait() -> None:
    fake = FakeTime()
    table = Outstanding(clock=fake.clock)
    state = RetryState(_settings(deadline_s=60.0), "trend", clock=fake.clock, outstanding=table)
    state.begin()
    fake.now = 3.0
    assert table.line() == "1 call outstanding: trend attempt 1/4 calling for 3 s (3 s of 60 s)"
    state.rng = random.Random(0)
    delay = state.failed(client_error("InternalServerException", 500))
    fake.now = 3.5
    assert table.line() == (
        f"1 call outstanding: trend attempt 1/4 waiting {delay - 0.5:.1f} s after "
        "InternalServerException (4 s of 60 s)"
    )
    state.close()
    assert table.line() is None


# -- precise errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "exc",
    [
        ConnectionClosedError(endpoint_url="http://x"),
        EndpointConnectionError(endpoint_url="http://x", error=ConnectionResetError(104, "reset")),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_resets_are_named_and_retried(exc: BaseException) -> None:
    info = classify(exc)
    assert (info.error_type, info.retryable) == ("ConnectionReset", True)


def test_refused_connection_is_not_called_a_reset() -> None:
    exc = EndpointConnectionError(endpoint_url="http://x", error=ConnectionRefusedError(111, "no"))
    assert classify(exc).error_type == "EndpointConnectionError"


def test_malformed_body_is_retried_then_named() -> None:
    calls: list[int] = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise MalformedResponseError("the Converse response has no output message")

    with pytest.raises(MalformedResponseError) as info:
        call_with_retries(attempt, _settings(max_attempts=3), sleep=lambda s: None)
    assert calls == [1, 2, 3]
    assert (info.value.error_type, info.value.attempts) == ("MalformedResponse", 3)
