"""The emulator's InvokeModel (Anthropic Messages body): real boto3 and the real Anthropic SDK."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from report_lib.emulator import Emulator
from report_lib.llm.tokens import estimate_tokens
from tests.helpers import MODEL as MODEL_ID
from tests.helpers import bedrock_client

FAST = "fixed:0.05"
PROMPT = "Write the monthly charging report in three paragraphs."
SYSTEM = "You are a careful analyst who writes in plain English."


def messages_body(text: str = PROMPT, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    body.update(extra)
    return body


def invoke(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke_model(modelId=MODEL_ID, body=json.dumps(body),
                                   contentType="application/json", accept="application/json")
    out: dict[str, Any] = json.loads(response["body"].read())
    out["_headers"] = response["ResponseMetadata"]["HTTPHeaders"]
    return out


def stream_chunks(client: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.invoke_model_with_response_stream(modelId=MODEL_ID, body=json.dumps(body))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


@pytest.mark.slow
def test_invoke_model_answers_a_messages_response(emu: Emulator, client: Any) -> None:
    out = invoke(client, messages_body())
    text = "".join(block["text"] for block in out["content"])
    assert out["type"] == "message" and out["role"] == "assistant"
    assert out["id"].startswith("msg_bdrk_") and out["model"] == MODEL_ID
    assert out["stop_reason"] == "end_turn" and out["stop_sequence"] is None
    assert out["usage"] == {"input_tokens": estimate_tokens(PROMPT),
                            "output_tokens": estimate_tokens(text)}
    headers = out["_headers"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(out["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(out["usage"]["output_tokens"])
    assert headers["x-amzn-bedrock-invocation-latency"] == "50"
    # the same answer Converse gives for the same prompt
    converse = client.converse(modelId=MODEL_ID,
                               messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    assert converse["output"]["message"]["content"][0]["text"] == text


@pytest.mark.slow
def test_invoke_model_system_string_and_max_tokens(client: Any) -> None:
    with_system = invoke(client, messages_body(system=SYSTEM))
    assert with_system["usage"]["input_tokens"] == estimate_tokens(SYSTEM + "\n" + PROMPT)
    blocks = invoke(client, messages_body(system=[{"type": "text", "text": SYSTEM}]))
    assert blocks["usage"] == with_system["usage"]
    short = invoke(client, messages_body(max_tokens=20))
    assert short["stop_reason"] == "max_tokens"
    assert short["usage"]["output_tokens"] <= 20
    string_content = messages_body()
    string_content["messages"][0]["content"] = PROMPT  # a plain string is a valid content
    assert invoke(client, string_content)["content"] == invoke(client, messages_body())["content"]


@pytest.mark.parametrize(("body", "needle"), [
    ({k: v for k, v in messages_body().items() if k != "anthropic_version"},
     "required key [anthropic_version] not found"),
    ({k: v for k, v in messages_body().items() if k != "max_tokens"},
     "required key [max_tokens] not found"),
    (messages_body(model="claude"), "extraneous key [model] is not permitted"),
    (messages_body(max_tokens=0), "max_tokens"),
])
def test_invoke_model_rejects_a_malformed_body(client: Any, body: dict[str, Any],
                                               needle: str) -> None:
    with pytest.raises(ClientError) as caught:
        invoke(client, body)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert needle in error["Message"]


def test_invoke_with_response_stream_chunks(emu: Emulator, client: Any) -> None:
    full = invoke(client, messages_body())
    events = stream_chunks(client, messages_body())
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"} and len(kinds) > 6
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == full["content"][0]["text"]
    assert events[0]["message"]["usage"]["input_tokens"] == full["usage"]["input_tokens"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["output_tokens"] == full["usage"]["output_tokens"]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == full["usage"]["input_tokens"]
    assert metrics["outputTokenCount"] == full["usage"]["output_tokens"]
    assert metrics["invocationLatency"] == 50


@pytest.mark.slow
def test_invoke_is_admitted_under_the_same_quota() -> None:
    # each request reserves its input + max_tokens (2,000): two fit in 5,000, then 429
    with Emulator(latency_model=FAST, tpm=5000, seed=1) as emu:
        client = bedrock_client(emu.url)
        with pytest.raises(ClientError) as caught:
            for _ in range(50):
                invoke(client, messages_body())
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert emu.stats()["throttled"] >= 1


anthropic = pytest.importorskip(
    "anthropic", reason="the `peers` dependency group is not installed (pip install -e '.[peers]')")


def sdk_client(url: str) -> Any:
    return anthropic.AsyncAnthropicBedrock(
        aws_access_key="testing", aws_secret_key="testing", aws_region="us-east-1",
        base_url=url, max_retries=0)


def test_anthropic_sdk_messages_create(emu: Emulator, client: Any) -> None:
    async def both() -> tuple[Any, str]:
        sdk = sdk_client(emu.url)
        try:
            message = await sdk.messages.create(
                model=MODEL_ID, max_tokens=2000, system=SYSTEM, extra_body={"temperature": 0.2},
                messages=[{"role": "user", "content": PROMPT}])
            async with sdk.messages.stream(
                model=MODEL_ID, max_tokens=2000, system=SYSTEM,
                messages=[{"role": "user", "content": PROMPT}],
            ) as stream:
                streamed = await stream.get_final_text()
            return message, streamed
        finally:
            await sdk.close()

    message, streamed = asyncio.run(both())
    expected = invoke(client, messages_body(system=SYSTEM))
    assert message.content[0].text == expected["content"][0]["text"] == streamed
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == expected["usage"]["input_tokens"]
    assert message.usage.output_tokens == expected["usage"]["output_tokens"]


@pytest.mark.slow
def test_anthropic_sdk_sees_a_throttle_as_429() -> None:
    with Emulator(latency_model=FAST, throttle_first=1, seed=1) as emu:
        async def once() -> None:
            sdk = sdk_client(emu.url)
            try:
                await sdk.messages.create(model=MODEL_ID, max_tokens=100,
                                          messages=[{"role": "user", "content": PROMPT}])
            finally:
                await sdk.close()

        with pytest.raises(anthropic.RateLimitError):
            asyncio.run(once())
        asyncio.run(once())  # the second is admitted
        assert emu.stats()["throttled"] == 1
