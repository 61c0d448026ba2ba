"""Fact checking of a written report against the facts the model was given.

``check_report(text, facts) -> FactCheck``: ``mentions.py`` reads every number and month the
report writes, ``fact_index.py`` knows what the facts support (values, one-step derivations, the
data window's months), ``check.py`` decides and counts, ``result_files.py`` checks a run's delivered
reports (``ReportResult.fact_check``, the result contract's ``fact_check``), ``reviewer.py`` is
the run's reviewer for repair turns (the follow-up that asks for the flagged figures again).
"""

from __future__ import annotations

from report_lib.reports.factcheck.check import (
    FactCheck,
    Unsupported,
    check_report,
    checkable_mentions,
    corrected,
    delivered,
    verdict,
)
from report_lib.reports.factcheck.fact_index import FactIndex
from report_lib.reports.factcheck.results import ResultChecker
from report_lib.reports.factcheck.reviewer import (
    FactReviewer,
    parse_follow_up,
    parse_repair,
    repair_policy,
)

__all__ = [
    "FactCheck", "FactIndex", "FactReviewer", "ResultChecker", "Unsupported", "check_report",
    "checkable_mentions", "corrected", "delivered", "parse_follow_up", "parse_repair",
    "repair_policy", "verdict",
]
