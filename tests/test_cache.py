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

import pytest

from report_lib.jobs import CallOutcome
from report_lib.llm.cache import ResponseCache, cache_key

BASE = {
    "model_id": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "system": "You write reports.",
    "prompt": "Write the KPI report.",
    "max_tokens": 2048,
    "temperature": 0.2,
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
    ("field", "value"),
    [
        ("model_id", "anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("system", "You write short reports."),
        ("prompt", "Write the trend report."),
        ("max_tokens", 1024),
        ("temperature", 0.7),
    ],
)
def test_every_field_is_part_of_the_key(tmp_path: Path, field: str, value: object) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(cache_key(**BASE), CallOutcome("old"))
    changed = {**BASE, field: value}
    assert cache_key(**changed) != cache_key(**BASE)  # type: ignore[arg-type]
    assert cache.get(cache_key(**changed)) is None  # type: ignore[arg-type]


def test_key_is_sha256_hex_and_the_same_in_every_process() -> None:
    key = cache_key(**BASE)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    # a fresh interpreter (another hash seed) computes the same key: entries survive restarts
    code = f"from report_lib.llm.cache import cache_key; print(cache_key(**{BASE!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == key


@pytest.mark.parametrize("content", ["", "{not json", '{"input_tokens": 1}', '{"text": 5}'])
def test_unreadable_entry_is_a_miss(tmp_path: Path, content: str) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(**BASE)
    cache.path_for(key).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(key).write_text(content, encoding="utf-8")
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
