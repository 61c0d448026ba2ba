"""The strategy benchmark: plan → workload → runner → rows → analysis → summary / comparison.

``run_benchmark`` measures (bench.run); ``load_results`` reads a run back (bench.results);
``summarize`` and ``check_targets`` turn rows into per-case figures and targets
(bench.analysis); ``format_summary`` prints them (bench.summary); ``bench.comparison`` and
``bench.figures`` (matplotlib) make the comparison report.

The names below are loaded on first use (PEP 562), so ``report_lib.bench.plan`` stays cheap to
import for scripts whose process workers re-import their ``__main__``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DEFAULT_DIR": "report_lib.bench.results",
    "SCENARIOS": "report_lib.bench.plan",
    "check_targets": "report_lib.bench.analysis",
    "format_summary": "report_lib.bench.summary",
    "load_results": "report_lib.bench.results",
    "run_benchmark": "report_lib.bench.run",
    "summarize": "report_lib.bench.analysis",
}
__all__ = ["DEFAULT_DIR", "SCENARIOS", "check_targets", "format_summary", "load_results",
           "run_benchmark", "summarize"]

if TYPE_CHECKING:
    from report_lib.bench.analysis import check_targets, summarize
    from report_lib.bench.plan import SCENARIOS
    from report_lib.bench.results import DEFAULT_DIR, load_results
    from report_lib.bench.run import run_benchmark
    from report_lib.bench.summary import format_summary


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'report_lib.bench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
