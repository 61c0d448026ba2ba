"""What one emulator server remembers: token bucket, counters, random sources."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from report_lib.emulator.options import EmulatorConfig


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``capacity`` per ``period_s``."""

    def __init__(
        self, capacity: float, period_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / period_s
        self.clock = clock
        self.level = capacity
        self.updated = clock()

    def available(self) -> float:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        return self.level

    def try_take(self, tokens: float) -> bool:
        if tokens > self.available():
            return False
        self.level -= tokens
        return True


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
    """Config, latency model, random sources, quota and counters of one server."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.latency = config.latency
        self.stats = Stats()
        self.reset()

    def reset(self) -> None:
        """Fresh counters, re-seeded randomness, a full token bucket, throttle-first again."""
        in_flight = self.stats.in_flight
        self.stats = Stats(in_flight=in_flight, max_in_flight=in_flight)
        self.latency_rng = random.Random(self.config.seed)
        self.fault_rng = random.Random(f"faults-{self.config.seed}")
        self.admitted = 0
        tpm = self.config.tpm
        self.bucket = TokenBucket(tpm, 60.0 * self.config.time_scale) if tpm else None

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self.stats)
        data["models"] = dict(self.stats.models)
        data["faults"] = dict(self.stats.faults)
        data["config"] = {**asdict(self.config), "reject": list(self.config.reject)}
        data["tokens_available"] = None if self.bucket is None else int(self.bucket.available())
        return data
