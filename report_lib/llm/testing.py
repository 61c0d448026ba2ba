"""A fake Bedrock Runtime for tests, shipped with the library (like httpx's MockTransport).

``MockBedrock(handler)`` answers Converse and ConverseStream calls from a Python function, in
the sync and the async path, so code using report_lib can be tested without AWS, botocore's
Stubber or the emulator process::

    from report_lib.llm.testing import MockBedrock, converse_response

    mock = MockBedrock(lambda op, request: converse_response("# Report", 12, 3))
    with mock.backend(BackendSettings(backend="bedrock")) as backend:
        assert backend.call(job).text == "# Report"
    assert mock.requests[0]["modelId"] == ...

``handler(operation, request)`` gets ``"converse"`` or ``"converse_stream"`` and the request's
keyword arguments, and returns a Converse response dict (``converse_response``), a list of
ConverseStream events (``stream_events``; an exception in the list is raised mid-stream), or an
exception to raise (``client_error`` builds AWS errors). ``MockBedrock.script(*items)`` answers
the items in order, one per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from report_lib.errors import BackendError
from report_lib.llm.backends import BedrockBackend
from report_lib.llm.settings import BackendSettings

Handler = Callable[[str, dict[str, Any]], Any]


def converse_response(
    text: str | list[str], inp: int, out: int, stop: str = "end_turn"
) -> dict[str, Any]:
    """A Converse response body, one content block per text."""
    texts = [text] if isinstance(text, str) else text
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": t} for t in texts]}},
        "stopReason": stop,
        "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
        "metrics": {"latencyMs": 3},
    }


def stream_events(
    deltas: Sequence[str], inp: int, out: int, stop: str = "end_turn"
) -> list[dict[str, Any]]:
    """The ConverseStream events of an answer made of ``deltas``."""
    usage = {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out}
    return [
        {"messageStart": {"role": "assistant"}},
        *({"contentBlockDelta": {"delta": {"text": d}, "contentBlockIndex": 0}} for d in deltas),
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": stop}},
        {"metadata": {"usage": usage, "metrics": {"latencyMs": 9}}},
    ]


def client_error(code: str, status: int, message: str = "from the mock") -> ClientError:
    """The ClientError botocore raises for an AWS error answer."""
    error = {"Code": code, "Message": message}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse")


class MockStream:
    """A ConverseStream ``stream``: iterable (sync and async), raises exceptions it holds."""

    def __init__(self, events: Sequence[Any]) -> None:
        self.events = list(events)
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self.events:
            if isinstance(event, BaseException):
                raise event
            yield event

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for event in self:
            await asyncio.sleep(0)
            yield event

    def close(self) -> None:
        self.closed = True


class MockBedrock:
    """Fake ``bedrock-runtime`` clients (``.client`` sync, ``.aclient`` async) over ``handler``.

    ``requests`` lists every request in order (thread-safe); ``streams`` the streams handed out.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.operations: list[str] = []
        self.streams: list[MockStream] = []
        self._lock = threading.Lock()
        self.client = _SyncClient(self)
        self.aclient = _AsyncClient(self)

    @classmethod
    def script(cls, *items: Any) -> MockBedrock:
        """Answer ``items`` in order, one per call; a call past the end raises BackendError
        ``UnexpectedCall`` (not retried), so a test that calls too often fails."""
        queue = list(items)
        lock = threading.Lock()

        def next_item(operation: str, request: dict[str, Any]) -> Any:
            with lock:
                if not queue:
                    raise BackendError(
                        f"MockBedrock.script: unexpected {operation} call after the "
                        f"{len(items)} scripted answer(s)",
                        error_type="UnexpectedCall",
                    )
                return queue.pop(0)

        return cls(next_item)

    def answer(self, operation: str, request: dict[str, Any]) -> Any:
        with self._lock:
            self.requests.append(request)
            self.operations.append(operation)
        result = self.handler(operation, request)
        if isinstance(result, BaseException):
            raise result
        if operation == "converse_stream":
            stream = MockStream(result)
            with self._lock:
                self.streams.append(stream)
            return {"stream": stream}
        return result

    def backend(self, settings: BackendSettings, max_concurrency: int = 10) -> BedrockBackend:
        """A BedrockBackend whose sync and async calls go to this mock."""
        return BedrockBackend(settings, max_concurrency, client=self.client, aclient=self.aclient)


class _SyncClient:
    def __init__(self, mock: MockBedrock) -> None:
        self.mock = mock

    def converse(self, **request: Any) -> Any:
        return self.mock.answer("converse", request)

    def converse_stream(self, **request: Any) -> Any:
        return self.mock.answer("converse_stream", request)


class _AsyncClient:
    def __init__(self, mock: MockBedrock) -> None:
        self.mock = mock

    async def converse(self, **request: Any) -> Any:
        await asyncio.sleep(0)
        return self.mock.answer("converse", request)

    async def converse_stream(self, **request: Any) -> Any:
        await asyncio.sleep(0)
        return self.mock.answer("converse_stream", request)
