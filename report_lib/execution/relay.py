"""report_lib's warnings from worker processes, shown once by the process that runs the run.

A worker process (the process and dask strategies) does not print our warnings (a cache turned
off, say): ``hold_warnings()`` keeps them, ``take_held()`` hands them over with the results as
``(category name, message)`` pairs, and the parent re-issues each category once per run with
``reissue``. Warnings of other libraries are shown as usual.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from typing import Any

from report_lib.errors import ReportLabWarning

Held = list[tuple[str, str]]

_HELD: Held = []
_LOCK = threading.Lock()
_INSTALLED: list[Any] = []  # the showwarning that ours wraps, once installed


def _categories() -> dict[str, type[Warning]]:
    """Our warning categories by name (subclasses of ReportLabWarning, loaded ones)."""
    found: dict[str, type[Warning]] = {}
    todo: list[type[Warning]] = [ReportLabWarning]
    while todo:
        kind = todo.pop()
        found[kind.__name__] = kind
        todo += kind.__subclasses__()
    return found


def hold_warnings() -> None:
    """In a worker process: keep report_lib's warnings instead of printing them (idempotent)."""
    with _LOCK:
        if _INSTALLED:
            return
        previous = warnings.showwarning
        _INSTALLED.append(previous)

    def showwarning(message: Warning | str, category: type[Warning], filename: str,
                    lineno: int, file: Any = None, line: str | None = None) -> None:
        if issubclass(category, ReportLabWarning):
            with _LOCK:
                _HELD.append((category.__name__, str(message)))
            return
        previous(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def take_held() -> Held:
    """The warnings kept since the last call (emptied)."""
    with _LOCK:
        held = list(_HELD)
        _HELD.clear()
    return held


def reissue(held: Iterable[tuple[str, str]], shown: set[str]) -> None:
    """Warn each held warning whose category is not in ``shown`` yet (then add it)."""
    kinds = _categories()
    for name, message in held:
        if name in shown:
            continue
        shown.add(name)
        warnings.warn(message, kinds.get(name, ReportLabWarning), stacklevel=2)
