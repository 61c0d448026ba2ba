"""The report jobs a benchmark sends, and the token quota that makes a run quota-bound."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import pandas as pd

from report_lib.bench.plan import THREE_REPORT_SCENARIOS
from report_lib.config import DEFAULT_MAX_TOKENS, DEFAULT_MODEL_ID
from report_lib.data.sample import synthesize
from report_lib.llm.quota import burndown_rate, charged_tokens, reserved_tokens
from report_lib.llm.tokens import estimate_tokens
from report_lib.records import ReportJob
from report_lib.reports.build import build_jobs, build_many_jobs
from report_lib.reports.offline.model_answers import answer_for

THROTTLED_QUOTA_MINUTES = 4.0  # Σ tokens ≈ 4 × tpm: 1 minute of burst + 3 quota-bound minutes


class JobSource:
    """Report jobs built once from synthetic data; prefixes serve every N."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._df: pd.DataFrame | None = None
        self._many: list[ReportJob] = []
        self._three: list[ReportJob] | None = None

    @property
    def df(self) -> pd.DataFrame:
        if self._df is None:
            self._df = synthesize(seed=self.seed)
        return self._df

    def jobs(self, scenario: str, n: int) -> list[ReportJob]:
        if scenario in THREE_REPORT_SCENARIOS and n == 3:
            if self._three is None:
                self._three = build_jobs(self.df)
            return list(self._three)
        if len(self._many) < n:
            self._many = build_many_jobs(self.df, n)
        return self._many[:n]


def estimate_job_tokens(jobs: Sequence[ReportJob]) -> list[tuple[int, int]]:
    """(input, output) tokens the emulator will bill for each job (its answer, counted)."""
    return [_prompt_tokens(job.system, job.prompt) for job in jobs]


@functools.lru_cache(maxsize=4096)
def _prompt_tokens(system: str, prompt: str) -> tuple[int, int]:
    """(input, output) tokens of one prompt (its emulator answer is written, then counted:
    ~25 ms, so each prompt is counted once per process)."""
    answer = answer_for(system, prompt)
    return estimate_tokens(system + "\n" + prompt), estimate_tokens(answer.text)


def throttled_quota(jobs: Sequence[ReportJob], minutes: float = THROTTLED_QUOTA_MINUTES, *,
                    model_id: str = DEFAULT_MODEL_ID,
                    max_tokens: int = DEFAULT_MAX_TOKENS) -> int:
    """A tokens-per-minute quota that ``jobs`` need about ``minutes`` quota minutes for, counted
    the way the emulator charges by default (Bedrock's: each call settles to input + output ×
    the model's burndown rate, and reserves input + ``max_tokens`` while it runs)."""
    burndown = burndown_rate(model_id)
    counts = estimate_job_tokens(jobs)
    charged = [charged_tokens(i, o, burndown) for i, o in counts]
    largest = max(max(charged), max(reserved_tokens(i, max_tokens) for i, _ in counts))
    return max(math.ceil(sum(charged) / minutes), 2 * largest)
