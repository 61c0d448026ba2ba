"""Encoder for ``application/vnd.amazon.eventstream`` frames (what ConverseStream sends).

Frame: u32 total length, u32 headers length, u32 CRC32 of those 8 bytes, headers, payload,
u32 CRC32 of everything before it. Only string headers (type 7) are needed here. botocore's
``botocore.eventstream`` is the decoder the tests check against.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from report_lib.errors import ConfigError

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING_HEADER = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def encode_headers(headers: dict[str, str]) -> bytes:
    """String headers: name length (u8), name, type 7, value length (u16), value."""
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if len(raw_name) > 255 or len(raw_value) > 65535:
            raise ConfigError(f"eventstream header {name!r} is too long")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One complete frame with both CRCs."""
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return head + _CRC.pack(zlib.crc32(head))


def encode_event(event_type: str, body: dict[str, Any]) -> bytes:
    """An ``event`` frame with a JSON payload, as ConverseStream emits it."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(body, ensure_ascii=False).encode("utf-8"))


def encode_exception(exception_type: str, message: str) -> bytes:
    """An ``exception`` frame (e.g. ``throttlingException``) for errors after the stream began."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    payload = json.dumps({"message": message}, ensure_ascii=False).encode("utf-8")
    return encode_message(headers, payload)
