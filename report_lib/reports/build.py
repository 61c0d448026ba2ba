"""From a table to report jobs: facts → prompt → ReportJob, for one month or many."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from report_lib import config
from report_lib.errors import ConfigError
from report_lib.records import ReportJob
from report_lib.reports.facts import (
    Facts,
    compute_all_facts,
    compute_facts,
    resolve_cpo,
    resolve_month,
)
from report_lib.reports.prompts import build_prompt


def _job(key: str, facts: Facts, language: str, month: str, cpo: str | None) -> ReportJob:
    prompt = build_prompt(facts, language=language)
    return ReportJob(key=key, kind=facts.kind, system=prompt.system, prompt=prompt.user,
                     language=language, target_month=month, focus_cpo=cpo)


def build_jobs(
    df: pd.DataFrame,
    *,
    month: str = "latest",
    focus_cpo: str | None = config.DEFAULT_FOCUS_CPO,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    language: str = config.DEFAULT_LANGUAGE,
    kinds: Sequence[str] = config.REPORT_KINDS,
) -> list[ReportJob]:
    """One job per report kind, keyed by the kind ("kpi", "cpo", "trend")."""
    target = resolve_month(df, month)
    focus = resolve_cpo(df, focus_cpo)
    facts = compute_all_facts(df, month=target, focus_cpo=focus, window=window, kinds=tuple(kinds))
    return [_job(kind, facts[kind], language, target, focus) for kind in kinds]


def build_many_jobs(
    df: pd.DataFrame,
    n: int,
    *,
    language: str = config.DEFAULT_LANGUAGE,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    kinds: Sequence[str] = config.REPORT_KINDS,
) -> list[ReportJob]:
    """``n`` distinct jobs: every kind for each of the largest operators, then earlier months.

    Models the many-report runs users make: one set of reports per operator, or per month.
    Keys look like ``cpo@GS차지비@2025-11``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n (the number of jobs) must be a whole number >= 1, got {n!r}")
    months = sorted(df["month"].unique(), reverse=True)
    jobs: list[ReportJob] = []
    for month in months:
        for cpo in df[df["month"] == month].sort_values("rank")["cpo"].tolist():
            for kind in kinds:
                facts = compute_facts(df, kind, month=month, focus_cpo=cpo, window=window)
                jobs.append(_job(f"{kind}@{cpo}@{month}", facts, language, month, cpo))
                if len(jobs) == n:
                    return jobs
    raise ConfigError(
        f"n={n}: the data only supports {len(jobs)} distinct jobs "
        f"({len(months)} months × operators × {len(kinds)} kinds); ask for at most {len(jobs)}"
    )
