"""Synchronous Bedrock Runtime client: one session, a sized pool, Converse and ConverseStream.

``make_client`` builds one ``bedrock-runtime`` client per process from one boto3 Session
(clients are thread-safe, sessions are not), with the connection pool sized to the concurrency
and botocore's own retries off: report_lib.llm.retry retries with full-jitter backoff and counts
the attempts. Credentials come only from the standard boto3 chain and are checked before the
first call; the ``emulator`` backend signs with fixed dummy keys so it never needs (or sees)
real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ProfileNotFound

from report_lib.errors import BackendError, CredentialsError
from report_lib.jobs import CallOutcome, ReportJob
from report_lib.llm.retry import call_with_retries
from report_lib.llm.tokens import estimate_tokens

if TYPE_CHECKING:
    from report_lib.llm.limiter import RateLimiter
    from report_lib.llm.settings import BackendSettings

TextCallback = Callable[[str], None]

SERVICE = "bedrock-runtime"
EMULATOR_KEYS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}
CREDENTIALS_HELP = (
    "Set AWS credentials the standard boto3 way: a profile (`aws configure` or "
    "`aws configure sso` then `aws sso login`, and AWS_PROFILE=<name> or --profile), or the "
    "environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), or an "
    "instance/container role. To run without AWS use `--backend emulator` (local Bedrock "
    "emulator) or `--backend offline`."
)


def client_config_kwargs(settings: BackendSettings, max_concurrency: int = 10) -> dict[str, Any]:
    """botocore Config options shared by the sync and the async client."""
    return {
        "region_name": settings.region,
        "max_pool_connections": max(10, int(max_concurrency)),
        # One attempt per botocore call: report_lib.llm.retry owns retries and counts attempts.
        "retries": {"mode": settings.retry_mode, "total_max_attempts": 1},
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "tcp_keepalive": True,
        "user_agent_extra": "report-lib",
    }


def _uses_emulator_keys(settings: BackendSettings) -> bool:
    return settings.backend == "emulator"


def make_session(settings: BackendSettings) -> boto3.Session:
    """One boto3 Session with checked credentials (dummy keys for the emulator)."""
    if _uses_emulator_keys(settings):
        return boto3.Session(region_name=settings.region, **EMULATOR_KEYS)
    try:
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except ProfileNotFound as exc:
        raise CredentialsError(
            f"AWS profile {settings.profile!r} not found. {CREDENTIALS_HELP}"
        ) from exc
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. a broken config file or SSO cache
        raise CredentialsError(
            f"AWS credentials could not be loaded ({exc}). {CREDENTIALS_HELP}"
        ) from exc
    if credentials is None:
        raise CredentialsError(f"No AWS credentials found. {CREDENTIALS_HELP}")
    return session


def make_client(settings: BackendSettings, max_concurrency: int = 10) -> Any:
    """A ``bedrock-runtime`` client with the pool sized to ``max_concurrency`` (at least 10)."""
    session = make_session(settings)
    return session.client(
        SERVICE,
        endpoint_url=settings.endpoint_url or None,
        config=Config(**client_config_kwargs(settings, max_concurrency)),
    )


def system_prompt(job: ReportJob, settings: BackendSettings) -> str:
    return settings.system or job.system


def build_request(job: ReportJob, settings: BackendSettings) -> dict[str, Any]:
    """Keyword arguments of Converse / ConverseStream for ``job``."""
    request: dict[str, Any] = {
        "modelId": settings.model_id,
        "messages": [{"role": "user", "content": [{"text": job.prompt}]}],
        "inferenceConfig": {"maxTokens": settings.max_tokens, "temperature": settings.temperature},
    }
    system = system_prompt(job, settings)
    if system:
        request["system"] = [{"text": system}]
    return request


def estimate_request_tokens(job: ReportJob, settings: BackendSettings) -> int:
    """Tokens to reserve in the limiter: input estimate + expected output (capped at max_tokens)."""
    expected = min(settings.expected_output_tokens, settings.max_tokens)
    return estimate_tokens(system_prompt(job, settings)) + estimate_tokens(job.prompt) + expected


def require_text(text: str, stop_reason: str | None, settings: BackendSettings) -> None:
    if not text.strip():
        raise BackendError(
            f"model {settings.model_id} returned no text (stop reason {stop_reason!r}); "
            "check max_tokens and the prompt",
            error_type="EmptyResponse",
        )


def parse_converse_response(response: Mapping[str, Any]) -> CallOutcome:
    """CallOutcome from a Converse response (text blocks joined, usage, stop reason)."""
    blocks = response.get("output", {}).get("message", {}).get("content", []) or []
    text = "".join(block.get("text", "") for block in blocks if isinstance(block, Mapping))
    usage = response.get("usage", {}) or {}
    return CallOutcome(
        text=text,
        input_tokens=int(usage.get("inputTokens", 0) or 0),
        output_tokens=int(usage.get("outputTokens", 0) or 0),
        stop_reason=response.get("stopReason"),
    )


class StreamCollector:
    """Folds ConverseStream events into a CallOutcome; shared by the sync and async clients."""

    def __init__(self, on_text: TextCallback | None, started: float) -> None:
        self.on_text = on_text
        self.started = started
        self.parts: list[str] = []
        self.ttft_s: float | None = None
        self.usage: Mapping[str, Any] = {}
        self.stop_reason: str | None = None

    def feed(self, event: Mapping[str, Any]) -> None:
        if "contentBlockDelta" in event:
            delta = event["contentBlockDelta"].get("delta", {}).get("text")
            if delta:
                if self.ttft_s is None:
                    self.ttft_s = time.perf_counter() - self.started
                self.parts.append(delta)
                if self.on_text is not None:
                    self.on_text(delta)
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage", {}) or {}

    def outcome(self) -> CallOutcome:
        return CallOutcome(
            text="".join(self.parts),
            input_tokens=int(self.usage.get("inputTokens", 0) or 0),
            output_tokens=int(self.usage.get("outputTokens", 0) or 0),
            ttft_s=self.ttft_s,
            stop_reason=self.stop_reason,
        )


def _converse_once(client: Any, request: dict[str, Any]) -> CallOutcome:
    return parse_converse_response(client.converse(**request))


def _converse_stream_once(
    client: Any, request: dict[str, Any], on_text: TextCallback | None
) -> CallOutcome:
    collector = StreamCollector(on_text, time.perf_counter())
    response = client.converse_stream(**request)
    stream = response["stream"]
    try:
        for event in stream:
            collector.feed(event)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return collector.outcome()


def _call(
    client: Any,
    job: ReportJob,
    settings: BackendSettings,
    on_text: TextCallback | None,
    limiter: RateLimiter | None,
    stream: bool,
) -> CallOutcome:
    request = build_request(job, settings)
    estimate = estimate_request_tokens(job, settings) if limiter is not None else 0

    def attempt(number: int) -> CallOutcome:
        reservation = limiter.acquire(estimate) if limiter is not None else None
        if stream:
            outcome = _converse_stream_once(client, request, on_text)
        else:
            outcome = _converse_once(client, request)
        if reservation is not None:  # a failed attempt keeps its reservation (conservative)
            reservation.settle(outcome.input_tokens + outcome.output_tokens)
        outcome.attempts = number
        return outcome

    outcome = call_with_retries(attempt, settings)
    require_text(outcome.text, outcome.stop_reason, settings)
    return outcome


def converse(
    client: Any,
    job: ReportJob,
    settings: BackendSettings,
    on_text: TextCallback | None = None,
    limiter: RateLimiter | None = None,
) -> CallOutcome:
    """Answer ``job`` with Converse, or ConverseStream when ``settings.stream`` is set.

    Retries throttling/5xx/timeouts within ``settings.max_attempts``; raises errors.BackendError
    (ThrottledError, CallTimeoutError) with the AWS error code and the attempts made.
    """
    return _call(client, job, settings, on_text, limiter, stream=settings.stream)


def converse_stream(
    client: Any,
    job: ReportJob,
    settings: BackendSettings,
    on_text: TextCallback | None = None,
    limiter: RateLimiter | None = None,
) -> CallOutcome:
    """Answer ``job`` with ConverseStream: ``on_text(delta)`` per text delta, TTFT recorded.

    A stream that fails midway is retried from the start, so ``on_text`` may then see the
    beginning of the text again; the returned text is always one whole answer.
    """
    return _call(client, job, settings, on_text, limiter, stream=True)
