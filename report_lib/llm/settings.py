"""Backend settings: plain, picklable data. Imports only the package config.

Every LLM-layer module (clients, retry, limiter, cache) reads these; none of them is imported
back from here, so the settings can travel to process and Dask workers without pulling a client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from report_lib import config


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
    limiter_window_s: float = 60.0  # the limiter's minute (60 x time_scale against the emulator)
    # price table override: {model_id or substring: (usd per 1M input, usd per 1M output)}
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
