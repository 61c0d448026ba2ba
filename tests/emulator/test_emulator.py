"""The Bedrock emulator: real HTTP on 127.0.0.1, decoded by real boto3/botocore."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pandas as pd
import pytest
from aiohttp.test_utils import TestClient, TestServer
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError

from report_lib.emulator import Emulator, EmulatorConfig, LatencyModel, parse_latency_model, server
from report_lib.emulator.answers import (
    ANSWER_MODELS,
    Answer,
    Mistakes,
    Turns,
    split_chunks,
    truncate_to_tokens,
)
from report_lib.emulator.eventstream import encode_event, encode_exception, encode_message
from report_lib.emulator.server import THROTTLE_MESSAGE, add_arguments
from report_lib.emulator.server import config_from_args as emulator_config_from_args
from report_lib.errors import EmulatorError
from report_lib.llm.quota import Window
from report_lib.llm.tokens import estimate_tokens
from tests.helpers import MODEL as MODEL_ID
from tests.helpers import bedrock_client

PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + MODEL_ID
FAST = "fixed:0.05"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def converse(client: Any, text: str, model_id: str = MODEL_ID, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.converse(modelId=model_id, messages=user(text), **kwargs)
    return result


def stream_events(client: Any, text: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = client.converse_stream(modelId=MODEL_ID, messages=user(text), **kwargs)
    return list(response["stream"])


def answer_text(response: dict[str, Any]) -> str:
    return "".join(block["text"] for block in response["output"]["message"]["content"])


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


# --- Converse / ConverseStream through boto3 -------------------------------------------------


@pytest.mark.slow
def test_converse_is_parsed_by_boto3(emu: Emulator, client: Any) -> None:
    prompt = "Summarise the charging market in three paragraphs."
    response = converse(client, prompt)
    text = answer_text(response)
    usage = response["usage"]
    assert response["output"]["message"]["role"] == "assistant"
    assert response["stopReason"] == "end_turn"
    assert 500 <= estimate_tokens(text) <= 1000  # a generic answer of a few paragraphs
    assert usage["inputTokens"] == estimate_tokens(prompt)
    assert usage["outputTokens"] == estimate_tokens(text)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] == 50
    assert converse(client, prompt)["output"] == response["output"]  # deterministic
    assert answer_text(converse(client, prompt + "!")) != text


@pytest.mark.slow
@pytest.mark.parametrize("model_id", [MODEL_ID, PROFILE_ARN])
def test_model_id_round_trips(emu: Emulator, client: Any, model_id: str) -> None:
    before = emu.stats()["models"].get(model_id, 0)
    converse(client, "hello", model_id=model_id)
    assert emu.stats()["models"][model_id] == before + 1


def test_system_prompt_counts_as_input(client: Any) -> None:
    plain = converse(client, "hello there")["usage"]["inputTokens"]
    system = [{"text": "You are a careful analyst who writes in plain English."}]
    with_system = converse(client, "hello there", system=system)["usage"]["inputTokens"]
    assert with_system > plain


def test_stream_decoded_by_boto3_matches_converse(client: Any) -> None:
    prompt = "Write the monthly report."
    full = converse(client, prompt)
    events = stream_events(client, prompt)
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart" and events[0]["messageStart"]["role"] == "assistant"
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) == len(names) - 4 and len(deltas) > 5
    assert all(d["contentBlockIndex"] == 0 for d in deltas)
    assert "".join(d["delta"]["text"] for d in deltas) == answer_text(full)
    assert events[-2]["messageStop"]["stopReason"] == full["stopReason"]
    assert events[-1]["metadata"]["usage"] == full["usage"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] == 50


def test_max_tokens_truncates(client: Any) -> None:
    prompt = "A long answer, please."
    full = answer_text(converse(client, prompt))
    response = converse(client, prompt, inferenceConfig={"maxTokens": 25})
    text = answer_text(response)
    assert response["stopReason"] == "max_tokens"
    assert full.startswith(text)
    assert estimate_tokens(text) <= 25 < estimate_tokens(full[: len(text) + 1])
    assert response["usage"]["outputTokens"] == estimate_tokens(text)
    streamed = stream_events(client, prompt, inferenceConfig={"maxTokens": 25})
    deltas = "".join(e["contentBlockDelta"]["delta"]["text"] for e in streamed[1:-3])
    assert deltas == text
    assert streamed[-2]["messageStop"]["stopReason"] == "max_tokens"


def test_stop_sequence_cuts_the_answer(client: Any) -> None:
    prompt = "Another answer."
    full = answer_text(converse(client, prompt))
    stop = full.split("\n\n")[2][:12]  # the start of the third paragraph
    response = converse(client, prompt, inferenceConfig={"stopSequences": [stop]})
    assert response["stopReason"] == "stop_sequence"
    assert answer_text(response) == full[: full.index(stop)]


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_throttle_first_then_success() -> None:
    with Emulator(latency_model=FAST, throttle_first=2) as emu:
        client = bedrock_client(emu.url)
        for _ in range(2):
            with pytest.raises(client.exceptions.ThrottlingException) as info:
                converse(client, "hi")
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert info.value.response["Error"]["Message"] == THROTTLE_MESSAGE
        assert answer_text(converse(client, "hi"))
        stats = emu.stats()
        assert (stats["requests"], stats["throttled"], stats["answered"]) == (3, 2, 1)
        emu.reset_stats()  # a reset restores the throttle-first budget
        with pytest.raises(client.exceptions.ThrottlingException):
            converse(client, "hi")


@pytest.mark.slow
def test_throttling_headers_are_bedrock_shaped(emu: Emulator) -> None:
    with Emulator(latency_model=FAST, throttle_rate=1.0) as throttling:
        body = json.dumps({"messages": user("hi")}).encode()
        status, headers, payload = raw_post(
            f"{throttling.url}/model/m/converse", body, {"Authorization": "x"}
        )
    assert status == 429
    assert headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert payload == {"message": THROTTLE_MESSAGE}


@pytest.mark.slow
def test_token_quota_throttles_and_refills(client: Any) -> None:
    prompt = "quota probe"
    needed = converse(client, prompt, inferenceConfig={"maxTokens": 40})["usage"]["totalTokens"]
    quota = int(needed * 2.5)  # room for two calls, not three
    # charged what it answers, 1x, at admission (accounting "actual"; Bedrock's is tested
    # with real processes in test_quota_emulator.py)
    with Emulator(latency_model=FAST, tpm=quota, accounting="actual") as emu:
        limited = bedrock_client(emu.url)
        for _ in range(2):
            converse(limited, prompt, inferenceConfig={"maxTokens": 40})
        with pytest.raises(limited.exceptions.ThrottlingException):
            converse(limited, prompt, inferenceConfig={"maxTokens": 40})
        stats = emu.stats()
        assert (stats["answered"], stats["throttled"]) == (2, 1)
        assert stats["input_tokens"] + stats["output_tokens"] == 2 * needed
    # With time_scale 0.01 the quota's minute lasts 0.6 s: after it, the bucket is full again.
    with Emulator(latency_model=FAST, tpm=quota, time_scale=0.01, accounting="actual") as emu:
        limited = bedrock_client(emu.url)
        for _ in range(2):
            converse(limited, prompt, inferenceConfig={"maxTokens": 40})
        time.sleep(0.7)
        converse(limited, prompt, inferenceConfig={"maxTokens": 40})
        converse(limited, prompt, inferenceConfig={"maxTokens": 40})
        assert emu.stats()["answered"] == 4


@pytest.mark.slow
def test_request_larger_than_the_quota_is_a_validation_error() -> None:
    with Emulator(latency_model=FAST, tpm=10) as emu:
        client = bedrock_client(emu.url)
        # no maxTokens: Bedrock reserves the model's largest output (64,000 for Sonnet 4.5)
        with pytest.raises(client.exceptions.ValidationException,
                           match=r"needs 640[0-9]{2} quota tokens \(input \+ maxTokens\) but "
                           r"the tokens-per-minute quota is 10; lower maxTokens or raise the "
                           r"quota"):
            converse(client, "this prompt and its answer need far more than ten tokens")
        assert emu.stats()["rejected"] == 1


@pytest.mark.slow
def test_fail_rate_one_gives_5xx() -> None:
    with Emulator(latency_model=FAST, fail_rate=1.0, seed=3) as emu:
        client = bedrock_client(emu.url)
        expected = {500: "InternalServerException", 503: "ServiceUnavailableException"}
        for _ in range(6):
            with pytest.raises(ClientError) as info:
                converse(client, "hi")
            status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
            assert info.value.response["Error"]["Code"] == expected[status]
            assert isinstance(
                info.value,
                client.exceptions.InternalServerException
                | client.exceptions.ServiceUnavailableException,
            )
        stats = emu.stats()
        assert (stats["failed"], stats["answered"]) == (6, 0)


def test_missing_authorization_is_refused(emu: Emulator) -> None:
    unsigned = bedrock_client(emu.url, signed=False)
    with pytest.raises(ClientError) as info:
        converse(unsigned, "hi")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not JSON"),
        (b'{"messages": []}', "messages"),
        (b'{"messages": [{"role": "robot", "content": []}]}', "role"),
        (
            b'{"messages": [{"role": "user", "content": [{"text": "x"}]}], '
            b'"inferenceConfig": {"maxTokens": 0}}',
            "maxTokens",
        ),
    ],
)
def test_bad_bodies_are_validation_errors(emu: Emulator, body: bytes, fragment: str) -> None:
    status, headers, payload = raw_post(
        f"{emu.url}/model/{MODEL_ID}/converse", body, {"Authorization": "x"}
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert fragment in payload["message"]


# --- facts prompts: the offline report, and --reject --------------------------------------------


def _canonical_table() -> pd.DataFrame:
    """Three months, five operators; shares computed from the totals."""
    rows = []
    for m, month in enumerate(["2025-09", "2025-10", "2025-11"]):
        for o, name in enumerate(["GS차지비", "환경부", "에버온", "파워큐브", "차지인"]):
            slow, fast = 5000 - 800 * o + 40 * m, 600 - 90 * o + 5 * m
            rows.append(
                {
                    "month": month,
                    "cpo": name,
                    "stations": 900 - 150 * o,
                    "slow_chargers": slow,
                    "fast_chargers": fast,
                    "total_chargers": slow + fast,
                    "rank": o + 1,
                }
            )
    df = pd.DataFrame(rows)
    df["market_share"] = df.total_chargers / df.groupby("month").total_chargers.transform("sum")
    df["market_share"] *= 100
    from report_lib.data.loader import derive_changes

    return derive_changes(df)


@pytest.fixture(scope="module")
def prompts_by_kind() -> dict[str, Any]:
    from report_lib.reports.facts import compute_all_facts
    from report_lib.reports.prompts import build_prompt

    facts = compute_all_facts(_canonical_table(), focus_cpo="GS차지비", window=3)
    return {kind: build_prompt(f, "en") for kind, f in facts.items()}


def test_facts_prompt_is_answered_with_the_offline_report(
    client: Any, prompts_by_kind: dict[str, Any]
) -> None:
    from report_lib.reports.offline.writer import write_report
    from report_lib.reports.prompts import parse_facts

    prompt = prompts_by_kind["kpi"]
    response = client.converse(
        modelId=MODEL_ID, system=[{"text": prompt.system}], messages=user(prompt.user)
    )
    expected = write_report(parse_facts(prompt.user), "en")
    assert answer_text(response) == expected
    assert response["usage"]["inputTokens"] == estimate_tokens(prompt.system + "\n" + prompt.user)


@pytest.mark.slow
def test_reject_kind_is_a_permanent_validation_error(prompts_by_kind: dict[str, Any]) -> None:
    with Emulator(latency_model=FAST, reject=["trend"]) as emu:
        client = bedrock_client(emu.url)
        trend = prompts_by_kind["trend"]
        with pytest.raises(client.exceptions.ValidationException) as info:
            client.converse(modelId=MODEL_ID, messages=user(trend.user))
        assert info.value.response["Error"]["Message"] == (
            "emulator: report kind 'trend' rejected (--reject)"
        )
        assert answer_text(
            client.converse(modelId=MODEL_ID, messages=user(prompts_by_kind["cpo"].user))
        )
        stats = emu.stats()
        assert (stats["rejected"], stats["answered"]) == (1, 1)


def test_unreadable_facts_block_gets_the_generic_answer(client: Any) -> None:
    response = converse(client, "language: en\n<facts>\n{not json\n</facts>")
    assert answer_text(response).startswith("# Emulated answer")


class _BrokenModel:
    def is_heavy(self, user: str) -> bool:
        return False

    def answer(self, system: str, turns: Turns, mistakes: Mistakes) -> Answer:
        raise RuntimeError("boom")


class _EchoModel:
    """An answer model of the test's own: the emulator serves whatever model it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Turns, Mistakes]] = []

    def is_heavy(self, user: str) -> bool:
        return "heavy" in user

    def answer(self, system: str, turns: Turns, mistakes: Mistakes) -> Answer:
        self.seen.append((system, turns, mistakes))
        text = "echo: " + turns[-1][1]
        return Answer(text, estimate_tokens(text))


def test_the_emulator_serves_the_answer_model_it_is_given() -> None:
    model = _EchoModel()

    async def scenario() -> tuple[str, str, dict[str, Any]]:
        app = server.build_app(EmulatorConfig(latency_model=FAST, hallucinate=0.25, seed=7),
                               model)
        async with TestClient(TestServer(app)) as http:
            texts = []
            for prompt in ("hello there", "a heavy one"):
                resp = await http.post("/model/m/converse", json={"messages": user(prompt)},
                                       headers={"Authorization": "x"})
                texts.append(answer_text(await resp.json()))
            stats = await (await http.get("/stats")).json()
            return texts[0], texts[1], stats

    light, heavy, stats = asyncio.run(scenario())
    assert (light, heavy) == ("echo: hello there", "echo: a heavy one")
    assert [turns[-1][1] for _, turns, _ in model.seen] == ["hello there", "a heavy one"]
    assert {m for _, _, m in model.seen} == {Mistakes(hallucinate=0.25, seed=7)}
    assert stats["answered"] == 2


def test_actual_accounting_refuses_at_the_door_what_its_input_alone_cannot_fit() -> None:
    """Charged input + output on admission: a request whose input no longer fits is refused
    before its answer is written; one whose input fits is answered, then charged (or refused
    when its output does not fit)."""
    model = _EchoModel()
    long_prompt = "word " * 1000

    async def scenario() -> tuple[list[int], dict[str, Any]]:
        config = EmulatorConfig(latency_model=FAST, tpm=3_000, quota_minute="sliding",
                                accounting="actual")
        app = server.build_app(config, model)
        async with TestClient(TestServer(app)) as http:
            codes = []
            for prompt in ("short", long_prompt, long_prompt):
                resp = await http.post("/model/m/converse", json={"messages": user(prompt)},
                                       headers={"Authorization": "x"})
                codes.append(resp.status)
            stats = await (await http.get("/stats")).json()
            return codes, stats

    codes, stats = asyncio.run(scenario())
    first = estimate_tokens("short") + estimate_tokens("echo: short")
    second = estimate_tokens(long_prompt) + estimate_tokens("echo: " + long_prompt)
    # the sizes the test needs: two fit, the third one's input alone does not
    assert first + second <= 3_000 < first + second + estimate_tokens(long_prompt)
    assert codes == [200, 200, 429]  # the third one's input alone is over what is left
    # the refused request's answer was never written: the model saw two requests only
    assert [turns[-1][1] for _, turns, _ in model.seen] == ["short", long_prompt]
    assert stats["throttled"] == 1


def test_the_default_answer_model_writes_the_offline_report() -> None:
    from report_lib.reports.offline.model_answers import REPORT_ANSWERS

    assert ANSWER_MODELS.load("reports") is REPORT_ANSWERS
    assert ANSWER_MODELS.names() == ("reports",)


def test_build_app_turns_a_crash_into_internal_server_exception() -> None:
    async def scenario() -> tuple[int, str, dict[str, Any], dict[str, Any]]:
        app = server.build_app(EmulatorConfig(latency_model=FAST), _BrokenModel())
        async with TestClient(TestServer(app)) as http:
            resp = await http.post(
                "/model/m/converse",
                json={"messages": user("hi")},
                headers={"Authorization": "x"},
            )
            stats = await (await http.get("/stats")).json()
            return resp.status, resp.headers["x-amzn-ErrorType"], await resp.json(), stats

    status, error_type, body, stats = asyncio.run(scenario())
    assert (status, error_type) == (500, "InternalServerException")
    assert "boom" in body["message"]
    assert stats["failed"] == 1


# --- stats ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_stats_count_concurrent_requests() -> None:
    workers = 4
    with Emulator(latency_model="fixed:0.8") as emu:
        client = bedrock_client(emu.url, pool=workers)
        converse(client, "warm-up")  # the client's first call does one-off setup work
        emu.reset_stats()
        barrier = threading.Barrier(workers)
        usages: list[dict[str, int]] = []

        def call(i: int) -> None:
            barrier.wait()
            usages.append(converse(client, f"question {i}")["usage"])

        threads = [threading.Thread(target=call, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = emu.stats()
        assert stats["requests"] == stats["answered"] == workers
        assert stats["max_in_flight"] == workers
        assert stats["in_flight"] == 0
        assert stats["input_tokens"] == sum(u["inputTokens"] for u in usages)
        assert stats["output_tokens"] == sum(u["outputTokens"] for u in usages)
        assert stats["config"]["latency_model"] == "fixed:0.8"
        reset = emu.reset_stats()
        assert (reset["requests"], reset["answered"], reset["max_in_flight"]) == (0, 0, 0)
        assert emu.stats()["output_tokens"] == 0


def test_health_and_unknown_route(emu: Emulator) -> None:
    with urllib.request.urlopen(f"{emu.url}/health", timeout=10) as resp:
        assert resp.status == 200
    status, headers, _ = raw_post(f"{emu.url}/nowhere", b"{}", {"Authorization": "x"})
    assert status == 404 and "x-amzn-ErrorType" in headers


# --- the process wrapper -----------------------------------------------------------------------


@pytest.mark.slow
def test_emulator_stops_its_process() -> None:
    emu = Emulator(latency_model=FAST)
    assert emu.running and emu.url.startswith("http://127.0.0.1:")
    emu.stop()
    assert not emu.running
    emu.stop()  # idempotent


@pytest.mark.slow
def test_startup_failure_raises_with_the_child_stderr() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmulatorError, match="exited with code") as info:
            Emulator(latency_model=FAST, port=port)
    assert "address already in use" in str(info.value).lower()


def test_invalid_options_are_refused_before_starting() -> None:
    with pytest.raises(ValueError, match="unknown latency model"):
        Emulator(latency_model="opus")
    with pytest.raises(ValueError, match="throttle_rate"):
        Emulator(throttle_rate=1.5)
    with pytest.raises(ValueError, match="unknown report kind 'trnd'"):
        Emulator(reject=["trnd"])


def test_cli_arguments_to_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(
        [
            "--latency-model",
            "haiku",
            "--time-scale",
            "0.1",
            "--tpm",
            "20000",
            "--throttle-rate",
            "0.2",
            "--fail-rate",
            "0.1",
            "--throttle-first",
            "3",
            "--reject",
            "trend",
            "--reject",
            "kpi",
            "--seed",
            "7",
        ]
    )
    assert emulator_config_from_args(ns) == EmulatorConfig(
        latency_model="haiku",
        time_scale=0.1,
        tpm=20000,
        throttle_rate=0.2,
        fail_rate=0.1,
        throttle_first=3,
        reject=("trend", "kpi"),
        seed=7,
    )
    defaults = emulator_config_from_args(parser.parse_args([]))
    assert (defaults.host, defaults.port, defaults.latency_model) == ("127.0.0.1", 0, "sonnet")
    bad_options = (
        ["--throttle-rate", "2"],
        ["--latency-model", "fixed:x"],
        ["--tpm", "0"],
        ["--reject", "x"],
    )
    for bad in bad_options:
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


# --- latency model ----------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [0, 10, 5000])
def test_fixed_latency_is_exact(tokens: int) -> None:
    rng = random.Random(0)
    assert parse_latency_model("fixed:0.25").latency_s(tokens, rng) == 0.25
    assert parse_latency_model("fixed:0.25", time_scale=0.1).latency_s(tokens, rng) == 0.025


@pytest.mark.parametrize(("spec", "ttft", "speed"), [("sonnet", 0.95, 55), ("haiku", 0.7, 100)])
def test_jitter_median_and_spread(spec: str, ttft: float, speed: float) -> None:
    model = parse_latency_model(spec)
    rng = random.Random(42)
    tokens = 660
    draws = [model.latency_s(tokens, rng) for _ in range(4000)]
    target = ttft + tokens / speed
    assert statistics.median(draws) == pytest.approx(target, rel=0.02)
    sigma = statistics.stdev(math.log(d / target) for d in draws)
    assert sigma == pytest.approx(0.15, rel=0.1)


def test_time_scale_and_ttft_share() -> None:
    full, scaled = parse_latency_model("sonnet"), parse_latency_model("sonnet", time_scale=0.01)
    a = full.timing(550, random.Random(5))
    b = scaled.timing(550, random.Random(5))
    assert b[0] == pytest.approx(a[0] * 0.01) and b[1] == pytest.approx(a[1] * 0.01)
    assert a[0] / a[1] == pytest.approx(0.95 / (0.95 + 550 / 55))
    assert isinstance(full, LatencyModel) and full.spec == "sonnet"


def test_same_seed_same_latencies() -> None:
    model = parse_latency_model("haiku")
    first = [model.latency_s(300, r) for r in [random.Random(9)] for _ in range(5)]
    again = [model.latency_s(300, r) for r in [random.Random(9)] for _ in range(5)]
    assert first == again and len(set(first)) == 5


@pytest.mark.parametrize("spec", ["opus", "fixed:", "fixed:-1", "fixed:abc", ""])
def test_bad_latency_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_latency_model(spec)


# --- token bucket, truncation, chunks ---------------------------------------------------------


def test_token_bucket_refills_over_its_period() -> None:
    now = [0.0]
    bucket = Window("bucket", 120, 60.0, clock=lambda: now[0])  # 2 tokens a second
    assert bucket.fits(100)
    bucket.take(100)
    assert not bucket.fits(30)
    now[0] = 5.0  # +10 tokens
    assert bucket.fits(30)
    bucket.take(30)
    now[0] = 1000.0
    assert bucket.used() == 0  # refilled, capped at capacity
    assert bucket.fits(120) and not bucket.fits(121)


@pytest.mark.parametrize("text", ["plain ascii words " * 40, "충전기 현황 보고서 KPI " * 40])
@pytest.mark.parametrize("limit", [1, 7, 50])
def test_truncate_to_tokens_is_the_longest_fitting_prefix(text: str, limit: int) -> None:
    cut = truncate_to_tokens(text, limit)
    assert text.startswith(cut)
    assert estimate_tokens(cut) <= limit < estimate_tokens(text[: len(cut) + 1])


def test_chunks_rebuild_the_text_in_20_to_40_token_pieces() -> None:
    text = "한국어와 English mixed text. " * 120
    chunks = split_chunks(text, "seed")
    assert "".join(chunks) == text
    assert all(20 <= estimate_tokens(c) <= 41 for c in chunks[:-1])


# --- eventstream encoder ------------------------------------------------------------------------


def test_eventstream_frames_decode_with_botocore() -> None:
    frames = [
        encode_event("messageStart", {"role": "assistant"}),
        encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "충전 ✓"}}),
        encode_exception("throttlingException", THROTTLE_MESSAGE),
    ]
    data = b"".join(frames)
    buffer = EventStreamBuffer()
    for i in range(0, len(data), 7):  # fed in awkward pieces
        buffer.add_data(data[i : i + 7])
    messages = list(buffer)
    assert [m.headers.get(":event-type") for m in messages] == [
        "messageStart",
        "contentBlockDelta",
        None,
    ]
    assert messages[0].headers[":message-type"] == "event"
    assert messages[0].headers[":content-type"] == "application/json"
    assert json.loads(messages[1].payload)["delta"]["text"] == "충전 ✓"
    assert messages[2].headers[":exception-type"] == "throttlingException"
    assert json.loads(messages[2].payload) == {"message": THROTTLE_MESSAGE}


def test_eventstream_crc_is_checked() -> None:
    frame = bytearray(encode_message({"a": "b"}, b"payload"))
    frame[-6] ^= 0xFF  # flip a payload byte: the message CRC no longer matches
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)
