"""The direct Converse transport (report_lib.llm.direct) against botocore's own.

The request: what botocore's client hands to its HTTP session (its ``before-send`` event) and
what the direct transport hands to the same session, for the same settings, fixed credentials,
a frozen clock and a fixed invocation id: method, URL, body, headers and signature byte for
byte, sync and asyncio. The errors: every error class the emulator can produce, through both
transports against one real emulator process, sync and asyncio: the same exception, error type,
attempt count and message.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from report_lib.emulator import Emulator
from report_lib.errors import BackendError, ConfigError, TransportWarning
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.direct import (
    AsyncDirectConverse,
    DirectConverse,
    uses_direct,
    with_direct_converse,
)
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import make_client
from report_lib.llm.wire import build_request
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import bedrock_test_settings, call_once, emulator_test_settings

JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.",
                prompt="Write the report: 충전소 — “quotes” and \\ backslashes.")
FROZEN = datetime.datetime(2026, 1, 2, 3, 4, 5)
INVOCATION = uuid.UUID("12345678-1234-5678-1234-567812345678")
MODES = ("sync", "async")


class Captured(Exception):
    """Raised instead of sending: carries the request that would have gone out."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fixed credentials (with a session token), a frozen signing clock, a fixed invocation id."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-example")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: FROZEN)
    monkeypatch.setattr(uuid, "uuid4", lambda: INVOCATION)
    yield


def _wire(request: Any) -> tuple[str, str, bytes, list[tuple[str, bytes]]]:
    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode()

    body = request.body if isinstance(request.body, bytes) else raw(request.body or b"")
    return (request.method, request.url, body,
            [(str(key), raw(value)) for key, value in request.headers.items()])


def _botocore_capture(client: Any, **_: Any) -> None:
    def before_send(request: Any, **__: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send.bedrock-runtime.Converse", before_send)


SETTINGS = [
    pytest.param({}, id="aws-endpoint"),
    pytest.param({"endpoint_url": "http://127.0.0.1:9/", "region": "eu-west-3"}, id="http"),
    pytest.param({"model_id": "arn:aws:bedrock:us-east-1:1:inference-profile/x y+z",
                  "temperature": 1, "system": "설명"}, id="arn-model"),
]


@pytest.mark.parametrize("changes", SETTINGS)
def test_sync_direct_request_is_botocores_byte_for_byte(frozen: None,
                                                        changes: dict[str, Any]) -> None:
    request = build_request(JOB, bedrock_test_settings(**changes))
    sent = []
    for transport in ("botocore", "direct"):
        settings = bedrock_test_settings(transport=transport, **changes)
        client = make_client(settings)
        if transport == "direct":
            assert isinstance(client, DirectConverse)
            client.http = type("Capture", (), {"send": staticmethod(
                lambda prepared: (_ for _ in ()).throw(Captured(prepared)))})()
        else:
            _botocore_capture(client)
        with pytest.raises(Captured) as got:
            client.converse(**request)
        sent.append(_wire(got.value.request))
        client.close()
    botocore_sent, direct_sent = sent
    assert direct_sent == botocore_sent
    headers = dict(direct_sent[3])
    assert headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/")
    assert headers["X-Amz-Security-Token"] == b"session-token-example"


@pytest.mark.parametrize("changes", SETTINGS)
def test_async_direct_request_is_aiobotocores_byte_for_byte(frozen: None,
                                                            changes: dict[str, Any]) -> None:
    request = build_request(JOB, bedrock_test_settings(**changes))

    async def capture(transport: str) -> tuple[str, str, bytes, list[tuple[str, bytes]]]:
        async with AsyncBedrock(bedrock_test_settings(transport=transport, **changes)) as bed:
            client = bed.client
            if transport == "direct":
                assert isinstance(client, AsyncDirectConverse)

                async def send(prepared: Any) -> None:
                    raise Captured(prepared)

                client.http = type("Capture", (), {"send": staticmethod(send)})()
            else:
                _botocore_capture(client)
            with pytest.raises(Captured) as got:
                await client.converse(**request)
            return _wire(got.value.request)

    async def both() -> list[Any]:
        return [await capture("botocore"), await capture("direct")]

    botocore_sent, direct_sent = asyncio.run(both())
    assert direct_sent == botocore_sent


@pytest.mark.parametrize("changes", SETTINGS)
def test_the_direct_body_validates_against_the_service_model(frozen: None,
                                                             changes: dict[str, Any]) -> None:
    settings = bedrock_test_settings(**changes)
    client = make_client(settings)
    sent: list[Any] = []

    def send(prepared: Any) -> None:
        sent.append(prepared)
        raise Captured(prepared)

    client.http = type("Capture", (), {"send": staticmethod(send)})()
    with pytest.raises(Captured):
        client.converse(**build_request(JOB, settings))
    body = json.loads(sent[0].body)
    model = sent[0].url.split("/model/")[1].removesuffix("/converse")
    shape = client.meta.service_model.operation_model("Converse").input_shape
    validate_parameters({"modelId": unquote(model), **body}, shape)  # raises when invalid
    assert {"modelId": unquote(model), **body} == build_request(JOB, settings)
    client.close()


def test_the_setting_picks_the_transport() -> None:
    assert uses_direct(BackendSettings())
    assert not uses_direct(BackendSettings(transport="botocore"))
    # botocore's adaptive mode keeps its client-side rate limiter: botocore's pipeline
    assert not uses_direct(BackendSettings(retry_mode="adaptive"))
    with pytest.raises(ConfigError, match="transport must be 'direct' or 'botocore'"):
        BackendSettings(transport="http2")


def test_a_botocore_without_the_internals_falls_back_to_its_pipeline_with_a_warning(
    dummy_credentials: None,
) -> None:
    settings = bedrock_test_settings()
    client = make_client(replace(settings, transport="botocore"))
    assert isinstance(with_direct_converse(client, settings, DirectConverse), DirectConverse)
    del client._endpoint  # as if a botocore release had renamed it
    with pytest.warns(TransportWarning, match="--transport botocore"):
        fallback = with_direct_converse(client, settings, DirectConverse)
    assert fallback is client
    assert with_direct_converse(client, replace(settings, transport="botocore"),
                                DirectConverse) is client  # told so: no warning, no wrapper


# -- every error class, through both transports, against a real emulator ------------------------
FAULTS = [
    pytest.param({"throttle_rate": 1.0}, id="throttled-429"),
    pytest.param({"fail_rate": 1.0}, id="server-error-5xx"),
    pytest.param({"bad_role": True}, id="validation-400"),
    pytest.param({"reset_rate": 1.0}, id="reset"),
    pytest.param({"truncate_rate": 1.0}, id="truncated"),
    pytest.param({"cut_rate": 1.0}, id="cut-under-content-length"),
    pytest.param({"garbage_rate": 1.0}, id="not-json"),
    pytest.param({"oversize_rate": 1.0, "oversize_mb": 2}, id="oversize"),
    pytest.param({"slow_rate": 1.0, "slow_s": 3.0}, id="read-timeout"),
]


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    return lambda **faults: start_emulator(latency_model="fixed:0.02", seed=3, **faults)


def _seen(result: CallOutcome | BackendError) -> tuple[Any, ...]:
    if isinstance(result, CallOutcome):
        return ("answer", result.text, result.attempts)
    return (type(result).__name__, result.error_type, result.attempts, str(result))


@pytest.mark.slow
@pytest.mark.parametrize("faults", FAULTS)
@pytest.mark.parametrize("mode", MODES)
def test_each_error_class_is_the_same_through_both_transports(
    emulator: Callable[..., Emulator], mode: str, faults: dict[str, Any]
) -> None:
    faults = dict(faults)
    # the emulator answers 400 ValidationException to a message role Converse does not know,
    # as Bedrock does
    job = replace(JOB, turns=(("narrator", "x"),)) if faults.pop("bad_role", False) else JOB
    emu = emulator(**faults)
    seen = {}
    for transport in ("botocore", "direct"):
        emu.reset_stats()
        settings = emulator_test_settings(emu.url, transport=transport, read_timeout=1.0)
        result = call_once(mode, settings, job)
        seen[transport] = _seen(result)
        # one request per attempt: botocore retries nothing under report_lib's retry loop
        attempts = result.attempts
        assert emu.stats()["requests"] == attempts >= 1, (transport, emu.stats())
    assert seen["direct"][0] != "answer", seen  # the fault reached the caller as an error
    assert seen["direct"] == seen["botocore"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_refused_connection_is_the_same_through_both_transports(mode: str) -> None:
    seen = {}
    for transport in ("botocore", "direct"):
        settings = emulator_test_settings("http://127.0.0.1:9", transport=transport,
                                          connect_timeout=1.0)
        seen[transport] = _seen(call_once(mode, settings, JOB))
    assert seen["direct"][:3] == ("BackendError", "EndpointConnectionError", 2)
    assert seen["direct"] == seen["botocore"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_throttled_answer_is_botocores_client_error(
    emulator: Callable[..., Emulator], mode: str
) -> None:
    emu = emulator(throttle_rate=1.0)
    request = build_request(JOB, emulator_test_settings(emu.url))

    def raised(transport: str) -> ClientError:
        settings = emulator_test_settings(emu.url, transport=transport)

        async def acall() -> None:
            async with AsyncBedrock(settings) as bed:
                await bed.client.converse(**request)

        with pytest.raises(ClientError) as got:
            if mode == "sync":
                make_client(settings).converse(**request)
            else:
                asyncio.run(acall())
        return got.value

    botocore_error, direct_error = raised("botocore"), raised("direct")
    assert type(direct_error).__name__ == type(botocore_error).__name__ == "ThrottlingException"
    assert direct_error.response["Error"] == botocore_error.response["Error"]
    meta, theirs = (e.response["ResponseMetadata"] for e in (direct_error, botocore_error))
    assert meta["HTTPStatusCode"] == theirs["HTTPStatusCode"] == 429
    assert set(meta["HTTPHeaders"]) == set(theirs["HTTPHeaders"])


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_an_answer_is_the_same_dict_through_both_transports(
    emulator: Callable[..., Emulator], mode: str
) -> None:
    emu = emulator()
    request = build_request(JOB, emulator_test_settings(emu.url))

    def answer(transport: str) -> dict[str, Any]:
        settings = emulator_test_settings(emu.url, transport=transport)

        async def acall() -> dict[str, Any]:
            async with AsyncBedrock(settings) as bed:
                response: dict[str, Any] = await bed.client.converse(**request)
                return response

        return make_client(settings).converse(**request) if mode == "sync" else asyncio.run(
            acall())

    theirs, ours = answer("botocore"), answer("direct")
    meta, their_meta = ours.pop("ResponseMetadata"), theirs.pop("ResponseMetadata")
    assert ours == theirs and ours["output"]["message"]["content"][0]["text"].startswith("#")
    assert meta["HTTPStatusCode"] == their_meta["HTTPStatusCode"] == 200
    assert set(meta["HTTPHeaders"]) == set(their_meta["HTTPHeaders"])
