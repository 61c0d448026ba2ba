"""Tests of the opt-in response cache."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from report_lib.errors import CacheWarning, ConfigError
from report_lib.llm.cache import ResponseCache, cache_key, check_cache_dir
from report_lib.records import CallOutcome

REQUEST: dict[str, Any] = {
    "modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "messages": [{"role": "user", "content": [{"text": "Write the KPI report."}]}],
    "system": [{"text": "You write reports."}],
    "inferenceConfig": {"maxTokens": 2048, "temperature": 0.2},
}
BASE: dict[str, Any] = {
    "backend": "bedrock",
    "endpoint": "bedrock-runtime.us-east-1.amazonaws.com",
    "request": REQUEST,
}


def test_round_trip_marks_cached_and_zero_attempts(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache")
    key = cache_key(**BASE)
    stored = CallOutcome("# 보고서\n본문", input_tokens=120, output_tokens=45, attempts=3,
                         ttft_s=0.8, stop_reason="end_turn")
    cache.put(key, stored)
    hit = cache.get(key)
    assert hit is not None
    assert (hit.text, hit.input_tokens, hit.output_tokens, hit.stop_reason) == (
        "# 보고서\n본문", 120, 45, "end_turn"
    )
    assert hit.cached is True
    assert hit.attempts == 0
    assert len(cache) == 1


def test_entry_is_json_with_the_documented_fields(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    path = cache.put(key, CallOutcome("text", input_tokens=1, output_tokens=2))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"text", "input_tokens", "output_tokens", "stop_reason", "created"}
    assert [p.name for p in path.parent.iterdir()] == [f"{key}.json"]  # no temp file left


def test_miss_returns_none(tmp_path: Path) -> None:
    assert ResponseCache(tmp_path).get(cache_key(**BASE)) is None


@pytest.mark.parametrize(
    "changed",
    [
        {"backend": "emulator"},
        {"endpoint": "http://127.0.0.1:8000"},
        {"request": {**REQUEST, "modelId": "anthropic.claude-haiku-4-5-20251001-v1:0"}},
        {"request": {**REQUEST, "system": [{"text": "You write short reports."}]}},
        {"request": {**REQUEST, "messages": [{"role": "user",
                                              "content": [{"text": "Write the trend."}]}]}},
        {"request": {**REQUEST, "inferenceConfig": {"maxTokens": 1024, "temperature": 0.2}}},
        {"request": {**REQUEST, "inferenceConfig": {"maxTokens": 2048, "temperature": 0.7}}},
    ],
)
def test_every_field_is_part_of_the_key(tmp_path: Path, changed: dict[str, Any]) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(cache_key(**BASE), CallOutcome("old"))
    other = cache_key(**{**BASE, **changed})
    assert other != cache_key(**BASE)
    assert cache.get(other) is None


def test_key_ignores_dict_order() -> None:
    reordered = dict(reversed(list(REQUEST.items())))
    assert cache_key(BASE["backend"], BASE["endpoint"], reordered) == cache_key(**BASE)


def test_key_is_sha256_hex_and_the_same_in_every_process() -> None:
    key = cache_key(**BASE)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    # a fresh interpreter (another hash seed) computes the same key: entries survive restarts
    code = f"from report_lib.llm.cache import cache_key; print(cache_key(**{BASE!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == key


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{not json",
        '{"input_tokens": 1}',
        '{"text": 5}',
        '{"text": ""}',
        '{"text": "  \\n"}',
        '{"text": "ok", "input_tokens": -3}',
        '{"text": "ok", "output_tokens": "many"}',
        '{"text": "ok", "stop_reason": 7}',
        '["text"]',
        "\udcff",  # the byte 0xff: not UTF-8
    ],
)
def test_empty_or_malformed_entry_is_a_miss(tmp_path: Path, content: str) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    cache.path_for(key).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(key).write_bytes(content.encode("utf-8", "surrogateescape"))
    assert cache.get(key) is None


def _writer(directory: str, key: str, tag: str, n: int) -> None:
    cache = ResponseCache(directory)
    for i in range(n):
        cache.put(key, CallOutcome(f"{tag}-{i} " + "x" * 20_000, input_tokens=i, output_tokens=i))


def test_concurrent_writers_never_expose_a_partial_entry(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), key, f"p{j}", 40)) for j in range(2)]
    threads = [
        threading.Thread(target=_writer, args=(str(tmp_path), key, f"t{j}", 40)) for j in range(2)
    ]
    for worker in (*procs, *threads):
        worker.start()
    while any(p.is_alive() for p in procs) or any(t.is_alive() for t in threads):
        hit = cache.get(key)
        if hit is not None:
            tag, _, filler = hit.text.partition(" ")
            index = int(tag.split("-")[1])
            assert filler == "x" * 20_000
            assert hit.input_tokens == index == hit.output_tokens
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = cache.get(key)
    assert final is not None and final.text.endswith("x" * 20_000)
    assert list(tmp_path.glob("**/*.tmp")) == []


def test_empty_answer_is_not_stored(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert cache.put(cache_key(**BASE), CallOutcome(" \n")) is None
    assert len(cache) == 0


# -- the folder: refused up front, read-only, or failing during the run ----------------------
def test_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--cache .*cache.json: this is a file, not a folder"):
        check_cache_dir(path)


def test_a_folder_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="the folder cannot be created"):
        ResponseCache(tmp_path / "plain" / "cache")


def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    assert check_cache_dir(tmp_path / "a" / "b") is True
    assert (tmp_path / "a" / "b").is_dir()


def _no_write_access(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The folder reads as not writable (chmod alone does not stop root)."""
    real_access = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if Path(path) == folder and mode & os.W_OK:
            return False
        return real_access(path, mode, **kw)

    folder.chmod(0o555)
    monkeypatch.setattr(os, "access", access)


def test_read_only_folder_serves_hits_and_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, other = cache_key(**BASE), cache_key(**{**BASE, "backend": "emulator"})
    ResponseCache(tmp_path).put(key, CallOutcome("# stored", 3, 4))
    _no_write_access(monkeypatch, tmp_path)
    try:
        with pytest.warns(CacheWarning, match="not writable") as seen:
            cache = ResponseCache(tmp_path)
            hit = cache.get(key)
            assert cache.put(other, CallOutcome("# new")) is None
            assert cache.put(other, CallOutcome("# newer")) is None
    finally:
        tmp_path.chmod(0o755)
    assert hit is not None and (hit.text, hit.cached) == ("# stored", True)
    assert len(seen) == 1
    assert cache.get(other) is None


def test_write_failure_turns_the_cache_off_with_one_warning(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    (tmp_path / key[:2]).write_text("", encoding="utf-8")  # the entry's folder cannot be made
    with pytest.warns(CacheWarning, match="storing an answer failed") as seen:
        assert cache.put(key, CallOutcome("# answer")) is None
        assert cache.put(key, CallOutcome("# again")) is None
        assert cache.get(key) is None
    assert len(seen) == 1
    assert cache.enabled is False


def test_read_failure_turns_the_cache_off_with_one_warning(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    cache.path_for(key).mkdir(parents=True)  # reading the entry fails (a folder, not a file)
    with pytest.warns(CacheWarning, match="reading an entry failed") as seen:
        assert cache.get(key) is None
        assert cache.put(cache_key(**{**BASE, "endpoint": "x"}), CallOutcome("# a")) is None
    assert len(seen) == 1
