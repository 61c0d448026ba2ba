"""Client-side limiter for tokens per minute and requests per minute (sync and asyncio).

Bedrock throttles by tokens per minute (input + output) per model. Each call reserves its
estimated tokens before it is sent (input estimate + expected output, capped at max_tokens) and
settles the reservation with the real usage afterwards.

Each limit is a token bucket with capacity = limit and refill limit / window_s per second.
A reservation is taken from the bucket at once, possibly into debt; the caller then waits until
the debt it joined is repaid. Waiting is therefore first come, first served, and the lock is only
held for the arithmetic. A request larger than the capacity waits for a full bucket, then goes.
``window_s`` is 60 s for real quotas; an emulator running at ``time_scale`` has a minute of
``60 * time_scale`` seconds.

``margin_s`` covers the time between a reservation and the server counting the request: the
server's bucket cannot refill while it is full, so it lags ours by up to ``rate * delay``
tokens. A request therefore waits until ``tokens + rate * margin_s`` are in the bucket
(capped at the capacity) but takes only ``tokens``; in steady state this costs one
``margin_s`` of delay, not throughput.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class _Bucket:
    """A token bucket whose level may go negative (debt) while reservations wait."""

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        if capacity <= 0:
            raise ValueError(
                f"a rate limit must be positive, got {capacity}; use None for no limit"
            )
        self.capacity = float(capacity)
        self.rate = self.capacity / window_s  # units per second
        self.level = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, amount: float, now: float, margin_s: float = 0.0) -> float:
        """Seconds until ``amount`` (plus the margin, capped at capacity) is in the bucket."""
        self._refill(now)
        need = min(amount + self.rate * margin_s, self.capacity)
        return max(0.0, (need - self.level) / self.rate)

    def take(self, amount: float) -> None:
        self.level -= amount

    def give_back(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)


@dataclass
class Reservation:
    """Tokens reserved for one request; ``settle`` corrects the bucket with the real usage."""

    limiter: RateLimiter | None
    tokens: int
    wait_s: float = 0.0
    settled: bool = False

    def settle(self, actual_tokens: int) -> None:
        """Return unused tokens (or charge the extra) once the response's usage is known."""
        if self.settled or self.limiter is None:
            self.settled = True
            return
        self.settled = True
        self.limiter._adjust(self.tokens - int(actual_tokens))


class RateLimiter:
    """Token-bucket limiter for tokens/requests per minute; thread-safe and asyncio-friendly."""

    def __init__(
        self,
        tpm: int | None = None,
        rpm: int | None = None,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin_s: float = 0.05,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        if margin_s < 0:
            raise ValueError(f"margin_s must be >= 0, got {margin_s}")
        self.margin_s = margin_s
        self.tpm = tpm
        self.rpm = rpm
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._asleep = asleep
        self._lock = threading.Lock()
        now = clock()
        self._tokens = _Bucket(tpm, window_s, now) if tpm is not None else None
        self._requests = _Bucket(rpm, window_s, now) if rpm is not None else None

    @property
    def enabled(self) -> bool:
        return self._tokens is not None or self._requests is not None

    def available_tokens(self) -> float | None:
        """Tokens in the bucket now (negative while reservations wait); None without a tpm."""
        if self._tokens is None:
            return None
        with self._lock:
            self._tokens._refill(self._clock())
            return self._tokens.level

    def reserve(self, tokens: int) -> Reservation:
        """Take ``tokens`` (and one request) now; the Reservation says how long to wait first."""
        tokens = max(0, int(tokens))
        with self._lock:
            now = self._clock()
            wait = 0.0
            if self._tokens is not None:
                wait = max(wait, self._tokens.wait_for(tokens, now, self.margin_s))
            if self._requests is not None:
                wait = max(wait, self._requests.wait_for(1, now, self.margin_s))
            if self._tokens is not None:
                self._tokens.take(tokens)
            if self._requests is not None:
                self._requests.take(1)
        return Reservation(self, tokens, wait)

    def acquire(self, tokens: int) -> Reservation:
        """Block the calling thread until ``tokens`` may be sent."""
        reservation = self.reserve(tokens)
        if reservation.wait_s > 0:
            self._sleep(reservation.wait_s)
        return reservation

    async def aacquire(self, tokens: int) -> Reservation:
        """Wait (without blocking the event loop) until ``tokens`` may be sent."""
        reservation = self.reserve(tokens)
        if reservation.wait_s > 0:
            await self._asleep(reservation.wait_s)
        return reservation

    def _adjust(self, unused_tokens: int) -> None:
        if self._tokens is None or unused_tokens == 0:
            return
        with self._lock:
            now = self._clock()
            if unused_tokens > 0:
                self._tokens.give_back(unused_tokens, now)
            else:
                self._tokens._refill(now)
                self._tokens.take(-unused_tokens)
