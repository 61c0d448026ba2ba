"""Bedrock's quotas served by real emulator processes (report_lib.emulator.Emulator), read
through real boto3 and through the report runner with a client-side limiter.

Each quota model: minute bucket | sliding | fixed × accounting bedrock (reserve input +
maxTokens, settle to input + output × burndown) | actual (input + output at admission), plus
requests-per-minute and tokens-per-day quotas, with Bedrock's throttling messages and the
``/stats`` quota counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from report_lib.emulator import Emulator
from report_lib.execution.base import run_jobs
from report_lib.llm.quota import (
    DAY_MESSAGE,
    REQUESTS_MESSAGE,
    TOKENS_MESSAGE,
    burndown_rate,
    charged_tokens,
)
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportJob, ReportResult

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
PROMPT = "Quota probe: write the KPI report."
MAX_TOKENS = 3_000
SLOW_CLOCK = 10.0  # a quota minute of 600 s: nothing refills or rolls over during a test
FAST = "fixed:0.005"


def make_client(url: str) -> Any:
    """A real bedrock-runtime client with dummy credentials and no retries."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client("bedrock-runtime", endpoint_url=url,
                          config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def converse(client: Any, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    result: dict[str, Any] = client.converse(
        modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": PROMPT}]}],
        inferenceConfig={"maxTokens": max_tokens})
    return result


def refused(client: Any) -> ClientError:
    with pytest.raises(ClientError) as info:
        converse(client)
    return info.value


@pytest.fixture(scope="module")
def usage() -> tuple[int, int]:
    """(input, output) tokens of the probe request, as the emulator counts them."""
    with Emulator(latency_model=FAST) as emu:
        answer = converse(make_client(emu.url))["usage"]
    return int(answer["inputTokens"]), int(answer["outputTokens"])


@pytest.fixture(autouse=True)
def _away_from_a_wall_clock_minute() -> Iterator[None]:
    """A fixed quota minute starts on the wall clock: keep a test clear of a boundary."""
    minute_s = 60.0 * SLOW_CLOCK
    left = minute_s - time.time() % minute_s
    if left < 5.0:
        time.sleep(left + 0.1)
    yield


# -- what the server charges, per quota model -----------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("accounting", ["bedrock", "actual"])
@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_tokens_quota_charges_and_refuses_as_documented(
    minute: str, accounting: str, usage: tuple[int, int]
) -> None:
    inp, out = usage
    if accounting == "bedrock":
        reserved = inp + MAX_TOKENS  # taken when the request starts
        settled = charged_tokens(inp, out, burndown_rate(MODEL_ID))  # when it ends
        assert settled == inp + 5 * out
    else:
        reserved = settled = inp + out  # charged what it answers, at admission
    # room for the first request's charge, but not for a second reservation beside it
    # (200 tokens short: far more than a 600 s bucket refills during the test)
    tpm = settled + reserved - 200
    with Emulator(latency_model=FAST, time_scale=SLOW_CLOCK, tpm=tpm, quota_minute=minute,
                  accounting=accounting) as emu:
        client = make_client(emu.url)
        first = converse(client)["usage"]
        assert (first["inputTokens"], first["outputTokens"]) == (inp, out)
        error = refused(client)
        stats = emu.stats()
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.response["Error"]["Message"] == TOKENS_MESSAGE
    quota = stats["quota"]
    assert (quota["minute"], quota["accounting"], quota["tpm"]) == (minute, accounting, tpm)
    assert quota["reserved_tokens"] == reserved
    assert quota["settled_tokens"] == settled
    assert quota["refused_tokens"] == reserved  # what the refused request would have taken
    assert quota["refused_requests"] == 1
    assert quota["refused_by"] == {"tokens": 1, "requests": 0, "day": 0}
    assert quota["tokens_used"] == pytest.approx(settled, abs=5)  # a bucket refills a little
    assert (stats["answered"], stats["throttled"]) == (1, 1)


@pytest.mark.slow
def test_bedrock_accounting_refunds_an_unused_reservation(usage: tuple[int, int]) -> None:
    inp, out = usage
    big = 5 * out + 4_000  # far above what the answer uses, even at 5x
    with Emulator(latency_model=FAST, time_scale=SLOW_CLOCK, tpm=10 * (inp + big),
                  quota_minute="sliding") as emu:
        converse(make_client(emu.url), max_tokens=big)
        quota = emu.stats()["quota"]
    assert quota["reserved_tokens"] == inp + big
    assert quota["settled_tokens"] == quota["tokens_used"] == inp + 5 * out < inp + big


@pytest.mark.slow
def test_burndown_override(usage: tuple[int, int]) -> None:
    inp, out = usage
    with Emulator(latency_model=FAST, time_scale=SLOW_CLOCK, tpm=100_000, burndown=2.0,
                  quota_minute="sliding") as emu:
        converse(make_client(emu.url))
        assert emu.stats()["quota"]["settled_tokens"] == inp + 2 * out


@pytest.mark.slow
@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_requests_per_minute_quota(minute: str) -> None:
    with Emulator(latency_model=FAST, time_scale=SLOW_CLOCK, rpm=2, quota_minute=minute) as emu:
        client = make_client(emu.url)
        converse(client)
        converse(client)
        error = refused(client)
        stats = emu.stats()
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["Error"]["Message"] == REQUESTS_MESSAGE
    assert stats["quota"]["refused_by"] == {"tokens": 0, "requests": 1, "day": 0}
    if minute != "bucket":  # a bucket has refilled a little, and the count is whole
        assert stats["quota"]["requests_used"] == 2
    assert (stats["answered"], stats["throttled"]) == (2, 1)


@pytest.mark.slow
def test_tokens_per_day_quota(usage: tuple[int, int]) -> None:
    inp, _ = usage
    with Emulator(latency_model=FAST, tpm=1_000_000, tpd=inp + MAX_TOKENS + 100,
                  quota_minute="sliding") as emu:
        client = make_client(emu.url)
        converse(client)
        error = refused(client)
        stats = emu.stats()
    assert error.response["Error"]["Message"] == DAY_MESSAGE
    assert stats["quota"]["refused_by"] == {"tokens": 0, "requests": 0, "day": 1}


@pytest.mark.slow
def test_reset_empties_the_quota(usage: tuple[int, int]) -> None:
    inp, _ = usage
    with Emulator(latency_model=FAST, time_scale=SLOW_CLOCK, tpm=inp + MAX_TOKENS,
                  quota_minute="fixed") as emu:
        client = make_client(emu.url)
        converse(client)
        refused(client)
        reset = emu.reset_stats()
        assert reset["quota"]["reserved_tokens"] == reset["quota"]["refused_requests"] == 0
        converse(client)  # the quota is whole again
        assert emu.stats()["quota"]["reserved_tokens"] == inp + MAX_TOKENS


# -- the client with a known quota loses nothing --------------------------------------------------
def _jobs(n: int) -> list[ReportJob]:
    return [ReportJob(key=f"r{i:02d}", kind="kpi", system="You write reports.",
                      prompt=f"Report {i}: the quota run.") for i in range(n)]


def _run(emu: Emulator, strategy: str, n: int, time_scale: float,
         **limits: Any) -> list[ReportResult]:
    settings = BackendSettings(backend="emulator", endpoint_url=emu.url, model_id=MODEL_ID,
                               region="us-east-1", limiter_window_s=60.0 * time_scale, **limits)
    return run_jobs(_jobs(n), settings, strategy=strategy)


def _settled(results: list[ReportResult]) -> int:
    """What the answers cost the quota, computed from the client's own rows."""
    return sum(charged_tokens(r.input_tokens, r.output_tokens, burndown_rate(MODEL_ID))
               for r in results)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_known_tpm_limit_loses_nothing(minute: str, strategy: str) -> None:
    # 24 reports reserving ~2,060 and charged ~3,600 each (input + output x 5) against
    # 36,000 tokens a 3 s minute: the run needs more than two quota minutes
    time_scale, n, tpm = 0.05, 24, 36_000
    with Emulator(latency_model="fixed:1", time_scale=time_scale, tpm=tpm,
                  quota_minute=minute) as emu:
        results = _run(emu, strategy, n, time_scale, tpm_limit=tpm)
        stats = emu.stats()
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok]
    assert stats["answered"] == n
    assert stats["quota"]["settled_tokens"] == _settled(results)
    assert stats["quota"]["settled_tokens"] > 2 * tpm  # the quota did bind
    assert stats["throttled"] <= 0.25 * stats["requests"], stats["quota"]
    assert stats["quota"]["refused_requests"] == stats["throttled"]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
def test_known_rpm_limit_loses_nothing(strategy: str) -> None:
    time_scale, n = 0.05, 14  # 8 requests a 3 s minute: two minutes
    with Emulator(latency_model="fixed:1", time_scale=time_scale, rpm=8,
                  quota_minute="sliding") as emu:
        results = _run(emu, strategy, n, time_scale, rpm_limit=8)
        stats = emu.stats()
    assert all(r.ok for r in results)
    assert stats["quota"]["refused_by"]["requests"] == stats["throttled"] <= 2


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "asyncio"])
@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_auto_limit_loses_nothing(minute: str, strategy: str) -> None:
    time_scale, n, tpm = 0.05, 24, 36_000
    with Emulator(latency_model="fixed:1", time_scale=time_scale, tpm=tpm,
                  quota_minute=minute) as emu:
        results = _run(emu, strategy, n, time_scale, tpm_auto=True)
        stats = emu.stats()
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok]
    assert stats["quota"]["settled_tokens"] > 2 * tpm
    assert stats["throttled"] <= 0.5 * stats["requests"], stats["quota"]
