"""The whole Backend protocol on every backend: a backend that writes only ``call`` works with
every strategy run in this process, and no caller probes a backend for a method."""

from __future__ import annotations

import ast
import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import report_lib
from report_lib.execution import run_jobs
from report_lib.execution.local import arun_jobs
from report_lib.llm.backends import BACKENDS, Backend, BaseBackend
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob

PACKAGE = Path(report_lib.__file__).parent


class OnlyCall(BaseBackend):
    """Writes ``call`` and nothing else; counts the backends built and closed."""

    name = "only-call"
    built: ClassVar[list[OnlyCall]] = []

    def __init__(self, settings: BackendSettings, max_concurrency: int = 1) -> None:
        super().__init__(settings, max_concurrency)
        self.calls = 0
        self.lock = threading.Lock()
        OnlyCall.built.append(self)

    def call(self, job: ReportJob, on_text: object = None) -> CallOutcome:
        with self.lock:
            self.calls += 1
        return CallOutcome(text=f"report {job.key}", input_tokens=2, output_tokens=len(job.key))


def _jobs(n: int) -> list[ReportJob]:
    return [ReportJob(key=f"job{i}", kind="kpi", system="s", prompt=f"p{i}") for i in range(n)]


@pytest.fixture
def only_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[BackendSettings]:
    monkeypatch.setattr(OnlyCall, "built", [])
    BACKENDS.register("only-call", OnlyCall)
    yield BackendSettings(backend="only-call")
    del BACKENDS._entries["only-call"]


@pytest.mark.parametrize("strategy", ["sequential", "thread", "asyncio", "original"])
def test_a_backend_writing_only_call_works_with_every_in_process_strategy(
    only_call: BackendSettings, strategy: str
) -> None:
    results = run_jobs(_jobs(4), only_call, strategy=strategy)  # the strategy builds its own
    assert [r.content for r in results] == [f"report job{i}" for i in range(4)]
    assert all(r.ok and r.output_tokens == 4 for r in results)
    assert sum(b.calls for b in OnlyCall.built) == 4
    shared = OnlyCall(only_call)
    again = run_jobs(_jobs(3), only_call, strategy=strategy, backend=shared)
    assert [r.content for r in again] == [f"report job{i}" for i in range(3)]
    assert shared.calls == (0 if strategy == "original" else 3)  # original builds per call


def test_a_backend_writing_only_call_works_with_arun_jobs(only_call: BackendSettings) -> None:
    backend = OnlyCall(only_call)
    results = asyncio.run(arun_jobs(_jobs(3), only_call, backend=backend))
    assert [r.content for r in results] == [f"report job{i}" for i in range(3)]
    assert backend.calls == 3


def test_base_backend_has_every_method_of_the_protocol() -> None:
    wanted = {name for name in dir(Backend) if not name.startswith("_")}
    assert wanted <= set(dir(BaseBackend))
    assert {"open", "aopen", "close", "aclose", "call", "acall"} <= wanted


def _probed_names(tree: ast.AST) -> list[tuple[int, str]]:
    """``getattr(x, "name", ...)`` / ``hasattr(x, "name")`` with a literal name."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)):
            found.append((node.lineno, node.args[1].value))
    return found


@pytest.mark.slow
def test_no_module_probes_a_backend_for_a_method() -> None:
    # every method of the protocol (close too, but a boto3 client may lack one: the one place
    # that probes a *client* for close is in llm.backends and is not a backend)
    backend_methods = {"open", "aopen", "aclose", "call", "acall", "use_limiter", "serve"}
    probes = [
        f"{path.relative_to(PACKAGE)}:{line} probes {name!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in _probed_names(ast.parse(path.read_text(encoding="utf-8")))
        if name in backend_methods
    ]
    assert probes == []


def test_the_probe_finder_finds_a_probe() -> None:
    tree = ast.parse('aopen = getattr(backend, "aopen", None)\nhasattr(b, "use_limiter")')
    assert _probed_names(tree) == [(1, "aopen"), (2, "use_limiter")]
