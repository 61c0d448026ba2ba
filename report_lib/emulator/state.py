"""What one emulator server remembers: quotas, counters, random sources."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from report_lib.emulator.answers import AnswerModel
from report_lib.emulator.options import EmulatorConfig
from report_lib.llm.quota import Quota


@dataclass
class Stats:
    """Counters served by ``GET /stats``."""

    requests: int = 0
    answered: int = 0
    throttled: int = 0
    failed: int = 0
    rejected: int = 0
    disconnected: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    streams: int = 0
    max_late_ms: float = 0.0  # worst overshoot of an answer past its deadline, server side
    models: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # injected: hang, reset, truncate, slow
    # figures changed on purpose (--hallucinate, --paraphrase): report, month, focus, change
    changed: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class EmulatorState:
    """Config, latency model, random sources, quotas and counters of one server."""

    def __init__(self, config: EmulatorConfig, model: AnswerModel) -> None:
        self.config = config
        self.model = model
        self.latency = config.latency
        self.stats = Stats()
        self.reset()

    def reset(self) -> None:
        """Fresh counters, re-seeded randomness, empty quotas, throttle-first again."""
        in_flight = self.stats.in_flight
        self.stats = Stats(in_flight=in_flight, max_in_flight=in_flight)
        self.latency_rng = random.Random(self.config.seed)
        self.fault_rng = random.Random(f"faults-{self.config.seed}")
        self.admitted = 0
        self.quota = quota_for(self.config)

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self.stats)
        data["models"] = dict(self.stats.models)
        data["faults"] = dict(self.stats.faults)
        data["config"] = {**asdict(self.config), "reject": list(self.config.reject)}
        quota = self.quota.snapshot()
        data["quota"] = quota
        used = quota["tokens_used"]
        data["tokens_available"] = None if self.config.tpm is None or not isinstance(used, int) \
            else self.config.tpm - used
        return data


def quota_for(config: EmulatorConfig) -> Quota:
    """The server's quotas: TPM / RPM / TPD, counted per ``quota_minute`` and ``accounting``.

    A quota minute lasts ``60 × time_scale`` seconds, like every other delay of the emulator.
    """
    return Quota(tpm=config.tpm, rpm=config.rpm, tpd=config.tpd, minute=config.quota_minute,
                 accounting=config.accounting, burndown=config.burndown,
                 minute_s=60.0 * config.time_scale)
