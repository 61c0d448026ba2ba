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
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from report_lib.errors import ConfigError, WaitPastDeadline
from report_lib.llm.settings import BackendSettings


class _Bucket:
    """A token bucket whose level may go negative (debt) while reservations wait."""

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        if capacity <= 0:
            raise ConfigError(
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
    epoch: int = 0  # the adaptive limiter's rate generation it was made under
    send_at: float = 0.0  # when it may be sent (clock of the limiter)

    def settle(self, actual_tokens: int) -> None:
        """Return unused tokens (or charge the extra) once the response's usage is known."""
        if self.settled or self.limiter is None:
            self.settled = True
            return
        self.settled = True
        self.limiter.on_success(self, int(actual_tokens))

    def fail(self, throttled: bool) -> None:
        """The request failed; ``throttled`` when the service said the quota was exceeded."""
        if self.settled or self.limiter is None:
            self.settled = True
            return
        self.settled = True
        self.limiter.on_failure(self, throttled)


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
            raise ConfigError(f"window_s must be positive, got {window_s}")
        if margin_s < 0:
            raise ConfigError(f"margin_s must be >= 0, got {margin_s}")
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

    def acquire(self, tokens: int, max_wait_s: float | None = None) -> Reservation:
        """Block the calling thread until ``tokens`` may be sent.

        ``max_wait_s`` (the seconds left before the call's deadline) bounds the wait: a longer
        one gives the reservation back and raises errors.WaitPastDeadline without waiting.
        """
        reservation = self.reserve(tokens)
        if max_wait_s is not None and reservation.wait_s > max_wait_s:
            self.release(reservation)
            raise WaitPastDeadline(reservation.wait_s, max_wait_s)
        if reservation.wait_s > 0:
            self._sleep(reservation.wait_s)
        return reservation

    async def aacquire(self, tokens: int) -> Reservation:
        """Wait (without blocking the event loop) until ``tokens`` may be sent."""
        reservation = self.reserve(tokens)
        if reservation.wait_s > 0:
            await self._asleep(reservation.wait_s)
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation that will not be sent (its tokens and its request)."""
        reservation.settled = True
        with self._lock:
            now = self._clock()
            if self._tokens is not None:
                self._tokens.give_back(reservation.tokens, now)
            if self._requests is not None:
                self._requests.give_back(1, now)

    def on_success(self, reservation: Reservation, actual_tokens: int) -> None:
        """A reserved request succeeded: correct the bucket with its real usage."""
        self._adjust(reservation.tokens - actual_tokens)

    def on_failure(self, reservation: Reservation, throttled: bool) -> None:
        """A reserved request failed: a fixed limiter keeps the reservation (conservative)."""

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


class AdaptiveRateLimiter(RateLimiter):
    """``--tpm-limit auto``: a tokens-per-minute limit found without being told (AIMD).

    - **Start optimistic, paced**: a burst of ``burst_requests`` requests, then a rate of
      ``initial_requests`` requests' worth of tokens per window (sized on the first request),
      growing by twice every success's tokens while nothing is throttled. Pacing, not a burst,
      means the first 429 comes after one request too many, not after a whole round.
    - **First 429**: the service's bucket is empty now, so the tokens it accepted since the
      start tell its quota: ``accepted / (1 + elapsed / window)`` (a bucket of one window's
      quota that started full). The rate becomes that estimate and the local bucket empties.
    - **Later 429s**: the rate is multiplied by ``decrease``; **clean successes** add
      ``increase`` × their tokens to it (about ``increase`` more per window of traffic).

    Token-aware (reservations are estimates, settled with the real usage); one instance is
    shared by the threads or tasks of a run; process and dask workers each adapt their own share.
    """

    def __init__(
        self,
        window_s: float = 60.0,
        *,
        rpm: int | None = None,
        burst_requests: int = 4,
        initial_requests: float = 120.0,
        decrease: float = 0.8,
        increase: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin_s: float = 0.05,
    ) -> None:
        super().__init__(None, rpm, window_s, clock=clock, sleep=sleep, asleep=asleep,
                         margin_s=margin_s)
        if not 0 < decrease < 1 or increase < 0:
            raise ConfigError(f"decrease must be in (0, 1) and increase >= 0, got "
                              f"{decrease}, {increase}")
        self.burst_requests, self.initial_requests = burst_requests, initial_requests
        self.decrease, self.increase = decrease, increase
        self.found = False  # True once a 429 has told the quota
        self.throttles = 0
        self.rate_tpw: float | None = None  # tokens per window, once the first request came
        self.epoch = 0
        self._outstanding: dict[int, Reservation] = {}
        self._accepted = 0.0  # tokens of the answered requests
        self._started: float | None = None
        self._request_tokens = 1.0  # the first request's size: the bucket holds one at least

    @property
    def enabled(self) -> bool:
        return True

    @property
    def tpm(self) -> int | None:
        """The current rate in tokens per window (None before the first request)."""
        return None if self.rate_tpw is None else int(self.rate_tpw)

    @tpm.setter
    def tpm(self, value: int | None) -> None:  # the base class sets it; the rate is found
        pass

    def _start(self, tokens: int, now: float) -> None:
        self._started, self._request_tokens = now, float(tokens)
        self.rate_tpw = max(1.0, tokens * self.initial_requests)
        self._tokens = _Bucket(self.rate_tpw, self.window_s, now)
        self._set_rate(self.rate_tpw, now, empty=False)
        self._tokens.level = min(self._tokens.capacity, max(1.0, tokens * self.burst_requests))

    def _set_rate(self, rate_tpw: float, now: float, empty: bool) -> None:
        bucket = self._tokens
        assert bucket is not None
        bucket._refill(now)
        self.rate_tpw = max(1.0, rate_tpw)
        bucket.capacity = max(self._request_tokens, self.rate_tpw / 10)
        bucket.rate = self.rate_tpw / self.window_s
        bucket.level = 0.0 if empty else min(bucket.level, bucket.capacity)

    def reserve(self, tokens: int) -> Reservation:
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    self._start(max(1, int(tokens)), self._clock())
        reservation = super().reserve(tokens)
        with self._lock:
            reservation.epoch = self.epoch
            reservation.send_at = self._clock() + reservation.wait_s
            self._outstanding[id(reservation)] = reservation
        return reservation

    def valid(self, reservation: Reservation) -> bool:
        """False when a 429 changed the rate after ``reservation`` was made: reserve again."""
        return reservation.epoch == self.epoch

    def acquire(self, tokens: int, max_wait_s: float | None = None) -> Reservation:
        while True:
            reservation = super().acquire(tokens, max_wait_s)
            if self.valid(reservation):
                return reservation
            self.cancel(reservation)

    async def aacquire(self, tokens: int) -> Reservation:
        while True:
            reservation = await super().aacquire(tokens)
            if self.valid(reservation):
                return reservation
            self.cancel(reservation)

    def release(self, reservation: Reservation) -> None:
        with self._lock:
            self._outstanding.pop(id(reservation), None)
        super().release(reservation)

    def cancel(self, reservation: Reservation) -> None:
        """Forget a reservation made under an old rate (``acquire`` then reserves again)."""
        with self._lock:
            self._outstanding.pop(id(reservation), None)
            reservation.settled = True  # its tokens went with the old rate's bucket

    def on_success(self, reservation: Reservation, actual_tokens: int) -> None:
        super().on_success(reservation, actual_tokens)
        with self._lock:
            self._outstanding.pop(id(reservation), None)
            self._accepted += actual_tokens
            assert self.rate_tpw is not None
            gain = self.increase if self.found else 2.0
            self._set_rate(self.rate_tpw + gain * actual_tokens, self._clock(), empty=False)

    def on_failure(self, reservation: Reservation, throttled: bool) -> None:
        with self._lock:
            self._outstanding.pop(id(reservation), None)
            if not throttled or self.rate_tpw is None or self._started is None:
                return
            now = self._clock()
            self.throttles += 1
            if self.found:
                rate = self.rate_tpw * self.decrease
            else:  # accepted = answered + sent and still in flight (charged on arrival)
                sent = sum(r.tokens for r in self._outstanding.values() if r.send_at <= now)
                elapsed = max(0.0, now - self._started)
                rate = min(self.rate_tpw, (self._accepted + sent) / (1 + elapsed / self.window_s))
                self.found = True
            self.epoch += 1  # reservations waiting under the old rate are made again
            self._set_rate(rate if math.isfinite(rate) else self.rate_tpw, now, empty=True)


def limiter_for(settings: BackendSettings) -> RateLimiter | None:
    """The limiter ``settings`` ask for: adaptive (``tpm_auto``), fixed (``tpm_limit`` /
    ``rpm_limit``), or None."""
    if settings.tpm_auto:
        return AdaptiveRateLimiter(settings.limiter_window_s, rpm=settings.rpm_limit)
    if settings.tpm_limit is not None or settings.rpm_limit is not None:
        return RateLimiter(settings.tpm_limit, settings.rpm_limit, settings.limiter_window_s)
    return None


def tpm_fields(value: object) -> dict[str, Any]:
    """BackendSettings fields for a tokens-per-minute limit given as a number, "auto" or
    empty/None (no limit); ConfigError for anything else."""
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "none"):
        return {"tpm_limit": None, "tpm_auto": False}
    if text == "auto":
        return {"tpm_limit": None, "tpm_auto": True}
    if text.isdigit() and int(text) > 0:
        return {"tpm_limit": int(text), "tpm_auto": False}
    raise ConfigError(f"tpm_limit must be a positive number of tokens per minute, 'auto' or "
                      f"empty, got {value!r}")
