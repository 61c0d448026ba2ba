"""Retry policy for Bedrock calls: error classification, full-jitter backoff, final error mapping.

botocore's own retries are switched off (``total_max_attempts=1``) so that this module decides
what is retried and can report the number of attempts per call. Throttling, 5xx, model
not-ready/timeouts and network timeouts are retried with full-jitter exponential backoff
(``uniform(0, min(cap, base * 2**(attempt-1)))``) up to ``settings.max_attempts`` attempts;
validation, access and credential errors fail at once with AWS's message.
"""

from __future__ import annotations

import asyncio
import logging
import random
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

from report_lib.errors import BackendError, CallTimeoutError, ThrottledError

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
    if isinstance(exc, ConnectTimeoutError):
        return Classified("ConnectTimeout", True, str(exc))
    if isinstance(exc, ReadTimeoutError):
        return Classified("ReadTimeout", True, str(exc))
    if isinstance(exc, EndpointConnectionError):
        return Classified("EndpointConnectionError", True, str(exc))
    if isinstance(exc, ConnectionClosedError | ResponseStreamingError):
        return Classified(type(exc).__name__, True, str(exc))
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return Classified("ReadTimeout", True, str(exc) or "the read timed out")
    if isinstance(exc, ConnectionError):
        return Classified("EndpointConnectionError", True, str(exc))
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


def final_error(info: Classified, attempts: int, model_id: str) -> BackendError:
    """The error raised when a call fails for good, with the AWS code and the attempt count."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    where = f"model {model_id}, after {tries}"
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


def _handle(exc: Exception, attempt: int, settings: BackendSettings) -> Classified:
    info = classify(exc)
    if not info.retryable or attempt >= settings.max_attempts:
        raise final_error(info, attempt, settings.model_id) from exc
    log.info(
        "attempt %d/%d failed with %s: %s; retrying",
        attempt,
        settings.max_attempts,
        info.error_type,
        info.message,
    )
    return info


def call_with_retries(
    attempt_fn: Callable[[int], T],
    settings: BackendSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``attempt_fn(attempt_number)`` until it succeeds or the retry budget is spent."""
    attempt = 1
    while True:
        try:
            return attempt_fn(attempt)
        except (BackendError, KeyboardInterrupt):
            raise
        except Exception as exc:
            _handle(exc, attempt, settings)
        sleep(backoff_delay(attempt, settings.backoff_base_s, settings.backoff_max_s, rng))
        attempt += 1


async def acall_with_retries(
    attempt_fn: Callable[[int], Awaitable[T]],
    settings: BackendSettings,
    *,
    rng: random.Random | None = None,
) -> T:
    """Async twin of call_with_retries (waits with asyncio.sleep)."""
    attempt = 1
    while True:
        try:
            return await attempt_fn(attempt)
        except (BackendError, asyncio.CancelledError):
            raise
        except Exception as exc:
            _handle(exc, attempt, settings)
        await asyncio.sleep(
            backoff_delay(attempt, settings.backoff_base_s, settings.backoff_max_s, rng)
        )
        attempt += 1
