"""Fact checking of a written report against the facts the model was given.

``check_report(text, facts) -> FactCheck``: ``mentions.py`` reads every number and month the
report writes, ``index.py`` knows what the facts support (values, one-step derivations, the
data window's months), ``check.py`` decides and counts, ``results.py`` checks a run's delivered
reports (``ReportResult.fact_check``, the result contract's ``fact_check``).
"""

from __future__ import annotations

from report_lib.reports.factcheck.check import (
    FactCheck,
    Unsupported,
    check_report,
    checkable_mentions,
    verdict,
)
from report_lib.reports.factcheck.index import FactIndex
from report_lib.reports.factcheck.results import ResultChecker

__all__ = [
    "FactCheck", "FactIndex", "ResultChecker", "Unsupported", "check_report",
    "checkable_mentions", "verdict",
]
