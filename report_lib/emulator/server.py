"""A Bedrock Runtime look-alike (Converse, ConverseStream) on aiohttp, for demos and benchmarks.

One asyncio process; every wait is an ``asyncio.sleep`` until the request's deadline (arrival +
latency), so a thousand concurrent calls each answer on time. Faults are configurable:
Bedrock's quotas (``--tpm``, ``--rpm``, ``--tpd``, counted per ``--quota-minute`` and
``--accounting``: report_lib.llm.quota), ``--throttle-rate``, ``--throttle-first``,
``--fail-rate``, ``--reject``, and network faults after admission (report_lib.emulator.faults:
hang, reset, truncated body, slow-then-ok).

Quotas follow Bedrock's documentation: a request reserves input + ``maxTokens`` when admitted
and is settled to input + output × the model's burndown rate when its answer ends (or to its
input alone when it fails after admission).

Time scale: every delay is multiplied by ``time_scale``, *including the quota's minute*: with
``--tpm 10000 --time-scale 0.1`` a quota minute lasts 6 s, so a scaled run sees the same
throttling pattern as the unscaled one, only faster.

Endpoints: ``POST /model/{modelId}/converse``, ``POST /model/{modelId}/converse-stream``,
``POST /model/{modelId}/invoke`` and ``/invoke-with-response-stream`` (InvokeModel with the
Anthropic Messages body, report_lib.emulator.invoke), ``GET /stats``, ``POST /stats/reset``,
``GET /health``. Signatures are not verified, but an
``Authorization`` header must be present (as every boto3 request has one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from report_lib.emulator import faults
from report_lib.emulator.answers import (
    ANSWER_MODELS,
    Answer,
    AnswerModel,
    Mistakes,
    limit_answer,
    split_chunks,
)
from report_lib.emulator.eventstream import CONTENT_TYPE as EVENTSTREAM_TYPE
from report_lib.emulator.eventstream import encode_event
from report_lib.emulator.options import (
    READY_PREFIX,
    EmulatorConfig,
    add_arguments,
    config_from_args,
)
from report_lib.emulator.state import EmulatorState, Stats
from report_lib.llm.quota import TOKENS_MESSAGE, Refusal, Ticket
from report_lib.llm.tokens import estimate_tokens

__all__ = [
    "THROTTLE_MESSAGE",
    "EmulatorConfig",
    "add_arguments",
    "build_app",
    "config_from_args",
    "serve",
]

log = logging.getLogger(__name__)

THROTTLE_MESSAGE = TOKENS_MESSAGE
_dumps = partial(json.dumps, ensure_ascii=False)


class ApiError(Exception):
    """An error answered the way Bedrock does: status, ``x-amzn-ErrorType``, {"message"}."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def response(self) -> web.Response:
        return web.json_response(
            {"message": self.message},
            status=self.status,
            headers={"x-amzn-ErrorType": self.error_type, "x-amzn-RequestId": _request_id()},
        )


@dataclass
class Call:
    """An admitted request: what to answer and when."""

    model_id: str
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    ttft_s: float
    total_s: float
    chunk_seed: str
    ticket: Ticket | None = None  # its reservation in the quotas, settled once


STATE = web.AppKey("emulator_state", EmulatorState)


def _texts(blocks: Any, where: str) -> list[str]:
    if not isinstance(blocks, list):
        raise ApiError(400, "ValidationException", f"{where} must be a list of content blocks")
    out = []
    for block in blocks:
        if not isinstance(block, dict):
            raise ApiError(400, "ValidationException", f"{where} holds a non-object block")
        if isinstance(block.get("text"), str):
            out.append(block["text"])
    return out


def _parse_body(
    raw: bytes,
) -> tuple[str, str, str, int | None, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(system text, user text, all text, maxTokens, stopSequences, (role, text) of each
    message) of a Converse body."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, "ValidationException", f"request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "ValidationException", "request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "ValidationException", "messages must be a non-empty list")
    system = "\n".join(_texts(body.get("system", []), "system"))
    user_parts: list[str] = []
    turns: list[tuple[str, str]] = []
    all_parts = [system] if system else []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ApiError(
                400, "ValidationException", f"messages[{i}].role must be 'user' or 'assistant'"
            )
        parts = _texts(message.get("content"), f"messages[{i}].content")
        turns.append((message["role"], "\n".join(parts)))
        all_parts += parts
        if message["role"] == "user":
            user_parts += parts
    if not user_parts:
        raise ApiError(400, "ValidationException", "no user message carries text content")
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise ApiError(400, "ValidationException", "inferenceConfig must be an object")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError(
            400, "ValidationException", f"inferenceConfig.maxTokens must be >= 1, got {max_tokens}"
        )
    stops = config.get("stopSequences") or []
    stop_sequences = tuple(s for s in stops if isinstance(s, str))
    return (system, "\n".join(user_parts), "\n".join(all_parts), max_tokens, stop_sequences,
            tuple(turns))


@lru_cache(maxsize=1024)
def _count_tokens(text: str) -> int:
    return estimate_tokens(text)


def _model_id(request: web.Request) -> str:
    # Decode from the raw path so that %2F (ARNs) and %3A (':') both round-trip.
    raw = request.raw_path.split("?", 1)[0]
    return unquote(raw[len("/model/") :].rsplit("/", 1)[0])


Parser = Callable[
    [bytes], tuple[str, str, str, int | None, tuple[str, ...], tuple[tuple[str, str], ...]]
]


async def _admit(request: web.Request, state: EmulatorState, parse: Parser | None = None) -> Call:
    """Validate, apply the fault options in order, draw the latency; raise ApiError to refuse.

    ``parse`` reads the body (default: a Converse body; InvokeModel passes its own).
    """
    if "Authorization" not in request.headers:
        raise ApiError(
            403,
            "UnrecognizedClientException",
            "emulator: missing Authorization header; sign the request (any credentials are "
            "accepted, signatures are not checked)",
        )
    model_id = _model_id(request)
    if not model_id:
        raise ApiError(400, "ValidationException", "the model id in the URL is empty")
    asked = _Asked(model_id, *(parse or _parse_body)(await request.read()))
    state.stats.models[model_id] += 1
    # Bedrock reserves quota as a request arrives, before the model runs: refuse at once
    early = state.quota.enabled and state.quota.accounting == "bedrock"
    ticket = _take_quota(state, asked, 0) if early else None
    try:
        return await _answer(state, asked, ticket)
    except ApiError:
        if ticket is not None:  # refused after all: nothing used
            state.quota.settle(ticket, model_id, 0, 0)
        raise


@dataclass
class _Asked:
    """What a request asks for, as parsed from its body."""

    model_id: str
    system: str
    user: str
    everything: str
    max_tokens: int | None
    stops: tuple[str, ...]
    turns: tuple[tuple[str, str], ...]

    @property
    def input_tokens(self) -> int:
        return _count_tokens(self.everything)


def _take_quota(state: EmulatorState, asked: _Asked, output_tokens: int) -> Ticket:
    admitted = state.quota.admit(asked.model_id, asked.input_tokens, asked.max_tokens,
                                 output_tokens)
    if isinstance(admitted, Refusal):
        message = admitted.message
        if admitted.status == 400:
            message = f"emulator: {message}"
        raise ApiError(admitted.status, admitted.error_type, message)
    return admitted


async def _answer(state: EmulatorState, asked: _Asked, ticket: Ticket | None) -> Call:
    """The answer of an admitted request, after the fault options that refuse it."""
    config = state.config
    system, user, turns = asked.system, asked.user, asked.turns
    mistakes = Mistakes(config.hallucinate, config.paraphrase, config.seed,
                        config.repair_quality, config.hallucinate_repeat)
    model = state.model
    if state.quota.enabled and ticket is None:  # "actual": charged input + output on admission
        # a request whose input alone no longer fits is refused before its answer is written
        # (the same decision the full charge would give, without the writer's time)
        refused = state.quota.refusal(asked.input_tokens)
        if refused is not None:
            raise ApiError(refused.status, refused.error_type, refused.message)
    if model.is_heavy(user):  # keep the event loop answering other requests meanwhile
        answer: Answer = await asyncio.to_thread(model.answer, system, turns, mistakes)
    else:
        answer = model.answer(system, turns, mistakes)
    if answer.kind is not None and answer.kind in config.reject:
        raise ApiError(
            400,
            "ValidationException",
            f"emulator: report kind '{answer.kind}' rejected (--reject)",
        )
    state.admitted += 1
    if state.admitted <= config.throttle_first:
        raise ApiError(429, "ThrottlingException", THROTTLE_MESSAGE)
    if config.throttle_rate and state.fault_rng.random() < config.throttle_rate:
        raise ApiError(429, "ThrottlingException", THROTTLE_MESSAGE)
    if config.fail_rate and state.fault_rng.random() < config.fail_rate:
        message = "emulator: injected failure (--fail-rate)"
        if state.fault_rng.random() < 0.5:
            raise ApiError(500, "InternalServerException", message)
        raise ApiError(503, "ServiceUnavailableException", message)
    text, stop_reason, output_tokens = limit_answer(answer, asked.max_tokens, asked.stops)
    if state.quota.enabled and ticket is None:  # accounting "actual": charged what it answers
        ticket = _take_quota(state, asked, output_tokens)
    state.stats.changed += [dict(c) for c in answer.changes]
    ttft, total = state.latency.timing(output_tokens, state.latency_rng)
    return Call(asked.model_id, text, stop_reason, asked.input_tokens, output_tokens, ttft, total,
                asked.everything, ticket)


def _count_error(stats: Stats, error: ApiError) -> None:
    if error.status == 429:
        stats.throttled += 1
    elif error.status >= 500:
        stats.failed += 1
    else:
        stats.rejected += 1


def _usage(call: Call) -> dict[str, int]:
    return {
        "inputTokens": call.input_tokens,
        "outputTokens": call.output_tokens,
        "totalTokens": call.input_tokens + call.output_tokens,
    }


def _request_id() -> str:
    return str(uuid.uuid4())


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


def _settle(state: EmulatorState, call: Call, answered: bool) -> None:
    """Settle the call's quota reservation: what it used, or its input alone if it failed."""
    if call.ticket is not None:
        output = call.output_tokens if answered else 0
        state.quota.settle(call.ticket, call.model_id, call.input_tokens, output)


def _count_answer(state: EmulatorState, call: Call, deadline: float) -> None:
    _settle(state, call, answered=True)
    stats = state.stats
    stats.answered += 1
    stats.input_tokens += call.input_tokens
    stats.output_tokens += call.output_tokens
    late_ms = (time.monotonic() - deadline) * 1000
    stats.max_late_ms = max(stats.max_late_ms, round(late_ms, 3))


Responder = Callable[
    [web.Request, EmulatorState, Call, float, bool], Awaitable[web.StreamResponse]
]


async def _handle(
    request: web.Request, respond: Responder, parse: Parser | None = None
) -> web.StreamResponse:
    """Count the request, admit it (or answer its error at once), inject a fault, ``respond``."""
    started = time.monotonic()
    state = request.app[STATE]
    state.stats.requests += 1
    state.stats.in_flight += 1
    state.stats.max_in_flight = max(state.stats.max_in_flight, state.stats.in_flight)
    call: Call | None = None
    try:
        try:
            call = await _admit(request, state, parse)
        except ApiError as error:
            _count_error(state.stats, error)
            return error.response()
        fault = faults.draw_fault(state)
        if fault == "hang":
            return await faults.hang(request)
        if fault == "reset":
            faults.reset(request)
        if fault == "slow":
            delay = state.config.slow_s * state.config.time_scale
            await asyncio.sleep(delay)
            started += delay
        if fault in faults.BODY_FAULTS:
            return await _respond_fault(request, state, call, started, fault,
                                        stream=respond is _respond_stream)
        return await respond(request, state, call, started, fault == "truncate")
    finally:
        state.stats.in_flight -= 1
        if call is not None:  # a fault or a dropped connection: the input was still used
            _settle(state, call, answered=False)


def _json_body(call: Call) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": call.text}]}},
        "stopReason": call.stop_reason,
        "usage": _usage(call),
        "metrics": {"latencyMs": round(call.total_s * 1000)},
    }


def _stream_bytes(call: Call, chunks: list[str]) -> bytes:
    """A whole ConverseStream answer of ``chunks`` as one byte string."""
    events = [encode_event("messageStart", {"role": "assistant"})]
    events += [encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": c}})
               for c in chunks]
    events += [
        encode_event("contentBlockStop", {"contentBlockIndex": 0}),
        encode_event("messageStop", {"stopReason": call.stop_reason}),
        encode_event("metadata", {"usage": _usage(call),
                                  "metrics": {"latencyMs": round(call.total_s * 1000)}}),
    ]
    return b"".join(events)


async def _respond_fault(
    request: web.Request, state: EmulatorState, call: Call, started: float, fault: str,
    *, stream: bool,
) -> web.StreamResponse:
    """The ``cut``, ``garbage`` and ``oversize`` faults (emulator.faults), at the answer's time."""
    await _sleep_until(started + call.total_s)
    if fault == "garbage":
        return faults.not_json()
    chunks = split_chunks(call.text, call.chunk_seed)
    if fault == "oversize":
        text = faults.oversize_text(state.config.oversize_mb)
        call = replace(call, text=text)
        chunks = [text[i : i + 65536] for i in range(0, len(text), 65536)]
    if stream:
        body, content_type = _stream_bytes(call, chunks), EVENTSTREAM_TYPE
    else:
        body, content_type = _dumps(_json_body(call)).encode("utf-8"), "application/json"
    if fault == "cut":
        return await faults.cut_short(request, body, content_type)
    return web.Response(body=body, content_type=content_type.split(";")[0],
                        headers={"x-amzn-RequestId": _request_id()})


async def _respond_json(
    request: web.Request, state: EmulatorState, call: Call, started: float, truncate: bool
) -> web.StreamResponse:
    await _sleep_until(started + call.total_s)
    body = _json_body(call)
    if truncate:
        return faults.truncated_json(_dumps(body).encode("utf-8"))
    response = web.json_response(body, dumps=_dumps, headers={"x-amzn-RequestId": _request_id()})
    _count_answer(state, call, started + call.total_s)
    return response


async def _respond_stream(
    request: web.Request, state: EmulatorState, call: Call, started: float, truncate: bool
) -> web.StreamResponse:
    """messageStart at once, deltas from TTFT to the total latency, then stop + metadata.

    ``truncate``: the stream ends cleanly after half the deltas, without messageStop.
    """
    state.stats.streams += 1
    response = web.StreamResponse(
        headers={"Content-Type": EVENTSTREAM_TYPE, "x-amzn-RequestId": _request_id()}
    )
    try:
        await response.prepare(request)
        await response.write(encode_event("messageStart", {"role": "assistant"}))
        chunks = split_chunks(call.text, call.chunk_seed)
        step = (call.total_s - call.ttft_s) / max(1, len(chunks) - 1)
        for i, chunk in enumerate(chunks[: len(chunks) // 2] if truncate else chunks):
            await _sleep_until(started + call.ttft_s + i * step)
            delta = {"contentBlockIndex": 0, "delta": {"text": chunk}}
            await response.write(encode_event("contentBlockDelta", delta))
        if truncate:
            await response.write_eof()
            return response
        await _sleep_until(started + call.total_s)
        await response.write(encode_event("contentBlockStop", {"contentBlockIndex": 0}))
        await response.write(encode_event("messageStop", {"stopReason": call.stop_reason}))
        metadata = {"usage": _usage(call), "metrics": {"latencyMs": round(call.total_s * 1000)}}
        await response.write(encode_event("metadata", metadata))
        _count_answer(state, call, started + call.total_s)
        await response.write_eof()
    except ConnectionError:
        state.stats.disconnected += 1
    return response


async def converse(request: web.Request) -> web.StreamResponse:
    """``POST /model/{modelId}/converse``: one JSON answer after the drawn latency."""
    return await _handle(request, _respond_json)


async def converse_stream(request: web.Request) -> web.StreamResponse:
    """``POST /model/{modelId}/converse-stream``: eventstream frames paced to the latency."""
    return await _handle(request, _respond_stream)


async def get_stats(request: web.Request) -> web.Response:
    """``GET /stats``: counters and the configuration."""
    return web.json_response(request.app[STATE].snapshot(), dumps=_dumps)


async def reset_stats(request: web.Request) -> web.Response:
    """``POST /stats/reset``: back to the just-started state (counters, seeds, quota)."""
    state = request.app[STATE]
    state.reset()
    return web.json_response(state.snapshot(), dumps=_dumps)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def _bedrock_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Unexpected exceptions become 500 InternalServerException (traceback on stderr)."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return ApiError(404, "UnknownOperationException", f"no route {request.path}").response()
        raise
    except ConnectionResetError:  # an injected reset: the connection is gone, nothing to answer
        raise
    except Exception as exc:
        log.exception("emulator: error while answering %s", request.path)
        request.app[STATE].stats.failed += 1
        return ApiError(500, "InternalServerException", f"emulator bug: {exc!r}").response()
    return response


def build_app(config: EmulatorConfig, model: AnswerModel | None = None) -> web.Application:
    """The aiohttp application; serve it with ``serve`` or aiohttp's test utilities.

    ``model`` says what the emulated model answers (emulator.answers.AnswerModel); by default
    the registered ``reports`` model, our offline writer's reports."""
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_bedrock_errors])
    app[STATE] = EmulatorState(config, model or ANSWER_MODELS.load("reports"))
    app.router.add_post("/model/{model_id:.+}/converse", converse)
    app.router.add_post("/model/{model_id:.+}/converse-stream", converse_stream)
    from report_lib.emulator.invoke import add_invoke_routes  # it builds on this module

    add_invoke_routes(app)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/stats/reset", reset_stats)
    app.router.add_get("/health", health)
    return app


def serve(config: EmulatorConfig, ready: Callable[[str], None] | None = None) -> int:
    """Bind, print ``Bedrock emulator listening on URL``, serve until SIGINT/SIGTERM.

    Returns the exit status: 128 + the signal that stopped it (130 Ctrl-C, 143 SIGTERM), or 0
    when it stopped because its parent process ended.
    """
    _raise_open_files_limit()
    received: list[int] = []
    try:
        asyncio.run(_serve(config, ready, received))
    except KeyboardInterrupt as exc:  # before the loop's handlers (SIGTERM: RunInterrupted)
        received.append(getattr(exc, "signum", signal.SIGINT))
    return 128 + received[0] if received else 0


async def _serve(
    config: EmulatorConfig, ready: Callable[[str], None] | None, received: list[int]
) -> None:
    # No graceful drain on stop: whoever stops the emulator has given up on its calls, and a
    # run interrupted with calls hanging must end within a second or two.
    runner = web.AppRunner(
        build_app(config), access_log=None, handle_signals=False, shutdown_timeout=0.1
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=4096)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_on(sig: int) -> None:
            received.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):  # before READY: a signal after it counts
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop_on, sig)
        print(f"{READY_PREFIX}{url}", flush=True)
        if ready is not None:
            ready(url)
        watcher = None
        if config.parent_pid:
            watcher = asyncio.create_task(_watch_parent(config.parent_pid, stop))
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
    finally:
        await runner.cleanup()


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.warning("emulator: parent process %d ended; stopping", pid)
            stop.set()
            return
        except PermissionError:
            pass


def _raise_open_files_limit() -> None:
    """A thousand concurrent connections need more descriptors than some defaults allow."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
