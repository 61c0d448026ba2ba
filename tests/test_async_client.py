"""Tests of the aiobotocore client: AioStubber unit tests, then HTTP against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiobotocore.stub import AioStubber

from report_lib.emulator import Emulator
from report_lib.errors import BackendError, CredentialsError, ThrottledError
from report_lib.jobs import CallOutcome, ReportJob
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.settings import BackendSettings
from tests.helpers import converse_response

T = TypeVar("T")
MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
JOB = ReportJob(key="cpo", kind="cpo", system="You write reports.", prompt="Write the CPO report.")


def settings_for(**kw: Any) -> BackendSettings:
    base: dict[str, Any] = {
        "backend": "bedrock",
        "model_id": MODEL,
        "region": "us-east-1",
        "max_tokens": 300,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.002,
        "max_attempts": 4,
    }
    return BackendSettings(**{**base, **kw})



def with_bedrock(
    settings: BackendSettings, body: Callable[[AsyncBedrock], Awaitable[T]], concurrency: int = 10
) -> T:
    async def main() -> T:
        async with AsyncBedrock(settings, concurrency) as bedrock:
            return await body(bedrock)

    return asyncio.run(main())


# -- construction -----------------------------------------------------------------------------
@pytest.mark.parametrize(("concurrency", "pool"), [(3, 10), (10, 10), (50, 50), (500, 500)])
def test_pool_is_sized_to_the_concurrency(
    dummy_credentials: None, concurrency: int, pool: int
) -> None:
    async def body(bedrock: AsyncBedrock) -> Any:
        return bedrock.client.meta.config

    config = with_bedrock(settings_for(), body, concurrency)
    assert config.max_pool_connections == pool
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_no_credentials_gives_guidance(no_credentials: None) -> None:
    async def body(bedrock: AsyncBedrock) -> None:
        return None

    with pytest.raises(CredentialsError, match="--backend offline"):
        with_bedrock(settings_for(), body)


def test_emulator_backend_needs_no_credentials(no_credentials: None) -> None:
    async def body(bedrock: AsyncBedrock) -> str:
        return str(bedrock.client.meta.endpoint_url)

    url = "http://127.0.0.1:9"
    assert with_bedrock(settings_for(backend="emulator", endpoint_url=url), body) == url


# -- AioStubber -------------------------------------------------------------------------------
def stubbed_call(
    settings: BackendSettings, script: Callable[[AioStubber], None]
) -> tuple[CallOutcome | BaseException, bool]:
    """Run one converse with the stubbed responses; return the outcome (or error) and whether
    every stubbed response was used."""

    async def body(bedrock: AsyncBedrock) -> tuple[CallOutcome | BaseException, bool]:
        with AioStubber(bedrock.client) as stubber:
            script(stubber)
            try:
                result: CallOutcome | BaseException = await bedrock.converse(JOB)
            except BackendError as exc:
                result = exc
            return result, not stubber._queue

    return with_bedrock(settings, body)


def test_converse_parses_the_answer(dummy_credentials: None) -> None:
    expected = {
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": "Write the CPO report."}]}],
        "system": [{"text": "You write reports."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2},
    }
    result, used_all = stubbed_call(
        settings_for(),
        lambda s: s.add_response("converse", converse_response("# CPO", 9, 2), expected),
    )
    assert isinstance(result, CallOutcome)
    assert (result.text, result.input_tokens, result.output_tokens, result.attempts) == (
        "# CPO", 9, 2, 1
    )
    assert used_all


def test_throttled_twice_then_success(dummy_credentials: None) -> None:
    def script(stubber: AioStubber) -> None:
        stubber.add_client_error("converse", "ThrottlingException", "Too many tokens", 429)
        stubber.add_client_error("converse", "ThrottlingException", "Too many tokens", 429)
        stubber.add_response("converse", converse_response("ok", 1, 1))

    result, used_all = stubbed_call(settings_for(), script)
    assert isinstance(result, CallOutcome)
    assert result.attempts == 3
    assert used_all


def test_validation_error_fails_fast(dummy_credentials: None) -> None:
    message = "Malformed input request, please reformat your input and try again."
    result, used_all = stubbed_call(
        settings_for(),
        lambda s: s.add_client_error("converse", "ValidationException", message, 400),
    )
    assert isinstance(result, BackendError) and not isinstance(result, ThrottledError)
    assert (result.error_type, result.attempts) == ("ValidationException", 1)
    assert message in str(result)
    assert used_all


def test_retry_budget_exhausted(dummy_credentials: None) -> None:
    def script(stubber: AioStubber) -> None:
        for _ in range(3):
            stubber.add_client_error("converse", "ThrottlingException", "Too many tokens", 429)

    result, used_all = stubbed_call(settings_for(max_attempts=3), script)
    assert isinstance(result, ThrottledError)
    assert (result.error_type, result.attempts) == ("ThrottlingException", 3)
    assert used_all


# -- HTTP against the emulator ----------------------------------------------------------------
@pytest.fixture(scope="module")
def emulator() -> Any:
    with Emulator(latency_model="fixed:0.05", seed=0) as emu:
        yield emu


def test_http_async_converse(dummy_credentials: None, emulator: Any) -> None:
    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB)

    outcome = with_bedrock(settings_for(endpoint_url=emulator.url), body)
    assert outcome.text.strip() and outcome.attempts == 1
    assert outcome.input_tokens > 0 and outcome.output_tokens > 0


def test_http_async_stream(dummy_credentials: None, emulator: Any) -> None:
    seen: list[str] = []

    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB, on_text=seen.append)

    outcome = with_bedrock(settings_for(endpoint_url=emulator.url, stream=True), body)
    assert len(seen) > 1 and "".join(seen) == outcome.text
    assert outcome.ttft_s is not None and outcome.ttft_s > 0
    assert outcome.input_tokens > 0 and outcome.output_tokens > 0


def test_http_pool_does_not_cap_concurrency_at_ten(dummy_credentials: None) -> None:
    n = 24
    jobs = [ReportJob(key=f"j{i}", kind="kpi", system="", prompt=f"job {i}") for i in range(n)]

    async def body(bedrock: AsyncBedrock) -> list[CallOutcome]:
        return list(await asyncio.gather(*(bedrock.converse(j) for j in jobs)))

    with Emulator(latency_model="fixed:0.5") as emu:
        outcomes = with_bedrock(settings_for(endpoint_url=emu.url, max_tokens=20), body, n)
        stats = emu.stats()
    assert all(o.attempts == 1 for o in outcomes)
    assert stats["answered"] == n
    assert stats["max_in_flight"] == n  # aiobotocore's default pool would hold this at 10


def test_http_throttle_first_then_success(dummy_credentials: None) -> None:
    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB)

    with Emulator(latency_model="fixed:0.02", throttle_first=2) as emu:
        outcome = with_bedrock(settings_for(endpoint_url=emu.url, stream=True), body)
        assert emu.stats()["throttled"] == 2
    assert outcome.attempts == 3
