"""Check every delivered report of a run against the facts its prompt carried."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from report_lib.records import ReportJob, ReportResult
from report_lib.reports.factcheck.check import check_report
from report_lib.reports.facts import Facts
from report_lib.reports.prompts import parse_facts


class ResultChecker:
    """Sets ``result.fact_check`` on each delivered report (once), from its job's facts.

    ``wrap(on_result)`` checks a result before handing it on, so a page showing reports as
    they arrive shows the verdict with them; ``check_all(results)`` checks what is left (a
    result that reached no callback). Cached and streamed answers are checked alike: only the
    final text counts. A job without a ``<facts>`` block (not a report_lib prompt) is skipped.
    """

    def __init__(self, jobs: Iterable[ReportJob]) -> None:
        self._facts: dict[str, Facts | None] = {job.key: parse_facts(job.prompt) for job in jobs}

    def __call__(self, result: ReportResult) -> ReportResult:
        facts = self._facts.get(result.key)
        if result.ok and result.fact_check is None and facts is not None:
            result.fact_check = check_report(result.content or "", facts).to_dict()
        return result

    def wrap(
        self, on_result: Callable[[ReportResult], None] | None
    ) -> Callable[[ReportResult], None]:
        def checked(result: ReportResult) -> None:
            self(result)
            if on_result is not None:
                on_result(result)

        return checked

    def check_all(self, results: list[ReportResult]) -> list[ReportResult]:
        return [self(result) for result in results]
