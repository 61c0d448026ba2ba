"""Backends behind one interface: ``offline`` (no network) and ``bedrock`` (boto3 Converse).

The ``emulator`` backend is the ``bedrock`` backend pointed at a local emulator process
(see report_lib.emulator); generate/bench start that process and set ``endpoint_url``.

A Backend turns a ReportJob into a CallOutcome or raises errors.BackendError.
Settings are a picklable dataclass so process/dask workers can rebuild the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from report_lib import config
from report_lib.jobs import CallOutcome, ReportJob

TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class BackendSettings:
    """Everything needed to build a backend in any process. Never holds credentials."""

    backend: str = "offline"  # offline | bedrock | emulator
    model_id: str = config.DEFAULT_MODEL_ID
    region: str = config.DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    max_tokens: int = config.DEFAULT_MAX_TOKENS
    temperature: float = config.DEFAULT_TEMPERATURE
    system: str | None = None  # overrides the job's system prompt when set
    stream: bool = False
    cache_dir: str | None = None
    # retries / timeouts (botocore Config)
    retry_mode: str = "standard"  # legacy | standard | adaptive
    max_attempts: int = 8
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    backoff_base_s: float = 0.25  # our own jittered exponential backoff base
    backoff_max_s: float = 20.0
    # client-side limiter (None = off)
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    expected_output_tokens: int = 900  # limiter's reservation before usage is known
    # price table override: {model_id: (usd per 1k input, usd per 1k output)}
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def with_(self, **changes: object) -> BackendSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


class Backend(Protocol):
    """A way to answer one job. Implementations are safe to share between threads."""

    name: str

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    def close(self) -> None: ...
