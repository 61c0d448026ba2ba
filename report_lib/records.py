"""The things that travel between modules: a report job, its result, a whole run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

ASSISTANT, USER = "assistant", "user"


class Reviewer(Protocol):
    """Reads an answer and asks for a better one: what a repair turn needs (execution.repair).

    Implemented above this layer (reports.factcheck.reviewer.FactReviewer checks figures against
    the facts in the prompt); the instance travels with the job, so it must pickle (a plain
    object of an importable class): process and dask workers repair too.
    """

    def review(self, job: ReportJob, text: str) -> dict[str, Any] | None:
        """The answer's check (the result contract's ``fact_check`` entry), None: no review."""
        ...

    def follow_up(self, job: ReportJob, text: str, check: dict[str, Any]) -> str:
        """The user message that asks for ``text`` again with the flagged figures corrected."""
        ...


@dataclass(frozen=True)
class RepairPolicy:
    """Up to ``rounds`` repair turns for an answer ``reviewer`` finds fault with (0: check only)."""

    rounds: int
    reviewer: Reviewer


@dataclass(frozen=True)
class ReportJob:
    """One LLM call: a prompt for one report.

    ``key`` is unique within a run ("kpi", or "cpo@GS차지비@2025-11" for many-job runs);
    ``kind`` is one of config.REPORT_KINDS. ``system`` and ``prompt`` are what the model
    sees (built by prompts.build_prompt from the facts only). ``deadline_at`` is the wall-clock
    time (``time.time()``) by which the answer must be in: the run's start plus ``deadline_s``,
    stamped by the strategy when the run starts, so a job waiting in line spends its own time
    (None: the call's clock starts with the call). ``turns`` continue the
    conversation after ``prompt`` as (role, text) pairs, ``("assistant", answer)`` then
    ``("user", follow-up)``: a repair request (execution.repair). ``repair``: the run's repair
    policy (None: the answer is delivered as it comes). ``deadline_s`` overrides the settings'
    deadline for this call when no ``deadline_at`` is set (a repair outside a run gets what is
    left of its report's deadline).
    """

    key: str
    kind: str
    system: str
    prompt: str
    language: str = "ko"
    target_month: str | None = None
    focus_cpo: str | None = None
    deadline_at: float | None = None
    turns: tuple[tuple[str, str], ...] = ()
    repair: RepairPolicy | None = None
    deadline_s: float | None = None

    @property
    def label(self) -> str:
        """The job's name in progress lines and errors: its key, and the repair round."""
        follow_ups = sum(1 for role, _ in self.turns if role == USER)
        return f"{self.key} (repair {follow_ups})" if follow_ups else self.key


@dataclass
class CallOutcome:
    """What a backend returns for one successful call."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 1
    ttft_s: float | None = None
    cached: bool = False
    stop_reason: str | None = None
    latency_ms: float | None = None  # the service's own processing time (metrics.latencyMs)


@dataclass
class ReportResult:
    """Outcome of one job. ``content`` is None exactly when ``error_type`` is set."""

    key: str
    kind: str
    content: str | None = None
    seconds: float = 0.0
    start_s: float = 0.0  # offset from the run's start
    end_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None: the model has no known price (llm.pricing)
    attempts: int = 1
    cached: bool = False
    ttft_s: float | None = None
    error_type: str | None = None
    error_message: str | None = None
    worker: str | None = None  # thread/process/task that ran it
    fact_check: dict[str, Any] | None = None  # reports.factcheck: FactCheck.to_dict()
    # the answers before the delivered one when a repair turn was taken (execution.repair)
    versions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_type is None and self.content is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _total_cost(results: list[ReportResult]) -> float | None:
    """The run's cost; None (unknown) when any report's cost is unknown."""
    costs = [r.cost_usd for r in results]
    return None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 6)


@dataclass
class RunResult:
    """A whole generate run; ``to_dict()`` is the result contract (docs/RESULTS.md)."""

    results: list[ReportResult]
    total_time: float
    strategy: str
    backend: str
    model_id: str | None
    target_month: str | None
    focus_cpo: str | None = None
    language: str = "ko"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def reports(self) -> dict[str, str]:
        """Successful reports' Markdown by key."""
        return {r.key: r.content for r in self.results if r.ok and r.content is not None}

    def to_dict(self) -> dict[str, Any]:
        ok = [r for r in self.results if r.ok]
        failed = [r for r in self.results if not r.ok]
        usage = {
            r.key: {
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cost_usd": None if r.cost_usd is None else round(r.cost_usd, 6),
                "cached": r.cached,
            }
            for r in self.results
        }
        return {
            "success": self.success,
            "reports": {
                r.key: {"type": r.kind, "content": r.content,
                        **({"versions": r.versions} if r.versions else {})}
                for r in ok
            },
            "report_times": {r.key: round(r.seconds, 3) for r in self.results},
            "total_time": round(self.total_time, 3),
            "errors": {
                r.key: {
                    "type": r.error_type,
                    "message": r.error_message,
                    "attempts": r.attempts,
                }
                for r in failed
            },
            "usage": usage,
            "usage_total": {
                "input_tokens": sum(r.input_tokens for r in self.results),
                "output_tokens": sum(r.output_tokens for r in self.results),
                "cost_usd": _total_cost(self.results),
            },
            "timeline": {
                r.key: {
                    "start_s": round(r.start_s, 4),
                    "end_s": round(r.end_s, 4),
                    "ttft_s": r.ttft_s,
                    "attempts": r.attempts,
                    "worker": r.worker,
                }
                for r in self.results
            },
            "fact_check": {r.key: r.fact_check for r in ok if r.fact_check is not None},
            "strategy": self.strategy,
            "backend": self.backend,
            "model_id": self.model_id,
            "target_month": self.target_month,
            "focus_cpo": self.focus_cpo,
            "language": self.language,
            **self.extra,
        }
