"""Network faults the emulator can inject after admitting a request (for the fault suite).

- ``hang``: never answer; the handler returns when the client gives up and disconnects.
- ``reset``: drop the connection with a TCP RST before any byte of the answer.
- ``truncate``: a 200 answer cut short: half the JSON body (with a matching Content-Length),
  or a ConverseStream that ends after a few deltas without ``messageStop``.
- ``slow``: wait ``slow_s`` (x time scale) before the normal answer: "slow, then fine".
- ``cut``: a 200 answer whose headers announce the whole body's Content-Length, half of the
  body, then the connection closed: a body cut short under its Content-Length (JSON or stream).
- ``garbage``: a 200 answer whose body is not JSON (an HTML page, as a captive portal sends).
- ``oversize``: a 200 answer, well formed, of ``oversize_mb`` megabytes of text, far more than
  any ``maxTokens`` allows (JSON, or a ConverseStream of large deltas).

Each fault has ``*_first N`` (the first N admitted requests get it; hang first, then reset,
truncate, slow) and ``*_rate P`` (each later request gets it with probability P, drawn from the
seeded fault generator).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING

from aiohttp import web

from report_lib.emulator.options import FAULT_NAMES

if TYPE_CHECKING:
    from report_lib.emulator.state import EmulatorState

FAULTS: tuple[str, ...] = FAULT_NAMES  # hang, reset, truncate, slow, cut, garbage, oversize
BODY_FAULTS: tuple[str, ...] = ("cut", "garbage", "oversize")  # answered instead of the answer
GARBAGE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n"
    "<body><h1>Welcome</h1><p>Accept the terms of use to continue.</p></body></html>\n"
)


def draw_fault(state: EmulatorState) -> str | None:
    """The fault this admitted request gets, if any (counted in the stats)."""
    config = state.config
    for name in FAULTS:
        if state.stats.faults[name] < getattr(config, f"{name}_first"):
            return _count(state, name)
    for name in FAULTS:
        rate = getattr(config, f"{name}_rate")
        if rate and state.fault_rng.random() < rate:
            return _count(state, name)
    return None


def _count(state: EmulatorState, name: str) -> str:
    state.stats.faults[name] += 1
    return name


async def hang(request: web.Request, poll_s: float = 0.2) -> web.StreamResponse:
    """Answer nothing until the client disconnects; then return a response nobody reads."""
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(poll_s)
    return web.Response(status=499)


def reset(request: web.Request) -> web.StreamResponse:
    """Abort the connection with SO_LINGER 0, so the client sees ECONNRESET."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise ConnectionResetError("emulator: connection reset (--reset-first/--reset-rate)")


def truncated_json(body: bytes) -> web.Response:
    """The first half of ``body`` as a complete HTTP answer (Content-Length of the half)."""
    return web.Response(
        body=body[: max(1, len(body) // 2)],
        content_type="application/json",
        headers={"x-amzn-RequestId": "emulator-truncated"},
    )


async def cut_short(request: web.Request, body: bytes, content_type: str) -> web.StreamResponse:
    """Announce ``len(body)`` bytes, send the first half, close the connection (no RST)."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": content_type, "x-amzn-RequestId": "emulator-cut"}
    )
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    transport = request.transport
    if transport is not None:
        transport.close()  # what was written goes out first, then FIN
    raise ConnectionResetError("emulator: body cut short (--cut-first/--cut-rate)")


def not_json() -> web.Response:
    """A 200 answer with an HTML page instead of the JSON (or event stream) asked for."""
    return web.Response(
        text=GARBAGE_PAGE, content_type="text/html", headers={"x-amzn-RequestId": "emulator-html"}
    )


def oversize_text(megabytes: float) -> str:
    """``megabytes`` MB of plain text (ASCII: one byte a character)."""
    line = "An answer far longer than maxTokens allows. " * 4 + "\n"
    size = int(megabytes * 1024 * 1024)
    return (line * (size // len(line) + 1))[:size]
