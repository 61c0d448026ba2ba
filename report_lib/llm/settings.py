"""Backend settings: plain, picklable data. Imports only the package config and errors.

Every LLM-layer module (clients, retry, limiter, cache) reads these; none of them is imported
back from here, so the settings can travel to process and Dask workers without pulling a client.
Bad timeouts or attempt counts raise ConfigError naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from report_lib import config
from report_lib.errors import ConfigError

TRANSPORTS = ("direct", "botocore")  # how Converse is sent (BackendSettings.transport)


@dataclass(frozen=True)
class BackendSettings:
    """Everything needed to build a backend in any process. Never holds credentials."""

    backend: str = config.DEFAULT_BACKEND  # offline | emulator | bedrock
    model_id: str = config.DEFAULT_MODEL_ID
    region: str = config.DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    max_tokens: int = config.DEFAULT_MAX_TOKENS
    temperature: float = config.DEFAULT_TEMPERATURE
    system: str | None = None  # overrides the job's system prompt when set
    stream: bool = False
    cache_dir: str | None = None
    # retries / timeouts. A hung endpoint ends a run at deadline_s: an async attempt is
    # cancelled then, a sync attempt's read timeout is cut to the time left.
    retry_mode: str = "standard"  # legacy | standard | adaptive
    # how Converse is sent: "direct" (signed and sent by report_lib with botocore's signer and
    # HTTP session, skipping its per-call pipeline; report_lib.llm.direct) or "botocore"
    transport: str = "direct"
    max_attempts: int = 8
    connect_timeout: float = 10.0  # per attempt: seconds to open the connection
    read_timeout: float = 60.0  # per attempt: seconds without a byte from the endpoint
    deadline_s: float | None = 240.0  # per run, from its start: every report's attempts and
    # waits, waiting in line included (a lone call: from the call's start); None = unbounded
    backoff_base_s: float = 0.25  # our own jittered exponential backoff base
    backoff_max_s: float = 20.0
    # client-side limiter (None = off)
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    tpm_auto: bool = False  # --tpm-limit auto: find the tokens-per-minute quota (AIMD)
    expected_output_tokens: int = 900  # cost estimates before usage is known
    limiter_window_s: float = 60.0  # the limiter's minute: 60 s against Bedrock; against an
    # emulator whose clock runs faster (time_scale), its quota minute (the emulator backend's
    # serve sets it, as the benchmark does)
    burndown: float | None = None  # quota tokens per output token; None: the model's rate
    # price table override: {model_id or substring: (usd per 1M input, usd per 1M output)}
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}")
        if self.burndown is not None and (isinstance(self.burndown, bool) or
                                          not isinstance(self.burndown, int | float) or
                                          not self.burndown >= 1):
            raise ConfigError(f"burndown must be a number >= 1 (quota tokens per output token), "
                              f"got {self.burndown!r}")
        for name in ("tpm_limit", "rpm_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.transport not in TRANSPORTS:
            raise ConfigError(f"transport must be 'direct' or 'botocore', got "
                              f"{self.transport!r}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        # the clients skip botocore's per-call parameter validation (converse.client_config_
        # kwargs): what it would catch in the request we build is checked here, once
        if (isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int)
                or self.max_tokens < 1):
            raise ConfigError(f"max_tokens must be a whole number >= 1, got {self.max_tokens!r}")
        if (isinstance(self.temperature, bool) or not isinstance(self.temperature, int | float)
                or not 0 <= self.temperature <= 1):
            raise ConfigError(f"temperature must be a number from 0 to 1, "
                              f"got {self.temperature!r}")
        if not isinstance(self.model_id, str) or not self.model_id:
            raise ConfigError(f"model_id must be a non-empty model id, got {self.model_id!r}")
