"""Run many report jobs at once, one contract for every strategy (see ``base``).

``run_jobs(jobs, settings, strategy=NAME)`` with NAME from ``STRATEGIES.names()``:
sequential, thread, process, asyncio, dask, and ``original`` (the design this project replaces,
the benchmark's baseline). ``await arun_jobs(...)`` is the asyncio strategy for async callers.
"""

from __future__ import annotations

from report_lib.execution.base import (
    MAX_CONCURRENCY,
    MAX_JOBS,
    START_METHODS,
    STRATEGIES,
    RunOptions,
    Strategy,
    check_concurrency,
    check_job_count,
    run_jobs,
)
from report_lib.execution.calls import run_one
from report_lib.execution.local import arun_jobs

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_JOBS",
    "START_METHODS",
    "STRATEGIES",
    "RunOptions",
    "Strategy",
    "arun_jobs",
    "check_concurrency",
    "check_job_count",
    "run_jobs",
    "run_one",
]
