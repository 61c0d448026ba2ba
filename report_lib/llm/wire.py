"""Converse / ConverseStream without I/O: client options, the request, parsing the answer.

Shared by the sync (boto3) and async (aiobotocore) clients, which only add the network calls.

What comes back is checked before it is taken as an answer (``check_converse_body``, run by both
clients on botocore's ``before-parse`` event, and ``StreamCollector``): a body cut short under
its Content-Length, a 200 body that is not JSON, a JSON body that ends before it is complete
and an event stream that ends without ``messageStop`` are each named as what they are
(MalformedResponseError, retried); an answer larger than ``answer_cap_bytes(maxTokens)`` is
refused (OversizeResponseError, not retried).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from report_lib.errors import BackendError, MalformedResponseError, OversizeResponseError
from report_lib.llm.tokens import estimate_tokens
from report_lib.records import CallOutcome, ReportJob

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

TextCallback = Callable[[str], None]


class Reservation(Protocol):
    """What a limiter hands out before a call (report_lib.llm.limiter.Reservation)."""

    def settle(self, input_tokens: int, output_tokens: int = 0,
               latency_s: float | None = None) -> None: ...

SERVICE = "bedrock-runtime"
CONVERSE_EVENT = "before-parse.bedrock-runtime.Converse"  # botocore's, body read, not parsed
EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"
# The size cap of an answer: a token is a few characters, a character at most 4 bytes of UTF-8
# (6 as a JSON \u escape); 64 bytes a token is far above any real answer, and the envelope
# (usage, metrics, stop reason) gets 1 MiB. maxTokens 2,048: 1.1 MiB; a 50 MB answer is refused.
BYTES_PER_TOKEN = 64
ENVELOPE_BYTES = 1024 * 1024


def answer_cap_bytes(max_tokens: int) -> int:
    """The most bytes an answer to a request of ``max_tokens`` may have."""
    return ENVELOPE_BYTES + BYTES_PER_TOKEN * max(1, int(max_tokens))


def oversize_error(size: int, settings: BackendSettings, what: str = "answer") -> BackendError:
    cap = answer_cap_bytes(settings.max_tokens)
    return OversizeResponseError(
        f"the {what} is {size:,} bytes, more than the {cap:,} a request of maxTokens "
        f"{settings.max_tokens:,} allows; refused (not a report): check --endpoint-url, "
        "the endpoint does not answer like Bedrock"
    )


def _starts(body: bytes) -> str:
    text = body[:60].decode("utf-8", "replace")
    return repr(text + ("…" if len(body) > 60 else ""))


def check_converse_body(settings: BackendSettings) -> Callable[..., None]:
    """A handler for botocore's ``before-parse`` event of Converse (CONVERSE_EVENT): the body,
    read but not yet parsed, is refused when it is too large (OversizeResponseError), shorter
    than its Content-Length (cut short), not JSON, or JSON that ends before it is complete
    (MalformedResponseError, each with its own message)."""
    cap = answer_cap_bytes(settings.max_tokens)

    def check(response_dict: Mapping[str, Any], **_: Any) -> None:
        body = response_dict.get("body")
        if response_dict.get("status_code") != 200 or not isinstance(body, bytes | bytearray):
            return
        headers = {str(k).lower(): str(v) for k, v in (response_dict.get("headers") or {}).items()}
        announced = headers.get("content-length", "")
        length = int(announced) if announced.isdigit() else None
        if max(len(body), length or 0) > cap:
            raise oversize_error(max(len(body), length or 0), settings)
        encoded = headers.get("content-encoding", "identity") not in ("", "identity")
        if length is not None and len(body) < length and not encoded:
            raise MalformedResponseError(
                f"the answer was cut short: {len(body):,} of the {length:,} bytes its "
                "Content-Length announced arrived before the connection closed"
            )
        try:
            json.loads(body)
        except ValueError:
            kind = headers.get("content-type", "no Content-Type")
            if bytes(body).lstrip()[:1] in (b"{", b"["):
                raise MalformedResponseError(
                    f"the answer's JSON ends before it is complete ({len(body):,} bytes, "
                    f"{kind}): cut short by the endpoint"
                ) from None
            raise MalformedResponseError(
                f"the endpoint answered HTTP 200 with a body that is not JSON ({kind}, "
                f"{len(body):,} bytes, starts {_starts(bytes(body))}): check --endpoint-url"
            ) from None

    return check


def check_stream_type(response: Mapping[str, Any]) -> None:
    """A ConverseStream answer that is not an event stream (an HTML page, say) is named so,
    before its bytes are read as frames."""
    headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    kind = str({str(k).lower(): v for k, v in headers.items()}.get("content-type", ""))
    if kind and not kind.startswith(EVENTSTREAM_TYPE):
        raise MalformedResponseError(
            f"the endpoint answered ConverseStream with {kind}, not an event stream: "
            "check --endpoint-url"
        )


def client_config_kwargs(settings: BackendSettings, max_concurrency: int = 10) -> dict[str, Any]:
    """botocore Config options shared by the sync and the async client.

    botocore's retries are off (one attempt per botocore call): report_lib.llm.retry owns
    retries, counts attempts and keeps the deadline. The read timeout never exceeds the
    deadline, so one stalled read cannot outlive it by more than the deadline itself.
    Parameter validation is off: the request is ours (build_request), its values checked
    once in BackendSettings.
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
        "user_agent": user_agent(),
        # build_request makes every request from BackendSettings, which checks max_tokens,
        # temperature and model_id once; botocore's per-call walk over the request is skipped
        "parameter_validation": False,
    }


def user_agent() -> str:
    """The User-Agent every request carries: report-lib, botocore's and Python's versions.

    Given as botocore's ``Config(user_agent=...)``, a fixed string: botocore otherwise
    rebuilds its structured User-Agent (SDK, OS, language, feature metrics) twice per call,
    as much CPU as parsing the answer."""
    import botocore

    version = sys.version_info
    return (f"report-lib Botocore/{botocore.__version__} "
            f"Python/{version.major}.{version.minor}.{version.micro}")


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


def estimate_input_tokens(job: ReportJob, settings: BackendSettings) -> int:
    """The request's input tokens, estimated before the model counts them (the prompt, and
    the turns of a repair conversation)."""
    turns = sum(estimate_tokens(text) for _, text in job.turns)
    return estimate_tokens(system_prompt(job, settings)) + estimate_tokens(job.prompt) + turns


def estimate_request_tokens(job: ReportJob, settings: BackendSettings) -> int:
    """Quota tokens the request reserves when it starts, as Bedrock reserves them: the input
    + ``max_tokens`` (report_lib.llm.quota)."""
    return estimate_input_tokens(job, settings) + settings.max_tokens


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
        text=text, input_tokens=inp, output_tokens=out, stop_reason=response.get("stopReason"),
        latency_ms=_latency_ms(response.get("metrics")),
    )


def _latency_ms(metrics: object) -> float | None:
    value = metrics.get("latencyMs") if isinstance(metrics, Mapping) else None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


class StreamCollector:
    """Folds ConverseStream events into a CallOutcome; shared by the sync and async clients."""

    def __init__(self, on_text: TextCallback | None, started: float | None = None,
                 settings: BackendSettings | None = None) -> None:
        self.on_text = on_text
        self.settings = settings  # its max_tokens caps the answer's size (answer_cap_bytes)
        self.cap = None if settings is None else answer_cap_bytes(settings.max_tokens)
        self.size = 0
        self.started = time.perf_counter() if started is None else started
        self.parts: list[str] = []
        self.ttft_s: float | None = None
        self.usage: Mapping[str, Any] = {}
        self.metrics: object = None
        self.stop_reason: str | None = None
        self.stopped = False

    def feed(self, event: Mapping[str, Any]) -> None:
        if "contentBlockDelta" in event:
            delta = event["contentBlockDelta"].get("delta", {}).get("text")
            if delta:
                self.size += len(delta.encode("utf-8"))
                if self.cap is not None and self.settings is not None and self.size > self.cap:
                    raise oversize_error(self.size, self.settings, "streamed answer")
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
            self.metrics = event["metadata"].get("metrics")

    def outcome(self) -> CallOutcome:
        """The whole answer; MalformedResponseError if the stream ended before messageStop."""
        if not self.stopped:
            raise MalformedResponseError(
                f"the ConverseStream answer was cut short: it ended after {len(self.parts)} "
                "text deltas without a messageStop event"
            )
        inp, out = _usage(self.usage)
        return CallOutcome(
            text="".join(self.parts),
            input_tokens=inp,
            output_tokens=out,
            ttft_s=self.ttft_s,
            stop_reason=self.stop_reason,
            latency_ms=_latency_ms(self.metrics),
        )


class CallPlan:
    """One job's request and limiter estimate, and what every attempt does with its outcome."""

    def __init__(self, job: ReportJob, settings: BackendSettings, with_limiter: bool) -> None:
        self.key = job.label
        self.request = build_request(job, settings)
        self.input_estimate = estimate_input_tokens(job, settings) if with_limiter else 0
        self.estimate = self.input_estimate + settings.max_tokens if with_limiter else 0

    @staticmethod
    def settle(
        outcome: CallOutcome, number: int, reservation: Reservation | None
    ) -> CallOutcome:
        """Settle the limiter with the real usage and stamp the attempt number.

        A failed attempt keeps its reservation (conservative).
        """
        if reservation is not None:
            latency = None if outcome.latency_ms is None else outcome.latency_ms / 1000
            reservation.settle(outcome.input_tokens, outcome.output_tokens, latency)
        outcome.attempts = number
        return outcome
