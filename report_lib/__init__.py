"""EV Infra Report Lab: CPO statistics to three LLM-written reports, run in parallel."""

from __future__ import annotations

from report_lib.backends import BackendSettings
from report_lib.data import load_data
from report_lib.errors import (
    BackendError,
    CredentialsError,
    DataError,
    PipelineError,
    ReportLabError,
    ThrottledError,
)
from report_lib.generate import build_jobs, build_many_jobs, generate_reports, write_outputs
from report_lib.jobs import ReportJob, ReportResult, RunResult
from report_lib.metrics import Facts, compute_all_facts, compute_facts
from report_lib.offline_writer import write_report
from report_lib.prompts import build_prompt

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BackendSettings",
    "CredentialsError",
    "DataError",
    "Facts",
    "PipelineError",
    "ReportJob",
    "ReportLabError",
    "ReportResult",
    "RunResult",
    "ThrottledError",
    "build_jobs",
    "build_many_jobs",
    "build_prompt",
    "compute_all_facts",
    "compute_facts",
    "generate_reports",
    "load_data",
    "write_outputs",
    "write_report",
]
