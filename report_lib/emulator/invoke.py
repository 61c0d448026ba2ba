"""InvokeModel for Anthropic models: ``POST /model/{modelId}/invoke`` and its streaming twin.

What the Anthropic SDK's ``AnthropicBedrock`` (and boto3's ``invoke_model``) send: the Anthropic
Messages body (``anthropic_version``, ``max_tokens``, ``messages``, optional ``system``,
``stop_sequences``, ``temperature``...; no ``model``: the id is in the URL). Admission (quota,
faults, latency) is the same as Converse's: ``server._handle`` with this module's body parser.

- ``/invoke``: a Messages response (``id``, ``type``, ``role``, ``model``, ``content``,
  ``stop_reason``, ``stop_sequence``, ``usage`` with ``input_tokens``/``output_tokens``) and the
  ``X-Amzn-Bedrock-*`` headers with the token counts and latency;
- ``/invoke-with-response-stream``: eventstream ``chunk`` events whose payload is
  ``{"bytes": base64(JSON)}`` of ``message_start``, ``content_block_start``,
  ``content_block_delta`` (``text_delta``), ``content_block_stop``, ``message_delta`` (stop
  reason, output tokens) and ``message_stop``, which carries ``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from aiohttp import web

from report_lib.emulator import faults
from report_lib.emulator.answers import split_chunks
from report_lib.emulator.eventstream import CONTENT_TYPE as EVENTSTREAM_TYPE
from report_lib.emulator.eventstream import encode_event
from report_lib.emulator.server import (
    ApiError,
    Call,
    _count_answer,
    _dumps,
    _handle,
    _request_id,
    _sleep_until,
)
from report_lib.emulator.state import EmulatorState

# The keys Bedrock accepts in an Anthropic Messages body; any other is "extraneous".
_KNOWN_KEYS = frozenset({
    "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "stop_sequences",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "metadata", "thinking",
})  # fmt: skip


def _malformed(detail: str) -> ApiError:
    return ApiError(400, "ValidationException",
                    f"Malformed input request: #: {detail}, please reformat your input and try "
                    "again.")


def _block_texts(content: Any, where: str) -> list[str]:
    """Texts of a Messages ``content``/``system``: a string or a list of content blocks."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _malformed(f"{where}: expected type: String or JSONArray")
    out = []
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _malformed(f"{where}: every content block needs a type")
        if block["type"] == "text" and isinstance(block.get("text"), str):
            out.append(block["text"])
    return out


def parse_messages_body(
    raw: bytes,
) -> tuple[str, str, str, int | None, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(system, user text, all text, max_tokens, stop_sequences, turns) of an Anthropic
    Messages body; ``turns`` are the messages as (role, text)."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _malformed(f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise _malformed("expected type: JSONObject")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise _malformed(f"required key [{key}] not found")
    extra = sorted(set(body) - _KNOWN_KEYS)
    if extra:
        raise _malformed(f"extraneous key [{extra[0]}] is not permitted")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _malformed(f"max_tokens: {max_tokens!r} is not greater or equal to 1")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _malformed("messages: expected a non-empty JSONArray")
    system = "\n".join(_block_texts(body.get("system", []), "system"))
    user_parts: list[str] = []
    turns: list[tuple[str, str]] = []
    all_parts = [system] if system else []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _malformed(f"messages/{i}/role: must be 'user' or 'assistant'")
        parts = _block_texts(message.get("content"), f"messages/{i}/content")
        turns.append((message["role"], "\n".join(parts)))
        all_parts += parts
        if message["role"] == "user":
            user_parts += parts
    if not user_parts:
        raise ApiError(400, "ValidationException", "no user message carries text content")
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list):
        raise _malformed("stop_sequences: expected type: JSONArray")
    stop_sequences = tuple(s for s in stops if isinstance(s, str))
    return (system, "\n".join(user_parts), "\n".join(all_parts), max_tokens, stop_sequences,
            tuple(turns))


def _message_id() -> str:
    return f"msg_bdrk_{uuid.uuid4().hex[:24]}"


def _bedrock_headers(call: Call) -> dict[str, str]:
    return {
        "x-amzn-RequestId": _request_id(),
        "X-Amzn-Bedrock-Input-Token-Count": str(call.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(call.output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": str(round(call.total_s * 1000)),
    }


async def _respond_message(
    request: web.Request, state: EmulatorState, call: Call, started: float, truncate: bool
) -> web.StreamResponse:
    await _sleep_until(started + call.total_s)
    body = {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": call.model_id,
        "content": [{"type": "text", "text": call.text}],
        "stop_reason": call.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": call.input_tokens, "output_tokens": call.output_tokens},
    }
    if truncate:
        return faults.truncated_json(_dumps(body).encode("utf-8"))
    response = web.json_response(body, dumps=_dumps, headers=_bedrock_headers(call))
    _count_answer(state, call, started + call.total_s)
    return response


def _chunk(event: dict[str, Any]) -> bytes:
    """One ``chunk`` event: {"bytes": base64 of the Messages stream event's JSON}."""
    data = base64.b64encode(_dumps(event).encode("utf-8")).decode("ascii")
    return encode_event("chunk", {"bytes": data})


async def _respond_message_stream(
    request: web.Request, state: EmulatorState, call: Call, started: float, truncate: bool
) -> web.StreamResponse:
    """message_start at once, text deltas from TTFT to the total latency, then the end events.

    ``truncate``: the stream ends cleanly after half the deltas, without message_stop.
    """
    state.stats.streams += 1
    response = web.StreamResponse(headers={
        "Content-Type": EVENTSTREAM_TYPE,
        "X-Amzn-Bedrock-Content-Type": "application/json",
        "x-amzn-RequestId": _request_id(),
    })
    try:
        await response.prepare(request)
        message: dict[str, Any] = {
            "id": _message_id(), "type": "message", "role": "assistant", "model": call.model_id,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": call.input_tokens, "output_tokens": 1},
        }  # fmt: skip
        await response.write(_chunk({"type": "message_start", "message": message}))
        await response.write(_chunk({"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}))
        chunks = split_chunks(call.text, call.chunk_seed)
        step = (call.total_s - call.ttft_s) / max(1, len(chunks) - 1)
        for i, text in enumerate(chunks[: len(chunks) // 2] if truncate else chunks):
            await _sleep_until(started + call.ttft_s + i * step)
            await response.write(_chunk({"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": text}}))
        if truncate:
            await response.write_eof()
            return response
        await _sleep_until(started + call.total_s)
        await response.write(_chunk({"type": "content_block_stop", "index": 0}))
        await response.write(_chunk({
            "type": "message_delta",
            "delta": {"stop_reason": call.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": call.output_tokens},
        }))
        metrics = {
            "inputTokenCount": call.input_tokens,
            "outputTokenCount": call.output_tokens,
            "invocationLatency": round(call.total_s * 1000),
            "firstByteLatency": round(call.ttft_s * 1000),
        }
        await response.write(_chunk({"type": "message_stop",
                                     "amazon-bedrock-invocationMetrics": metrics}))
        _count_answer(state, call, started + call.total_s)
        await response.write_eof()
    except ConnectionError:
        state.stats.disconnected += 1
    return response


async def invoke(request: web.Request) -> web.StreamResponse:
    """``POST /model/{modelId}/invoke``: one Messages answer after the drawn latency."""
    return await _handle(request, _respond_message, parse_messages_body)


async def invoke_stream(request: web.Request) -> web.StreamResponse:
    """``POST /model/{modelId}/invoke-with-response-stream``: ``chunk`` events paced."""
    return await _handle(request, _respond_message_stream, parse_messages_body)


def add_invoke_routes(app: web.Application) -> None:
    """Register the two InvokeModel routes on the emulator's application."""
    app.router.add_post("/model/{model_id:.+}/invoke", invoke)
    app.router.add_post("/model/{model_id:.+}/invoke-with-response-stream", invoke_stream)
