"""Retry policy for Bedrock calls: error classification, full-jitter backoff, final error mapping.

botocore's own retries are switched off (``total_max_attempts=1``) so that this module decides
what is retried and can report the number of attempts per call. Throttling, 5xx, model
not-ready/timeouts and network timeouts are retried with full-jitter exponential backoff
(``uniform(0, min(cap, base * 2**(attempt-1)))``) up to ``settings.max_attempts`` attempts;
validation, access and credential errors fail at once with AWS's message. Malformed or
truncated bodies (MalformedResponseError) are retried like a 5xx; a dropped connection is
named ``ConnectionReset`` in the sync and async paths alike.

Deadline: ``settings.deadline_s`` bounds a call's whole life, attempts and waits included. In a
run, the clock starts with the run, not the call (``ReportJob.deadline_at``, stamped by the
strategy): a report that waited in line behind a hung one has only what is left of the run's
deadline (``call_deadline``). A backoff that would end past it is not waited; the call ends with
DeadlineExceeded (a TimeoutError) carrying the attempts made and the last error. The async
loop cancels the running attempt (its limiter wait included) at the deadline; a sync attempt
ends at its read timeout at the latest (sync_client cuts it to the time left), and its limiter
wait is bounded by the time left (a longer one raises errors.WaitPastDeadline at once, which
ends the call with the same DeadlineExceeded).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from report_lib.errors import (
    BackendError,
    CallTimeoutError,
    DeadlineExceeded,
    MalformedResponseError,
    ThrottledError,
    WaitPastDeadline,
)
from report_lib.llm.progress import OUTSTANDING, CallState, Outstanding

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

T = TypeVar("T")
log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)
RETRYABLE_CODES = THROTTLING_CODES | {
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalServerException",
    "InternalFailure",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "ModelStreamErrorException",
}
TIMEOUT_TYPES = frozenset({"ReadTimeout", "ConnectTimeout"})

# What to do about a fatal error, by AWS error code (appended to AWS's own message).
_ADVICE = {
    "ValidationException": "check the model id (--model-id; cross-region profiles need a "
    "'global.'/'us.' prefix), max_tokens and the request",
    "AccessDeniedException": "enable access to this model in the Bedrock console for the region "
    "and allow bedrock:InvokeModel / bedrock:InvokeModelWithResponseStream in IAM",
    "ResourceNotFoundException": "check the model id and the region "
    "(the model may not be offered there)",
    "UnrecognizedClientException": "the credentials are invalid: refresh them "
    "(`aws sso login`, `aws configure`) or pick another AWS_PROFILE",
    "ExpiredTokenException": "the session token expired: refresh it (`aws sso login`)",
    "ServiceQuotaExceededException": "a Bedrock quota is used up: request an increase in "
    "Service Quotas or wait",
}
for _code in (
    "NoCredentialsError",
    "TokenRetrievalError",
    "UnauthorizedSSOTokenError",
    "SSOTokenLoadError",
    "CredentialRetrievalError",
    "PartialCredentialsError",
):
    _ADVICE[_code] = _ADVICE["UnrecognizedClientException"]
_THROTTLE_ADVICE = (
    "lower --max-concurrency, set a client-side tpm/rpm limit, raise max_attempts, "
    "or request a higher tokens-per-minute quota"
)


@dataclass(frozen=True)
class Classified:
    """An exception seen from the retry loop: its error type, whether to retry, AWS's message."""

    error_type: str
    retryable: bool
    message: str


def _normalize_code(code: str) -> str:
    # Event-stream errors use camelCase member names ("throttlingException").
    return code[:1].upper() + code[1:] if code else code


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, what botocore wrapped in it (``kwargs["error"]``) and its ``__cause__`` chain."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        kwargs = getattr(current, "kwargs", None)
        inner = kwargs.get("error") if isinstance(kwargs, dict) else None
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return seen


def _cut_short(exc: BaseException) -> str | None:
    """What aiohttp or urllib3 said when a body ended before its Content-Length (or its last
    chunk) arrived: the answer was cut short, not reset; None for anything else."""
    for cause in _causes(exc):
        name, text = type(cause).__name__, str(cause)
        if name in ("ContentLengthError", "IncompleteRead", "TransferEncodingError") or (
            name == "ClientPayloadError" and "not completed" in text
        ):
            return text.split(". ")[0] if text else name
        if name == "ProtocolError" and "IncompleteRead" in text:
            return text
    return None


def _cut_counts(text: str) -> tuple[int, int] | None:
    """(bytes received, bytes announced) from aiohttp's "received N of M bytes" or urllib3's
    "IncompleteRead(N bytes read, K more expected)"; None when the text says neither."""
    if counts := re.search(r"received (\d+) of (\d+) bytes", text):
        return int(counts[1]), int(counts[2])
    if counts := re.search(r"(\d+) bytes read, (\d+) more expected", text):
        return int(counts[1]), int(counts[1]) + int(counts[2])
    return None


def _is_reset(exc: BaseException) -> bool:
    """The peer dropped an open connection (RST, or closed it before the whole answer)."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionResetError | ConnectionClosedError):
            return True
        if getattr(cause, "errno", None) in (errno.ECONNRESET, errno.EPIPE):
            return True
        name = type(cause).__name__
        if name in ("ServerDisconnectedError", "ClientPayloadError", "ProtocolError"):
            return True
    return False


def classify(exc: BaseException) -> Classified:
    """Map a boto/aiohttp/urllib3 exception to (error_type, retryable, message)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = _normalize_code(str(err.get("Code") or ""))
        message = str(err.get("Message") or exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if not code:
            code = "ThrottlingException" if status == 429 else f"HTTP{status or '?'}"
        retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
        return Classified(code, retryable, message)
    if isinstance(exc, MalformedResponseError):
        return Classified(exc.error_type, True, str(exc))
    if isinstance(exc, ConnectTimeoutError):
        return Classified("ConnectTimeout", True, str(exc))
    if isinstance(exc, ReadTimeoutError | TimeoutError):  # asyncio.TimeoutError is TimeoutError
        return Classified("ReadTimeout", True, str(exc) or "the read timed out")
    cut = _cut_short(exc)
    if cut is not None:
        got = _cut_counts(cut)
        what = (f"{got[0]:,} of the {got[1]:,} bytes its Content-Length announced arrived"
                if got else "the body ended")
        return Classified("MalformedResponse", True,
                          f"the answer was cut short: {what} before the connection closed")
    if _is_reset(exc):
        kwargs = getattr(exc, "kwargs", None)
        url = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
        where = f"the connection to {url}" if url else "the connection"
        return Classified(
            "ConnectionReset", True, f"{where} was reset before the whole answer arrived"
        )
    if isinstance(exc, EndpointConnectionError | ConnectionError):
        return Classified("EndpointConnectionError", True, str(exc))
    if isinstance(exc, ResponseStreamingError):
        return Classified(type(exc).__name__, True, str(exc))
    # urllib3 / aiohttp errors raised while reading a streamed body are not mapped by botocore.
    for cls in type(exc).__mro__:
        module = cls.__module__.split(".")[0]
        if module in ("urllib3", "aiohttp"):
            name = cls.__name__
            if "Timeout" in name:
                return Classified("ReadTimeout", True, str(exc))
            return Classified(type(exc).__name__, True, str(exc))
    return Classified(type(exc).__name__, False, str(exc))


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Full-jitter delay before retry number ``attempt`` (1 = first retry)."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0.0, ceiling)


def _plural(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def final_error(info: Classified, attempts: int, model_id: str) -> BackendError:
    """The error raised when a call fails for good, with the AWS code and the attempt count."""
    where = f"model {model_id}, after {_plural(attempts)}"
    if info.error_type == "MalformedResponse":  # the message says what was wrong with it
        return MalformedResponseError(
            f"{info.message} ({where}); retry later or raise max_attempts", attempts=attempts
        )
    if info.error_type in THROTTLING_CODES:
        return ThrottledError(
            f"{info.error_type}: {info.message} ({where}); {_THROTTLE_ADVICE}",
            error_type=info.error_type,
            attempts=attempts,
        )
    if info.error_type in TIMEOUT_TYPES:
        return CallTimeoutError(
            f"{info.error_type}: {info.message} ({where}); raise read_timeout or max_attempts, "
            "or lower max_tokens",
            error_type=info.error_type,
            attempts=attempts,
        )
    advice = _ADVICE.get(info.error_type)
    if advice is None and info.retryable:
        advice = "the service kept failing: retry later or raise max_attempts"
    text = f"{info.error_type}: {info.message} ({where})"
    return BackendError(
        f"{text}; {advice}" if advice else text, error_type=info.error_type, attempts=attempts
    )


def call_deadline(
    settings: BackendSettings,
    deadline_at: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> float | None:
    """The call's deadline on ``clock``: the run's (``deadline_at``, a ``time.time()`` value) when
    the job carries one, else ``settings.deadline_s`` from now; None without a deadline."""
    if deadline_at is not None:
        return clock() + (deadline_at - time.time())
    return None if settings.deadline_s is None else clock() + settings.deadline_s


class RetryState:
    """The retry decisions of one call, shared by the sync and the async loop (no I/O here).

    ``begin()`` before each attempt (raises DeadlineExceeded when no time is left, returns the
    seconds left or None without a deadline); ``failed(exc)`` after a failed one: raises the
    final error, or DeadlineExceeded when the backoff would pass the deadline, or returns the
    delay to wait. Every step is shown in ``progress.OUTSTANDING`` and logged.
    """

    def __init__(
        self,
        settings: BackendSettings,
        label: str = "call",
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        outstanding: Outstanding = OUTSTANDING,
        deadline_at: float | None = None,
    ) -> None:
        self.settings = settings
        self.label = label
        self.rng = rng
        self.clock = clock
        self.attempt = 0
        self.last: Classified | None = None
        self.started = clock()
        # ``deadline_at`` (a time.time() value): the run's, shared by its calls; else the
        # call's own deadline_s from now
        self.from_run = deadline_at is not None
        self.deadline = call_deadline(settings, deadline_at, clock)
        self.outstanding = outstanding
        self.ident = outstanding.add(
            CallState(label, 0, settings.max_attempts, self.started, phase_since=self.started,
                      deadline_s=settings.deadline_s)
        )

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def begin(self) -> float | None:
        """Start the next attempt; the seconds it may take (None: no deadline)."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise self.expired()
        self.attempt += 1
        self.outstanding.update(self.ident, attempt=self.attempt, phase="calling",
                                phase_since=self.clock())
        return left

    def failed(self, exc: Exception) -> float:
        """The delay before the next attempt, or raise the error that ends the call."""
        if isinstance(exc, WaitPastDeadline):  # the limiter would wait past the deadline
            raise self.expired() from exc
        if isinstance(exc, BackendError) and not isinstance(exc, MalformedResponseError):
            raise exc
        info = classify(exc)
        self.last = info
        settings = self.settings
        left = self.remaining()
        if not info.retryable:
            raise final_error(info, self.attempt, settings.model_id) from exc
        if left is not None and left <= 0:
            raise self.expired() from exc
        if self.attempt >= settings.max_attempts:
            raise final_error(info, self.attempt, settings.model_id) from exc
        delay = backoff_delay(self.attempt, settings.backoff_base_s, settings.backoff_max_s,
                              self.rng)
        if left is not None and delay >= left:
            raise self.expired() from exc
        log.info("%s: attempt %d/%d failed with %s: %s; retrying in %.2f s", self.label,
                 self.attempt, settings.max_attempts, info.error_type, info.message, delay)
        self.outstanding.update(self.ident, phase="waiting", phase_since=self.clock(),
                                wait_s=delay, last_error=info.error_type)
        return delay

    def expired(self) -> DeadlineExceeded:
        last = f"; last error {self.last.error_type}: {self.last.message}" if self.last else ""
        since = " of the run (counted from its start, waiting in line included)"
        error = DeadlineExceeded(
            f"{self.label}: no answer within the {self.settings.deadline_s:g} s deadline"
            f"{since if self.from_run else ''} "
            f"(model {self.settings.model_id}, {_plural(self.attempt)}{last}); raise "
            "--deadline / deadline_s, or check that the endpoint answers",
            error_type="DeadlineExceeded",
            attempts=self.attempt,
        )
        log.info("%s", error)
        return error

    def close(self) -> None:
        self.outstanding.remove(self.ident)


def call_with_retries(
    attempt_fn: Callable[[int], T],
    settings: BackendSettings,
    *,
    label: str = "call",
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    deadline_at: float | None = None,
) -> T:
    """Run ``attempt_fn(attempt_number)`` until it succeeds, the budget or the deadline is spent.

    ``deadline_at`` (the run's, ``ReportJob.deadline_at``) replaces the call's own deadline.
    A sync attempt cannot be interrupted: it ends at the latest one read timeout (which never
    exceeds the deadline) after its last byte; the deadline is checked between attempts.
    """
    state = RetryState(settings, label, rng=rng, clock=clock, deadline_at=deadline_at)
    try:
        while True:
            state.begin()
            try:
                return attempt_fn(state.attempt)
            except Exception as exc:
                delay = state.failed(exc)
            sleep(delay)
    finally:
        state.close()


async def acall_with_retries(
    attempt_fn: Callable[[int], Awaitable[T]],
    settings: BackendSettings,
    *,
    label: str = "call",
    rng: random.Random | None = None,
    deadline_at: float | None = None,
) -> T:
    """Async twin of call_with_retries; an attempt is cancelled when the deadline comes."""
    state = RetryState(settings, label, rng=rng, deadline_at=deadline_at)
    try:
        while True:
            scope = asyncio.timeout(state.begin())
            try:
                async with scope:
                    return await attempt_fn(state.attempt)
            except Exception as exc:
                if scope.expired():  # the deadline cut this attempt short
                    raise state.expired() from exc
                delay = state.failed(exc)
            await asyncio.sleep(delay)
    finally:
        state.close()
