"""Tests of the backends: offline writer, Bedrock backend (cache, limiter, event loops), factory."""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from report_lib.data.sample import synthesize
from report_lib.emulator import Emulator
from report_lib.errors import BackendError, CacheWarning, ConfigError, CredentialsError
from report_lib.llm.backends import BACKENDS, BedrockBackend, check_settings
from report_lib.llm.quota import burndown_rate
from report_lib.llm.settings import BackendSettings
from report_lib.llm.testing import MockBedrock, converse_response
from report_lib.llm.tokens import estimate_tokens
from report_lib.records import CallOutcome, ReportJob
from report_lib.reports.facts import Facts, compute_facts
from report_lib.reports.offline.backend import OfflineBackend
from report_lib.reports.offline.writer import write_report
from report_lib.reports.prompts import build_prompt
from tests.helpers import bedrock_test_settings

PLAIN_JOB = ReportJob(key="x", kind="kpi", system="You write reports.", prompt="Write it.")


def bedrock_settings(**kw: Any) -> BackendSettings:
    # nothing listens on port 9: a real request would fail
    base: dict[str, Any] = {"endpoint_url": "http://127.0.0.1:9", "max_attempts": 2,
                            "connect_timeout": 1.0}
    return bedrock_test_settings(**{**base, **kw})



@pytest.fixture(scope="module")
def table() -> Any:
    return synthesize(months=3, operators=12, seed=3)


def facts_job(table: Any, kind: str, language: str) -> tuple[ReportJob, Facts]:
    facts = compute_facts(table, kind, window=3)
    prompt = build_prompt(facts, language)
    job = ReportJob(key=kind, kind=kind, system=prompt.system, prompt=prompt.user,
                    language=language)
    return job, facts


# -- settings and factory ---------------------------------------------------------------------
def test_settings_are_picklable_and_have_the_limiter_window() -> None:
    settings = BackendSettings(backend="emulator", tpm_limit=1000, limiter_window_s=6.0,
                               prices={"claude-x": (1.0, 2.0)})
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert BackendSettings().limiter_window_s == 60.0


def test_create_backend_offline() -> None:
    backend = BACKENDS.create(BackendSettings(backend="offline"))
    assert isinstance(backend, OfflineBackend) and backend.name == "offline"


def test_create_backend_emulator_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="Emulator"):
        BACKENDS.create(BackendSettings(backend="emulator"))


def test_create_backend_unknown_name() -> None:
    with pytest.raises(ValueError, match="offline, emulator, bedrock"):
        BACKENDS.create(BackendSettings(backend="openai"))


def test_create_backend_bedrock_without_credentials(no_credentials: None) -> None:
    with pytest.raises(CredentialsError, match="AWS_PROFILE"):
        BACKENDS.create(bedrock_settings())


def test_create_backend_bedrock_sizes_the_shared_client(dummy_credentials: None) -> None:
    backend = BACKENDS.create(bedrock_settings(), max_concurrency=40)
    assert isinstance(backend, BedrockBackend) and backend.name == "bedrock"
    assert backend.client.meta.config.max_pool_connections == 40
    backend.close()


# -- offline ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "language"), [("kpi", "ko"), ("cpo", "en"), ("trend", "en")])
def test_offline_writes_the_report_from_the_prompt_facts(
    table: Any, kind: str, language: str
) -> None:
    job, facts = facts_job(table, kind, language)
    outcome = OfflineBackend().call(job)
    assert outcome.text == write_report(facts, language)
    assert outcome.input_tokens == estimate_tokens(job.system) + estimate_tokens(job.prompt)
    assert outcome.output_tokens == estimate_tokens(outcome.text)
    assert (outcome.attempts, outcome.cached) == (1, False)


def test_offline_streams_the_whole_text_once(table: Any) -> None:
    job, _ = facts_job(table, "kpi", "ko")
    seen: list[str] = []
    streamed = OfflineBackend(BackendSettings(stream=True)).call(job, on_text=seen.append)
    assert seen == [streamed.text]
    silent: list[str] = []
    OfflineBackend().call(job, on_text=silent.append)
    assert silent == []  # no streaming, no deltas


def test_offline_acall_matches_call(table: Any) -> None:
    job, _ = facts_job(table, "trend", "ko")
    backend = OfflineBackend()
    assert asyncio.run(backend.acall(job)).text == backend.call(job).text


def test_offline_refuses_a_prompt_without_facts() -> None:
    with pytest.raises(BackendError, match="only write reports from report_lib prompts"):
        OfflineBackend().call(PLAIN_JOB)


# -- Bedrock backend: cache and limiter (MockBedrock) ------------------------------------------
def test_cache_hit_is_marked_and_skips_the_call(tmp_path: Path) -> None:
    mock = MockBedrock.script(converse_response("# Report", 12, 3))  # a 2nd call would fail
    with mock.backend(bedrock_settings(cache_dir=str(tmp_path))) as backend:
        first = backend.call(PLAIN_JOB)
        second = backend.call(PLAIN_JOB)
    assert (first.cached, first.attempts) == (False, 1)
    assert (second.cached, second.attempts) == (True, 0)
    assert (second.text, second.input_tokens, second.output_tokens) == ("# Report", 12, 3)
    assert len(mock.requests) == 1


def test_cache_is_shared_with_streaming_and_async_calls(tmp_path: Path) -> None:
    settings = bedrock_settings(cache_dir=str(tmp_path))
    with MockBedrock.script(converse_response("# Cached", 5, 2)).backend(settings) as backend:
        backend.call(PLAIN_JOB)
    silent = MockBedrock.script()  # any call would fail: only the cache may answer
    with silent.backend(replace(settings, stream=True)) as streaming:
        seen: list[str] = []
        hit = streaming.call(PLAIN_JOB, on_text=seen.append)
        assert hit.cached and seen == ["# Cached"]
        assert asyncio.run(streaming.acall(PLAIN_JOB)).cached
    assert silent.requests == []


def test_other_inference_settings_miss_the_cache(tmp_path: Path) -> None:
    settings = bedrock_settings(cache_dir=str(tmp_path))
    with MockBedrock.script(converse_response("cold", 1, 1)).backend(settings) as cold:
        assert cold.call(PLAIN_JOB).text == "cold"
    hot_mock = MockBedrock.script(converse_response("hot", 1, 1))
    with hot_mock.backend(replace(settings, temperature=0.9)) as hot:
        assert hot.call(PLAIN_JOB).text == "hot"
    assert len(hot_mock.requests) == 1


@pytest.mark.parametrize(
    "other",
    [
        {"backend": "bedrock", "endpoint_url": None},  # the real service, same model
        {"backend": "emulator", "endpoint_url": "http://127.0.0.1:2"},  # another emulator
    ],
)
def test_answers_of_one_endpoint_are_not_served_to_another(
    tmp_path: Path, other: dict[str, Any]
) -> None:
    first = bedrock_settings(backend="emulator", endpoint_url="http://127.0.0.1:1",
                             cache_dir=str(tmp_path))
    with MockBedrock.script(converse_response("# from the emulator", 1, 1)).backend(first) as b:
        b.call(PLAIN_JOB)
    real = MockBedrock.script(converse_response("# from the model", 1, 1))
    with real.backend(replace(first, **other)) as backend:
        outcome = backend.call(PLAIN_JOB)
    assert (outcome.text, outcome.cached, len(real.requests)) == ("# from the model", False, 1)


def test_a_cache_that_fails_to_store_still_delivers(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    settings = bedrock_settings(cache_dir=str(tmp_path / "cache"))
    mock = MockBedrock(lambda op, req: converse_response("# paid answer", 5, 5))
    with mock.backend(settings) as backend:
        for shard in range(256):  # no entry folder can be created: every store fails
            (tmp_path / "cache" / f"{shard:02x}").write_text("", encoding="utf-8")
        with pytest.warns(CacheWarning) as seen:
            outcomes = [backend.call(PLAIN_JOB), asyncio.run(backend.acall(PLAIN_JOB))]
    assert [(o.text, o.cached) for o in outcomes] == [("# paid answer", False)] * 2
    assert len(seen) == 1


def test_check_settings_refuses_a_cache_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="this is a file"):
        check_settings(bedrock_settings(cache_dir=str(path)))
    assert check_settings(bedrock_settings(cache_dir=str(tmp_path / "new"))).cache_dir
    assert (tmp_path / "new").is_dir()


def test_limiter_from_settings_is_settled_with_usage() -> None:
    settings = bedrock_settings(tpm_limit=1000, rpm_limit=50, limiter_window_s=1e9)
    with MockBedrock.script(converse_response("ok", 40, 7)).backend(settings) as backend:
        assert backend.limiter is not None
        limits = (backend.limiter.tpm, backend.limiter.rpm, backend.limiter.window_s)
        assert limits == (1000, 50, 1e9)
        backend.call(PLAIN_JOB)
        # settled to input + output x the model's burndown (5 for Claude 4)
        assert burndown_rate(settings.model_id) == 5.0
        assert backend.limiter.available_tokens() == pytest.approx(1000 - (40 + 5 * 7), abs=0.01)
    with MockBedrock.script().backend(bedrock_settings()) as unlimited:
        assert unlimited.limiter is None


def test_async_calls_go_through_the_mock_too() -> None:
    mock = MockBedrock.script(converse_response("# Async", 3, 2))
    with mock.backend(bedrock_settings()) as backend:
        outcome = asyncio.run(backend.acall(PLAIN_JOB))
    assert (outcome.text, outcome.attempts, len(mock.requests)) == ("# Async", 1, 1)


# -- Bedrock backend over HTTP: event loops and cleanup ----------------------------------------
@pytest.fixture(scope="module")
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator(latency_model="fixed:0.05", seed=0)


@pytest.mark.slow
def test_emulator_backend_without_aws_credentials(
    no_credentials: None, emulator: Any, table: Any
) -> None:
    job, facts = facts_job(table, "cpo", "en")
    with BACKENDS.create(BackendSettings(backend="emulator", endpoint_url=emulator.url)) as backend:
        outcome = backend.call(job)
    assert outcome.text == write_report(facts, "en")  # the emulator answers like offline


@pytest.mark.slow
def test_acall_works_in_successive_event_loops(dummy_credentials: None, emulator: Any) -> None:
    backend = BedrockBackend(bedrock_settings(endpoint_url=emulator.url))

    async def once() -> CallOutcome:
        outcome = await backend.acall(PLAIN_JOB)
        await backend.aclose()
        return outcome

    first, second = asyncio.run(once()), asyncio.run(once())
    assert first.text == second.text and first.text.strip()
    backend.close()


@pytest.mark.slow
def test_acall_in_a_loop_owned_by_another_thread_and_close(
    dummy_credentials: None, emulator: Any
) -> None:
    # like a notebook: the loop already runs, we only submit coroutines to it
    backend = BedrockBackend(bedrock_settings(endpoint_url=emulator.url))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        outcome = asyncio.run_coroutine_threadsafe(backend.acall(PLAIN_JOB), loop).result(30)

        async def current() -> Any:
            return backend.async_client()

        client = asyncio.run_coroutine_threadsafe(current(), loop).result(30)
        assert outcome.text.strip() and client.client is not None
        backend.close()
        assert client.client is None  # closed in its own loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_close_called_synchronously_inside_the_running_loop(
    dummy_credentials: None, emulator: Any
) -> None:
    backend = BedrockBackend(bedrock_settings(endpoint_url=emulator.url, stream=True))

    async def cell() -> tuple[CallOutcome, Any]:
        outcome = await backend.acall(PLAIN_JOB)
        client = backend.async_client()
        backend.close()  # a notebook cell calling the sync close()
        for _ in range(50):
            if client.client is None:
                break
            await asyncio.sleep(0.01)
        return outcome, client

    outcome, client = asyncio.run(cell())
    assert outcome.text.strip()
    assert client.client is None


def test_a_script_past_its_end_fails_the_call_at_once() -> None:
    mock = MockBedrock.script(converse_response("# only", 1, 1))
    with mock.backend(bedrock_settings(max_attempts=5)) as backend:
        assert backend.call(PLAIN_JOB).text == "# only"
        with pytest.raises(BackendError) as info:
            backend.call(PLAIN_JOB)
    assert (info.value.error_type, info.value.attempts) == ("UnexpectedCall", 1)
    assert len(mock.requests) == 2
