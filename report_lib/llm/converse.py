"""Converse / ConverseStream without I/O: client options, the request, parsing the answer.

Shared by the sync (boto3) and async (aiobotocore) clients, which only add the network calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from report_lib.errors import BackendError, MalformedResponseError
from report_lib.jobs import CallOutcome, ReportJob
from report_lib.llm.tokens import estimate_tokens

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

TextCallback = Callable[[str], None]


class Reservation(Protocol):
    """What a limiter hands out before a call (report_lib.llm.limiter.Reservation)."""

    def settle(self, actual_tokens: int) -> None: ...

SERVICE = "bedrock-runtime"


def client_config_kwargs(settings: BackendSettings, max_concurrency: int = 10) -> dict[str, Any]:
    """botocore Config options shared by the sync and the async client.

    botocore's retries are off (one attempt per botocore call): report_lib.llm.retry owns
    retries, counts attempts and keeps the deadline. The read timeout never exceeds the
    deadline, so one stalled read cannot outlive it by more than the deadline itself.
    """
    read_timeout = settings.read_timeout
    if settings.deadline_s is not None:
        read_timeout = min(read_timeout, settings.deadline_s)
    return {
        "region_name": settings.region,
        "max_pool_connections": max(10, int(max_concurrency)),
        "retries": {"mode": settings.retry_mode, "total_max_attempts": 1},
        "connect_timeout": settings.connect_timeout,
        "read_timeout": read_timeout,
        "tcp_keepalive": True,
        "user_agent_extra": "report-lib",
    }


def system_prompt(job: ReportJob, settings: BackendSettings) -> str:
    """The system prompt sent: ``settings.system`` overrides the job's."""
    return settings.system or job.system


def call_settings(job: ReportJob, settings: BackendSettings) -> BackendSettings:
    """The settings of ``job``'s call: its own deadline when it has one (a repair turn)."""
    if job.deadline_s is None or job.deadline_s == settings.deadline_s:
        return settings
    return replace(settings, deadline_s=max(job.deadline_s, 1e-3))


def build_request(job: ReportJob, settings: BackendSettings) -> dict[str, Any]:
    """Keyword arguments of Converse / ConverseStream for ``job`` (its prompt, then its turns:
    a repair request is the prompt, the first answer and a follow-up)."""
    messages = [{"role": "user", "content": [{"text": job.prompt}]}]
    messages += [{"role": role, "content": [{"text": text}]} for role, text in job.turns]
    request: dict[str, Any] = {
        "modelId": settings.model_id,
        "messages": messages,
        "inferenceConfig": {"maxTokens": settings.max_tokens, "temperature": settings.temperature},
    }
    system = system_prompt(job, settings)
    if system:
        request["system"] = [{"text": system}]
    return request


def estimate_request_tokens(job: ReportJob, settings: BackendSettings) -> int:
    """Tokens to reserve in the limiter: input estimate + expected output (capped at max_tokens)."""
    expected = min(settings.expected_output_tokens, settings.max_tokens)
    turns = sum(estimate_tokens(text) for _, text in job.turns)
    return (estimate_tokens(system_prompt(job, settings)) + estimate_tokens(job.prompt) + turns
            + expected)


def require_text(outcome: CallOutcome, settings: BackendSettings) -> CallOutcome:
    """``outcome`` if it holds text, else a BackendError ``EmptyResponse``."""
    if not outcome.text.strip():
        raise BackendError(
            f"model {settings.model_id} returned no text (stop reason {outcome.stop_reason!r}); "
            "check max_tokens and the prompt",
            error_type="EmptyResponse",
            attempts=outcome.attempts,
        )
    return outcome


def _usage(usage: Mapping[str, Any]) -> tuple[int, int]:
    return int(usage.get("inputTokens", 0) or 0), int(usage.get("outputTokens", 0) or 0)


def parse_converse_response(response: Mapping[str, Any]) -> CallOutcome:
    """CallOutcome from a Converse response (text blocks joined, usage, stop reason).

    A body without ``output.message`` or ``stopReason`` (cut short, or not a Converse answer:
    botocore hands over what it could not parse as ``{"message": raw}``) raises
    MalformedResponseError, which is retried like a 5xx.
    """
    output = response.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    if not isinstance(message, Mapping) or "stopReason" not in response:
        raw = str(response.get("message", ""))[:80]
        raise MalformedResponseError(
            f"the Converse response has no output message or stop reason"
            f"{f' (body starts {raw!r})' if raw else ''}"
        )
    blocks = message.get("content") or []
    text = "".join(block.get("text", "") for block in blocks if isinstance(block, Mapping))
    inp, out = _usage(response.get("usage") or {})
    return CallOutcome(
        text=text, input_tokens=inp, output_tokens=out, stop_reason=response.get("stopReason")
    )


class StreamCollector:
    """Folds ConverseStream events into a CallOutcome; shared by the sync and async clients."""

    def __init__(self, on_text: TextCallback | None, started: float | None = None) -> None:
        self.on_text = on_text
        self.started = time.perf_counter() if started is None else started
        self.parts: list[str] = []
        self.ttft_s: float | None = None
        self.usage: Mapping[str, Any] = {}
        self.stop_reason: str | None = None
        self.stopped = False

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
            self.stopped = True
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage", {}) or {}

    def outcome(self) -> CallOutcome:
        """The whole answer; MalformedResponseError if the stream ended before messageStop."""
        if not self.stopped:
            raise MalformedResponseError(
                f"the ConverseStream response ended after {len(self.parts)} text deltas "
                "without a messageStop event"
            )
        inp, out = _usage(self.usage)
        return CallOutcome(
            text="".join(self.parts),
            input_tokens=inp,
            output_tokens=out,
            ttft_s=self.ttft_s,
            stop_reason=self.stop_reason,
        )


class CallPlan:
    """One job's request and limiter estimate, and what every attempt does with its outcome."""

    def __init__(self, job: ReportJob, settings: BackendSettings, with_limiter: bool) -> None:
        self.key = job.label
        self.request = build_request(job, settings)
        self.estimate = estimate_request_tokens(job, settings) if with_limiter else 0

    @staticmethod
    def settle(
        outcome: CallOutcome, number: int, reservation: Reservation | None
    ) -> CallOutcome:
        """Settle the limiter with the real usage and stamp the attempt number.

        A failed attempt keeps its reservation (conservative).
        """
        if reservation is not None:
            reservation.settle(outcome.input_tokens + outcome.output_tokens)
        outcome.attempts = number
        return outcome
