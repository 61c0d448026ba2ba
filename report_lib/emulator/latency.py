"""How long the emulator takes to answer: TTFT + tokens / speed, with lognormal jitter.

Calibration (docs/LATENCY.md): Sonnet-class TTFT ≈ 0.95 s at ≈ 55 output tokens/s, Haiku-class
TTFT ≈ 0.7 s at ≈ 100 tokens/s. ``fixed:SECONDS`` answers after exactly SECONDS whatever the
length (no jitter). Every delay is multiplied by ``time_scale`` (0.01 = 100x faster).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from report_lib.errors import ConfigError

JITTER_SIGMA = 0.15
# Share of a fixed latency spent before the first streamed token.
FIXED_TTFT_SHARE = 0.2

PRESETS: dict[str, tuple[float, float]] = {
    "sonnet": (0.95, 55.0),
    "haiku": (0.7, 100.0),
}


@dataclass(frozen=True)
class LatencyModel:
    """Presets set ``ttft_s``/``tokens_per_s``; ``fixed`` sets ``fixed_s`` (total, no jitter)."""

    name: str
    ttft_s: float
    tokens_per_s: float | None = None
    fixed_s: float | None = None
    jitter_sigma: float = JITTER_SIGMA
    time_scale: float = 1.0

    @property
    def spec(self) -> str:
        """The spec string this model was parsed from (``sonnet``, ``fixed:2.0``)."""
        return f"fixed:{self.fixed_s:g}" if self.fixed_s is not None else self.name

    def timing(self, output_tokens: int, rng: random.Random) -> tuple[float, float]:
        """(time to first token, total latency) in seconds for one answer, scaled."""
        if self.fixed_s is not None:
            total = self.fixed_s * self.time_scale
            return total * FIXED_TTFT_SHARE, total
        speed = self.tokens_per_s or math.inf
        jitter = rng.lognormvariate(0.0, self.jitter_sigma) if self.jitter_sigma > 0 else 1.0
        ttft = self.ttft_s * jitter * self.time_scale
        total = (self.ttft_s + max(0, output_tokens) / speed) * jitter * self.time_scale
        return ttft, total

    def latency_s(self, output_tokens: int, rng: random.Random) -> float:
        """Total latency in seconds of an answer of ``output_tokens`` tokens, scaled."""
        return self.timing(output_tokens, rng)[1]

    def median_s(self, output_tokens: int) -> float:
        """The jitter-free (median) latency, scaled."""
        if self.fixed_s is not None:
            return self.fixed_s * self.time_scale
        speed = self.tokens_per_s or math.inf
        return (self.ttft_s + max(0, output_tokens) / speed) * self.time_scale


def parse_latency_model(
    spec: str, time_scale: float = 1.0, jitter_sigma: float = JITTER_SIGMA
) -> LatencyModel:
    """``sonnet`` | ``haiku`` | ``fixed:SECONDS`` → LatencyModel; ValueError says what is valid."""
    if not time_scale > 0 or not math.isfinite(time_scale):
        raise ConfigError(f"time_scale must be a positive number, got {time_scale!r}")
    if not jitter_sigma >= 0:
        raise ConfigError(f"jitter_sigma must be >= 0, got {jitter_sigma!r}")
    text = spec.strip().lower()
    if text in PRESETS:
        ttft, speed = PRESETS[text]
        return LatencyModel(text, ttft, speed, None, jitter_sigma, time_scale)
    if text.startswith("fixed:"):
        raw = text.split(":", 1)[1]
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ConfigError(
                f"latency model {spec!r}: 'fixed:SECONDS' needs a number of seconds >= 0, "
                "e.g. fixed:2.0"
            )
        return LatencyModel("fixed", 0.0, None, seconds, 0.0, time_scale)
    raise ConfigError(
        f"unknown latency model {spec!r}; use one of: sonnet, haiku, fixed:SECONDS (e.g. fixed:2.0)"
    )
