"""Tests of the aiobotocore client: AioStubber unit tests, then HTTP against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiobotocore.stub import AioStubber

from report_lib.emulator import Emulator
from report_lib.errors import BackendError, CredentialsError, ThrottledError
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.settings import BackendSettings
from report_lib.llm.testing import MockBedrock, client_error, converse_response, stream_events
from report_lib.llm.tokens import estimate_tokens
from report_lib.records import CallOutcome, ReportJob
from tests.helpers import MODEL, bedrock_test_settings

T = TypeVar("T")
JOB = ReportJob(key="cpo", kind="cpo", system="You write reports.", prompt="Write the CPO report.")


settings_for = bedrock_test_settings



def with_bedrock(
    settings: BackendSettings, body: Callable[[AsyncBedrock], Awaitable[T]], concurrency: int = 10
) -> T:
    async def main() -> T:
        async with AsyncBedrock(settings, concurrency) as bedrock:
            return await body(bedrock)

    return asyncio.run(main())


# -- construction -----------------------------------------------------------------------------
@pytest.mark.slow
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


# -- the request validates against botocore's service model (AioStubber) -----------------------
def test_request_matches_the_service_model(dummy_credentials: None) -> None:
    expected = {
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": "Write the CPO report."}]}],
        "system": [{"text": "You write reports."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2},
    }

    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        with AioStubber(bedrock.client) as stubber:
            stubber.add_response("converse", converse_response("# CPO", 9, 2), expected)
            outcome = await bedrock.converse(JOB)
            stubber.assert_no_pending_responses()
        return outcome

    # AioStubber hooks aiobotocore's pipeline: the botocore transport (the direct one sends
    # the same bytes: tests/llm/test_direct.py)
    outcome = with_bedrock(settings_for(transport="botocore"), body)
    assert (outcome.text, outcome.input_tokens, outcome.output_tokens, outcome.attempts) == (
        "# CPO", 9, 2, 1
    )


# -- MockBedrock ------------------------------------------------------------------------------
def mocked_call(settings: BackendSettings, mock: MockBedrock) -> CallOutcome | BackendError:
    """One async converse against ``mock``: the outcome, or the BackendError it ended with."""

    async def main() -> CallOutcome | BackendError:
        async with AsyncBedrock(settings, client=mock.aclient) as bedrock:
            try:
                return await bedrock.converse(JOB)
            except BackendError as exc:
                return exc

    return asyncio.run(main())


def test_converse_sends_the_job_and_parses_the_answer() -> None:
    mock = MockBedrock.script(converse_response("# CPO", 9, 2))
    result = mocked_call(settings_for(), mock)
    assert isinstance(result, CallOutcome)
    assert (result.text, result.input_tokens, result.output_tokens, result.attempts) == (
        "# CPO", 9, 2, 1
    )
    assert mock.requests[0]["system"] == [{"text": "You write reports."}]


def test_throttled_twice_then_success() -> None:
    throttled = client_error("ThrottlingException", 429, "Too many tokens")
    mock = MockBedrock.script(throttled, throttled, converse_response("ok", 1, 1))
    result = mocked_call(settings_for(), mock)
    assert isinstance(result, CallOutcome)
    assert (result.attempts, len(mock.requests)) == (3, 3)


def test_validation_error_fails_fast() -> None:
    message = "Malformed input request, please reformat your input and try again."
    mock = MockBedrock.script(client_error("ValidationException", 400, message))
    result = mocked_call(settings_for(), mock)
    assert isinstance(result, BackendError) and not isinstance(result, ThrottledError)
    assert (result.error_type, result.attempts) == ("ValidationException", 1)
    assert message in str(result)


def test_retry_budget_exhausted() -> None:
    mock = MockBedrock(lambda op, req: client_error("ThrottlingException", 429, "Too many"))
    result = mocked_call(settings_for(max_attempts=3), mock)
    assert isinstance(result, ThrottledError)
    assert (result.error_type, result.attempts, len(mock.requests)) == (
        "ThrottlingException", 3, 3
    )


def test_stream_is_collected_and_closed() -> None:
    mock = MockBedrock.script(stream_events(["# C", "PO"], 9, 2))
    result = mocked_call(settings_for(stream=True), mock)
    assert isinstance(result, CallOutcome)
    assert (result.text, result.input_tokens, result.output_tokens) == ("# CPO", 9, 2)
    assert mock.operations == ["converse_stream"] and mock.streams[0].closed


# -- HTTP against the emulator ----------------------------------------------------------------
@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator(latency_model="fixed:0.05", seed=0)


@pytest.mark.slow
def test_http_async_converse(dummy_credentials: None, emulator: Any) -> None:
    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB)

    outcome = with_bedrock(settings_for(endpoint_url=emulator.url), body)
    assert outcome.text.strip() and outcome.attempts == 1
    assert outcome.input_tokens == estimate_tokens(f"{JOB.system}\n{JOB.prompt}")
    assert outcome.output_tokens == estimate_tokens(outcome.text)


@pytest.mark.slow
def test_http_async_stream(dummy_credentials: None, emulator: Any) -> None:
    seen: list[str] = []

    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB, on_text=seen.append)

    outcome = with_bedrock(settings_for(endpoint_url=emulator.url, stream=True), body)
    assert len(seen) > 1 and "".join(seen) == outcome.text
    assert outcome.ttft_s is not None and outcome.ttft_s > 0  # a measured time
    assert outcome.input_tokens == estimate_tokens(f"{JOB.system}\n{JOB.prompt}")
    assert outcome.output_tokens == estimate_tokens(outcome.text)


@pytest.mark.slow
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


@pytest.mark.slow
def test_http_throttle_first_then_success(dummy_credentials: None) -> None:
    async def body(bedrock: AsyncBedrock) -> CallOutcome:
        return await bedrock.converse(JOB)

    with Emulator(latency_model="fixed:0.02", throttle_first=2) as emu:
        outcome = with_bedrock(settings_for(endpoint_url=emu.url, stream=True), body)
        assert emu.stats()["throttled"] == 2
    assert outcome.attempts == 3
