"""Repair turns: an answer its reviewer finds fault with is asked for again, inside the run.

A job with a ``RepairPolicy`` (report_lib.records) has its answer reviewed where it was answered
(the worker thread, task, process or dask task), by the policy's ``Reviewer`` (the fact check,
implemented in reports.factcheck.reviewer: this layer only knows the protocol). When the review
lists unsupported figures, the same conversation gets one more user message (the reviewer's
follow-up) and goes through the same backend, so the repair has the run's limiter, retries, cache
and concurrency slot; three reports repair in parallel. Up to ``rounds`` turns, each on the best
version so far; the delivered version is the one with the fewest unsupported figures (ties: the
earlier one).

Deadline: a report's deadline covers its repairs. A repair is sent only when the time left is
at least what the previous call took (a repair writes the whole report again); the call itself
gets what is left as its deadline. A repair that fails (deadline, throttling...) ends the
repairs: the best version so far is delivered, with its marks and the error.

``Repair`` holds the decisions and no I/O (like llm.retry.RetryState); execution.calls drives
it with ``backend.call`` or ``await backend.acall``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from report_lib.errors import BackendError
from report_lib.records import ASSISTANT, USER, CallOutcome, ReportJob, ReportResult

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

CLEAN, ROUNDS, DEADLINE, ERROR, INTERRUPTED, UNCHECKED = (
    "clean", "rounds", "deadline", "error", "interrupted", "unchecked",
)


def _unsupported(check: dict[str, Any] | None) -> int:
    return len(check["unsupported"]) if check else 0


@dataclass
class Version:
    """One answer of a report and its review."""

    text: str
    check: dict[str, Any] | None


class Repair:
    """One report's repair turns: its versions, the best one, what the turns cost.

    ``next_job(elapsed)`` gives the next repair request or None (``stopped`` says why);
    ``answered(outcome, seconds, cost)`` / ``failed(error)`` record a turn; ``result(end)`` is
    the report to deliver.
    """

    def __init__(self, job: ReportJob, settings: BackendSettings, first: ReportResult) -> None:
        assert job.repair is not None and first.content is not None
        self.job, self.settings, self.first = job, settings, first
        self.reviewer = job.repair.reviewer
        self.allowed = job.repair.rounds
        self.versions = [Version(first.content, self.reviewer.review(job, first.content))]
        self.best = 0
        self.rounds = 0
        self.input_tokens = self.output_tokens = 0
        self.cost: float | None = 0.0
        self.seconds = 0.0
        self.attempts = 0
        self.last_call_s = first.seconds
        self.stopped: str | None = None
        self.error: str | None = None

    @property
    def deadline_s(self) -> float | None:
        return self.settings.deadline_s if self.job.deadline_s is None else self.job.deadline_s

    def next_job(self, elapsed: float) -> ReportJob | None:
        """The next repair request, ``elapsed`` seconds after the report's first call began;
        None when no repair is to be sent (``stopped`` says why)."""
        if self.stopped is not None:
            return None
        best = self.versions[self.best]
        if best.check is None:
            self.stopped = UNCHECKED
        elif not best.check["unsupported"]:
            self.stopped = CLEAN
        elif self.rounds >= self.allowed:
            self.stopped = ROUNDS
        if self.stopped is not None:
            return None
        assert best.check is not None
        if self.job.deadline_at is not None:  # the run's clock, shared by every report
            left: float | None = self.job.deadline_at - time.time()
        else:
            left = None if self.deadline_s is None else self.deadline_s - elapsed
        if left is not None and left < max(self.last_call_s, 1e-3):
            self.stopped = DEADLINE
            return None
        follow_up = self.reviewer.follow_up(self.job, best.text, best.check)
        return replace(self.job, turns=((ASSISTANT, best.text), (USER, follow_up)),
                       repair=None, deadline_s=left)

    def answered(self, outcome: CallOutcome, seconds: float, cost: float | None) -> None:
        """Record a repair answer; it becomes the best version when it has fewer flags."""
        self.rounds += 1
        self.input_tokens += outcome.input_tokens
        self.output_tokens += outcome.output_tokens
        self.cost = None if cost is None or self.cost is None else self.cost + cost
        self.seconds += seconds
        self.attempts += outcome.attempts
        self.last_call_s = seconds
        version = Version(outcome.text, self.reviewer.review(self.job, outcome.text))
        self.versions.append(version)
        if _unsupported(version.check) < _unsupported(self.versions[self.best].check):
            self.best = len(self.versions) - 1

    def failed(self, error: Exception, seconds: float) -> None:
        """A repair call failed for good: no more turns; the best version so far is kept."""
        self.seconds += seconds
        kind = error.error_type if isinstance(error, BackendError) else type(error).__name__
        self.attempts += error.attempts if isinstance(error, BackendError) else 1
        self.stopped, self.error = ERROR, f"{kind}: {error}"

    def summary(self, stopped: str | None = None) -> dict[str, Any]:
        """``fact_check[key]["repair"]`` of the result contract (docs/RESULTS.md)."""
        first = self.versions[0].check
        delivered = self.versions[self.best].check
        return {
            "rounds": self.rounds,
            "fixed": _unsupported(first) - _unsupported(delivered),
            "remaining": _unsupported(delivered),
            "version": self.best,
            "delivered": delivered,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost is None else round(self.cost, 6),
            "seconds": round(self.seconds, 3),
            "stopped": stopped or self.stopped,
            "error": self.error,
        }

    def result(self, end: float, *, stopped: str | None = None) -> ReportResult:
        """The report to deliver, ``end`` seconds after the run's start: the best version, the
        first answer's check with the repair summary, tokens, cost and time of every turn."""
        first = self.first
        cost = None if first.cost_usd is None or self.cost is None else first.cost_usd + self.cost
        check = self.versions[0].check
        return replace(
            first,
            content=self.versions[self.best].text,
            end_s=end,
            seconds=end - first.start_s,
            input_tokens=first.input_tokens + self.input_tokens,
            output_tokens=first.output_tokens + self.output_tokens,
            cost_usd=cost,
            fact_check=None if check is None else {**check, "repair": self.summary(stopped)},
            versions=[v.text for v in self.versions] if self.rounds else [],
        )
