"""EV Infra Report Lab: CPO statistics to three LLM-written reports, run in parallel.

The public API is re-exported here lazily (PEP 562), so ``import report_lib`` stays cheap for
worker processes and the emulator, which import submodules only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "BackendSettings": "report_lib.llm.settings",
    "load_data": "report_lib.data.loader",
    "BackendError": "report_lib.errors",
    "CredentialsError": "report_lib.errors",
    "DataError": "report_lib.errors",
    "PipelineError": "report_lib.errors",
    "ReportLabError": "report_lib.errors",
    "ThrottledError": "report_lib.errors",
    "build_jobs": "report_lib.reports.build",
    "build_many_jobs": "report_lib.reports.build",
    "generate_reports": "report_lib.app.generate",
    "write_outputs": "report_lib.app.outputs",
    "ReportJob": "report_lib.records",
    "ReportResult": "report_lib.records",
    "RunResult": "report_lib.records",
    "Facts": "report_lib.reports.facts",
    "compute_all_facts": "report_lib.reports.facts",
    "compute_facts": "report_lib.reports.facts",
    "write_report": "report_lib.reports.offline.writer",
    "FactCheck": "report_lib.reports.factcheck",
    "check_report": "report_lib.reports.factcheck",
    "build_prompt": "report_lib.reports.prompts",
    "run_jobs": "report_lib.execution",
    "STRATEGIES": "report_lib.execution",
    "ConfigError": "report_lib.errors",
    "RunInterrupted": "report_lib.errors",
    "Emulator": "report_lib.emulator",
    "EmulatorConfig": "report_lib.emulator",
    "UnknownChoiceError": "report_lib.errors",
}

__all__ = [
    "STRATEGIES",
    "BackendError",
    "BackendSettings",
    "ConfigError",
    "CredentialsError",
    "DataError",
    "Emulator",
    "EmulatorConfig",
    "FactCheck",
    "Facts",
    "PipelineError",
    "ReportJob",
    "ReportLabError",
    "ReportResult",
    "RunInterrupted",
    "RunResult",
    "ThrottledError",
    "UnknownChoiceError",
    "build_jobs",
    "build_many_jobs",
    "build_prompt",
    "check_report",
    "compute_all_facts",
    "compute_facts",
    "generate_reports",
    "load_data",
    "run_jobs",
    "write_outputs",
    "write_report",
]

if TYPE_CHECKING:
    from report_lib.app.generate import generate_reports
    from report_lib.app.outputs import write_outputs
    from report_lib.data.loader import load_data
    from report_lib.emulator import Emulator, EmulatorConfig
    from report_lib.errors import (
        BackendError,
        ConfigError,
        CredentialsError,
        DataError,
        PipelineError,
        ReportLabError,
        RunInterrupted,
        ThrottledError,
        UnknownChoiceError,
    )
    from report_lib.execution import STRATEGIES, run_jobs
    from report_lib.llm.settings import BackendSettings
    from report_lib.records import ReportJob, ReportResult, RunResult
    from report_lib.reports.build import build_jobs, build_many_jobs
    from report_lib.reports.factcheck import FactCheck, check_report
    from report_lib.reports.facts import Facts, compute_all_facts, compute_facts
    from report_lib.reports.offline.writer import write_report
    from report_lib.reports.prompts import build_prompt


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'report_lib' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
