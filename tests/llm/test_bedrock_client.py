"""Tests of the sync Bedrock client: Stubber and fake-client unit tests, HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import EventStreamError, ReadTimeoutError
from botocore.stub import Stubber

from report_lib.emulator import Emulator
from report_lib.errors import (
    BackendError,
    CallTimeoutError,
    CredentialsError,
    MalformedResponseError,
    ThrottledError,
)
from report_lib.llm.limiter import RateLimiter
from report_lib.llm.quota import burndown_rate
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import converse, make_client
from report_lib.llm.testing import MockBedrock, client_error, converse_response, stream_events
from report_lib.llm.tokens import estimate_tokens
from report_lib.llm.wire import estimate_request_tokens
from report_lib.records import ReportJob
from tests.helpers import MODEL, bedrock_test_settings

JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the KPI report.")


def fast_settings(**kw: Any) -> BackendSettings:
    return bedrock_test_settings(**{"temperature": 0.2, **kw})



# -- client construction ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("concurrency", "pool"), [(1, 10), (10, 10), (64, 64), (300, 300)])
def test_pool_is_sized_to_the_concurrency(
    dummy_credentials: None, concurrency: int, pool: int
) -> None:
    client = make_client(fast_settings(), max_concurrency=concurrency)
    assert client.meta.config.max_pool_connections == pool


def test_botocore_retries_are_off_and_timeouts_set(dummy_credentials: None) -> None:
    settings = fast_settings(retry_mode="adaptive", connect_timeout=2.0, read_timeout=33.0)
    config = make_client(settings).meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 1}
    assert (config.connect_timeout, config.read_timeout) == (2.0, 33.0)
    assert config.tcp_keepalive is True


@pytest.mark.slow
def test_endpoint_url_and_region(dummy_credentials: None) -> None:
    client = make_client(fast_settings(region="ap-northeast-2", endpoint_url="http://127.0.0.1:9"))
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "ap-northeast-2"


def test_no_credentials_gives_guidance(no_credentials: None) -> None:
    with pytest.raises(CredentialsError) as info:
        make_client(fast_settings())
    message = str(info.value)
    for hint in ("AWS_PROFILE", "aws configure", "AWS_ACCESS_KEY_ID", "sso", "--backend emulator",
                 "--backend offline"):
        assert hint in message


def test_unknown_profile_gives_guidance(no_credentials: None) -> None:
    with pytest.raises(CredentialsError, match="'nosuchprofile' not found"):
        make_client(fast_settings(profile="nosuchprofile"))


def test_emulator_backend_needs_no_credentials(no_credentials: None) -> None:
    client = make_client(fast_settings(backend="emulator", endpoint_url="http://127.0.0.1:9"))
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


def test_limiter_reservation_estimate() -> None:
    job = ReportJob(key="k", kind="kpi", system="abcdefgh", prompt="abcd" * 10)
    # 8 + 40 ASCII characters at 4 per token = 2 + 10; Bedrock reserves input + max_tokens,
    # whatever the answer turns out to use
    assert estimate_request_tokens(job, fast_settings(max_tokens=100)) == 2 + 10 + 100
    settings = fast_settings(expected_output_tokens=50)
    assert estimate_request_tokens(job, settings) == 2 + 10 + settings.max_tokens


# -- the request validates against botocore's service model (Stubber) --------------------------
def test_request_matches_the_service_model(dummy_credentials: None) -> None:
    # botocore's Stubber hooks botocore's pipeline: the botocore transport (the direct one
    # sends the same bytes: tests/llm/test_direct.py)
    client = make_client(fast_settings(transport="botocore"))
    expected = {
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": "Write the KPI report."}]}],
        "system": [{"text": "You write reports."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2},
    }
    with Stubber(client) as stubber:
        stubber.add_response("converse", converse_response(["# KPI", " body"], 11, 2), expected)
        outcome = converse(client, JOB, fast_settings())
        stubber.assert_no_pending_responses()
    assert (outcome.text, outcome.input_tokens, outcome.output_tokens) == ("# KPI body", 11, 2)


# -- Converse and ConverseStream through MockBedrock -------------------------------------------
def test_converse_sends_the_job_and_parses_the_answer() -> None:
    mock = MockBedrock.script(converse_response(["# KPI", " body"], 11, 2))
    outcome = converse(mock.client, JOB, fast_settings())
    assert (outcome.text, outcome.input_tokens, outcome.output_tokens) == ("# KPI body", 11, 2)
    assert (outcome.attempts, outcome.stop_reason, outcome.cached) == (1, "end_turn", False)
    assert mock.operations == ["converse"]
    assert mock.requests == [{
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": "Write the KPI report."}]}],
        "system": [{"text": "You write reports."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2},
    }]


def test_settings_system_overrides_the_job() -> None:
    mock = MockBedrock.script(converse_response(["ok"], 1, 1))
    assert converse(mock.client, JOB, fast_settings(system="Be brief.")).text == "ok"
    assert mock.requests[0]["system"] == [{"text": "Be brief."}]


def test_validation_error_fails_fast_with_aws_message() -> None:
    aws_message = "The provided model identifier is invalid."
    mock = MockBedrock.script(client_error("ValidationException", 400, aws_message))
    with pytest.raises(BackendError) as info:
        converse(mock.client, JOB, fast_settings())
    assert not isinstance(info.value, ThrottledError)
    assert (info.value.error_type, info.value.attempts) == ("ValidationException", 1)
    assert aws_message in str(info.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 403), ("ResourceNotFoundException", 404),
     ("UnrecognizedClientException", 403)],
)
def test_access_errors_fail_fast(code: str, status: int) -> None:
    mock = MockBedrock.script(client_error(code, status, f"{code} from AWS"))
    with pytest.raises(BackendError) as info:
        converse(mock.client, JOB, fast_settings())
    assert (info.value.error_type, info.value.attempts) == (code, 1)
    assert f"{code} from AWS" in str(info.value)


def test_throttled_twice_then_success() -> None:
    throttled = client_error("ThrottlingException", 429, "Too many tokens, please wait.")
    mock = MockBedrock.script(throttled, throttled, converse_response(["done"], 5, 1))
    outcome = converse(mock.client, JOB, fast_settings())
    assert (outcome.text, outcome.attempts, len(mock.requests)) == ("done", 3, 3)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailableException", 503), ("InternalServerException", 500),
     ("ModelNotReadyException", 429)],
)
def test_server_errors_are_retried(code: str, status: int) -> None:
    mock = MockBedrock.script(client_error(code, status, "try again"),
                              converse_response(["ok"], 1, 1))
    assert converse(mock.client, JOB, fast_settings()).attempts == 2


def test_retry_budget_exhausted() -> None:
    mock = MockBedrock(lambda op, req: client_error("ThrottlingException", 429, "Too many"))
    with pytest.raises(ThrottledError) as info:
        converse(mock.client, JOB, fast_settings(max_attempts=4))
    assert (info.value.error_type, info.value.attempts) == ("ThrottlingException", 4)
    assert len(mock.requests) == 4  # exactly max_attempts calls were made


def test_empty_answer_is_an_error() -> None:
    mock = MockBedrock.script(converse_response([], 5, 0))
    with pytest.raises(BackendError) as info:
        converse(mock.client, JOB, fast_settings())
    assert (info.value.error_type, info.value.attempts) == ("EmptyResponse", 1)


def test_limiter_is_settled_with_real_usage() -> None:
    mock = MockBedrock.script(converse_response(["ok"], 40, 7))
    clock = [0.0]
    limiter = RateLimiter(tpm=10_000, window_s=60.0, clock=lambda: clock[0],
                          burndown=burndown_rate(MODEL))
    converse(mock.client, JOB, fast_settings(), limiter=limiter)
    assert limiter.available_tokens() == pytest.approx(10_000 - (40 + 5 * 7))  # output x 5


def test_stream_calls_on_text_per_delta_and_records_usage() -> None:
    mock = MockBedrock.script(stream_events(["# Tit", "le\n", "body"], 21, 3))
    seen: list[str] = []
    outcome = converse(mock.client, JOB, fast_settings(stream=True), on_text=seen.append)
    assert seen == ["# Tit", "le\n", "body"]
    assert outcome.text == "# Title\nbody"
    assert (outcome.input_tokens, outcome.output_tokens) == (21, 3)
    assert outcome.ttft_s is not None and outcome.ttft_s >= 0
    assert outcome.stop_reason == "end_turn"
    assert mock.operations == ["converse_stream"] and mock.streams[0].closed


def test_stream_error_midway_is_retried() -> None:
    error = EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "stream broke"}},
        "ConverseStream",
    )
    first = [*stream_events(["partial"], 0, 0)[:2], error]
    mock = MockBedrock.script(first, stream_events(["whole ", "answer"], 8, 2))
    outcome = converse(mock.client, JOB, fast_settings(stream=True))
    assert (outcome.text, outcome.attempts) == ("whole answer", 2)
    assert all(s.closed for s in mock.streams)


def test_read_timeouts_exhaust_into_call_timeout_error() -> None:
    mock = MockBedrock(lambda op, req: ReadTimeoutError(endpoint_url="http://x"))
    with pytest.raises(CallTimeoutError) as info:
        converse(mock.client, JOB, fast_settings(max_attempts=3))
    assert (info.value.error_type, info.value.attempts) == ("ReadTimeout", 3)
    assert len(mock.requests) == 3


def test_truncated_body_is_retried_as_malformed() -> None:
    # botocore hands over a body it cannot parse as JSON as {"message": raw text}
    truncated = {"message": '{"output": {"message": {"role": "assis', "ResponseMetadata": {}}
    mock = MockBedrock.script(truncated, converse_response(["whole"], 3, 1))
    outcome = converse(mock.client, JOB, fast_settings())
    assert (outcome.text, outcome.attempts) == ("whole", 2)


def test_truncated_body_every_time_ends_as_malformed_response() -> None:
    mock = MockBedrock(lambda op, req: {"message": '{"outp'})
    with pytest.raises(MalformedResponseError) as info:
        converse(mock.client, JOB, fast_settings(max_attempts=2))
    assert (info.value.error_type, info.value.attempts) == ("MalformedResponse", 2)
    assert "no output message" in str(info.value) and "'{\"outp'" in str(info.value)


def test_stream_cut_before_message_stop_is_retried() -> None:
    cut = stream_events(["half an"], 1, 1)[:2]  # messageStart + one delta, then EOF
    mock = MockBedrock.script(cut, stream_events(["whole"], 1, 1))
    outcome = converse(mock.client, JOB, fast_settings(stream=True))
    assert (outcome.text, outcome.attempts) == ("whole", 2)


# -- HTTP against the emulator ----------------------------------------------------------------
def facts_job(kind: str, key: str | None = None) -> ReportJob:
    """A real report_lib prompt for ``kind`` built from a small synthetic table."""
    from report_lib.data.sample import synthesize
    from report_lib.reports.facts import compute_facts
    from report_lib.reports.prompts import build_prompt

    df = synthesize(months=3, operators=12, seed=1)
    prompt = build_prompt(compute_facts(df, kind, window=3), "en")
    return ReportJob(key=key or kind, kind=kind, system=prompt.system, prompt=prompt.user,
                     language="en")


@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator(latency_model="fixed:0.05", reject=("trend",), seed=0)


def emulator_settings(url: str, **kw: Any) -> BackendSettings:
    return fast_settings(backend="bedrock", endpoint_url=url, **kw)


@pytest.mark.slow
def test_http_converse(dummy_credentials: None, emulator: Any) -> None:
    client = make_client(emulator_settings(emulator.url))
    outcome = converse(client, JOB, emulator_settings(emulator.url))
    assert outcome.text.strip()
    assert outcome.input_tokens == estimate_tokens(f"{JOB.system}\n{JOB.prompt}")
    assert outcome.output_tokens == estimate_tokens(outcome.text)
    assert outcome.attempts == 1


@pytest.mark.slow
def test_http_converse_stream(dummy_credentials: None, emulator: Any) -> None:
    settings = emulator_settings(emulator.url, stream=True)
    seen: list[str] = []
    outcome = converse(make_client(settings), JOB, settings, on_text=seen.append)
    assert len(seen) > 1  # the answer arrived in several deltas
    assert "".join(seen) == outcome.text
    assert outcome.ttft_s is not None and outcome.ttft_s > 0
    assert outcome.input_tokens == estimate_tokens(f"{JOB.system}\n{JOB.prompt}")
    assert outcome.output_tokens == estimate_tokens(outcome.text)


def test_http_rejected_kind_is_validation_error(dummy_credentials: None, emulator: Any) -> None:
    settings = emulator_settings(emulator.url)
    before = emulator.stats()["requests"]
    with pytest.raises(BackendError) as info:
        converse(make_client(settings), facts_job("trend"), settings)
    assert (info.value.error_type, info.value.attempts) == ("ValidationException", 1)
    assert "trend" in str(info.value)
    assert emulator.stats()["requests"] == before + 1


@pytest.mark.slow
def test_http_throttle_first_then_success(dummy_credentials: None) -> None:
    with Emulator(latency_model="fixed:0.02", throttle_first=2) as emu:
        settings = emulator_settings(emu.url)
        outcome = converse(make_client(settings), JOB, settings)
        stats = emu.stats()
    assert outcome.attempts == 3
    assert (stats["throttled"], stats["answered"]) == (2, 1)


def _run_threads(settings: BackendSettings, jobs: list[ReportJob], limiter: RateLimiter | None
                 ) -> list[Any]:
    client = make_client(settings, max_concurrency=len(jobs))

    def one(job: ReportJob) -> Any:
        try:
            return converse(client, job, settings, limiter=limiter)
        except ThrottledError as exc:
            return exc

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


@pytest.mark.slow
def test_http_limiter_keeps_the_token_quota(dummy_credentials: None) -> None:
    # 8 calls reserving prompt + 5,000 tokens against a 16,000-token bucket refilled every
    # 0.6 s, settled to input + output (~900) x 5, less than reserved: without a limiter the
    # burst is throttled; with one that charges the same way, nothing is. (An answer charged
    # more than its reservation is an extra the client learns of only when the answer comes:
    # see test_quota_emulator.py.)
    time_scale = 0.01
    tpm = 16_000
    jobs = [ReportJob(key=f"j{i}", kind="kpi", system="", prompt=f"Report number {i}: write it.")
            for i in range(8)]
    settings = emulator_settings("", max_tokens=5_000, max_attempts=1)
    with Emulator(latency_model="fixed:1", time_scale=time_scale, tpm=tpm) as emu:
        settings = replace(settings, endpoint_url=emu.url)
        unlimited = _run_threads(settings, jobs, None)
        assert emu.stats()["throttled"] > 0  # the quota does bite without the limiter
        assert any(isinstance(r, ThrottledError) for r in unlimited)
        emu.reset_stats()
        limiter = RateLimiter(tpm=tpm, window_s=60.0 * time_scale,
                              burndown=burndown_rate(settings.model_id))
        limited = _run_threads(settings, jobs, limiter)
        stats = emu.stats()
    assert stats["throttled"] == 0
    assert stats["answered"] == len(jobs)
    assert all(r.attempts == 1 and r.text for r in limited)
    assert stats["quota"]["settled_tokens"] < stats["quota"]["reserved_tokens"]  # refunds
