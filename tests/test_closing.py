"""The Closing mixin: ``with x as y`` gives x, starts it, and closes it whatever happens."""

from __future__ import annotations

import pytest

from report_lib.closing import Closing
from report_lib.llm.progress import ProgressTicker
from report_lib.llm.settings import BackendSettings
from report_lib.reports.offline.backend import OfflineBackend


class Recorder(Closing):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def close(self) -> None:
        self.calls.append("close")


def test_with_starts_returns_the_object_and_closes_it() -> None:
    recorder = Recorder()
    with recorder as entered:
        assert entered is recorder
        assert recorder.calls == ["start"]
    assert recorder.calls == ["start", "close"]


def test_close_runs_when_the_block_raises_and_the_error_propagates() -> None:
    recorder = Recorder()
    with pytest.raises(KeyError), recorder:
        raise KeyError("inside")
    assert recorder.calls == ["start", "close"]


def test_a_subclass_without_close_says_so() -> None:
    class Forgetful(Closing):
        pass

    with pytest.raises(NotImplementedError, match="Forgetful must define close"), Forgetful():
        pass


def test_the_library_context_managers_return_themselves() -> None:
    backend = OfflineBackend(BackendSettings(backend="offline"))
    with backend as entered:
        assert entered is backend
    ticker = ProgressTicker(print, interval_s=60.0, describe=lambda: None)
    with ticker as running:
        assert running is ticker
