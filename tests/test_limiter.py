"""Tests of the client-side tokens/requests-per-minute limiter (fake clock, no real waiting)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from report_lib.errors import ConfigError, DeadlineExceeded, WaitPastDeadline
from report_lib.jobs import ReportJob
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.limiter import AdaptiveRateLimiter, RateLimiter, tpm_fields
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import converse
from report_lib.llm.testing import MockBedrock, converse_response

JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the KPI report.")


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make(clock: FakeClock, **kwargs: object) -> RateLimiter:
    kwargs.setdefault("margin_s", 0.0)  # exact bucket arithmetic; the margin has its own test
    return RateLimiter(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tpm", "window_s", "tokens", "n"),
    [(100, 60.0, 30, 10), (1000, 1.5, 250, 9), (500, 0.3, 500, 4)],
)
def test_sequential_acquisitions_take_the_time_the_bucket_implies(
    tpm: int, window_s: float, tokens: int, n: int
) -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=tpm, window_s=window_s)
    for _ in range(n):
        limiter.acquire(tokens)
    # The first `tpm` tokens are free; the rest arrive at tpm / window_s per second.
    expected = max(0.0, (n * tokens - tpm) / (tpm / window_s))
    assert clock.now == pytest.approx(expected)


def test_reservations_queue_first_come_first_served() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)  # 10 tokens per second
    waits = [limiter.reserve(50).wait_s for _ in range(4)]
    # 100 -> 50 -> 0 -> (wait 50/10) -> (wait 100/10)
    assert waits == pytest.approx([0.0, 0.0, 5.0, 10.0])


def test_requests_per_minute_limit() -> None:
    clock = FakeClock()
    limiter = make(clock, rpm=5, window_s=1.0)
    for _ in range(12):
        limiter.acquire(10_000)  # tokens do not matter without a tpm limit
    assert clock.now == pytest.approx((12 - 5) / 5.0)


def test_both_limits_wait_for_the_slower_one() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=1000, rpm=2, window_s=10.0)
    limiter.acquire(10)
    limiter.acquire(10)
    third = limiter.acquire(10)
    # tokens are plentiful; the third request waits for one request slot: 1 / (2/10 s) = 5 s
    assert third.wait_s == pytest.approx(5.0)


def test_settle_returns_unused_tokens() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    reservation = limiter.reserve(80)
    reservation.settle(30)
    assert limiter.available_tokens() == pytest.approx(70)
    assert limiter.reserve(70).wait_s == 0.0
    assert limiter.reserve(10).wait_s == pytest.approx(1.0)


def test_settle_charges_extra_usage_and_only_once() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    reservation = limiter.reserve(10)
    reservation.settle(60)
    reservation.settle(0)  # ignored: already settled
    assert limiter.available_tokens() == pytest.approx(40)


def test_request_larger_than_capacity_goes_when_bucket_is_full() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    assert limiter.reserve(250).wait_s == 0.0
    # the bucket is 150 in debt: one more token needs (1 + 150) / 10 s
    assert limiter.reserve(1).wait_s == pytest.approx(15.1)


def test_margin_waits_for_extra_tokens_but_takes_only_the_request() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0, margin_s=0.5)  # margin = 10/s x 0.5 s = 5
    assert limiter.reserve(90).wait_s == 0.0  # 100 >= 90 + 5
    assert limiter.reserve(6).wait_s == pytest.approx((6 + 5 - 10) / 10)
    assert limiter.available_tokens() == pytest.approx(100 - 90 - 6)
    # a request as large as the bucket needs a full bucket, not more
    clock.now = 100.0
    assert limiter.reserve(100).wait_s == 0.0


def test_refill_is_capped_at_capacity() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    limiter.reserve(100)
    clock.now = 1000.0
    assert limiter.available_tokens() == pytest.approx(100)


def test_async_acquire_waits_the_same_as_sync() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=200, window_s=2.0)  # 100 tokens per second

    async def run() -> None:
        for _ in range(5):
            await limiter.aacquire(100)

    asyncio.run(run())
    assert clock.now == pytest.approx((5 * 100 - 200) / 100)
    assert clock.sleeps == pytest.approx([1.0, 1.0, 1.0])


def test_threads_do_not_lose_updates() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=10_000, window_s=60.0)

    def worker() -> None:
        for _ in range(200):
            limiter.reserve(3)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.available_tokens() == pytest.approx(10_000 - 8 * 200 * 3)


def test_disabled_limiter_never_waits() -> None:
    clock = FakeClock()
    limiter = make(clock)
    assert not limiter.enabled
    for _ in range(50):
        assert limiter.acquire(1_000_000).wait_s == 0.0
    assert limiter.available_tokens() is None
    assert clock.sleeps == []


@pytest.mark.parametrize("kwargs", [{"tpm": 0}, {"rpm": -1}, {"tpm": 10, "window_s": 0.0}])
def test_invalid_limits_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- --tpm-limit auto


def _simulate(quota: int, n_jobs: int, tokens: int, latency_s: float, window_s: float = 60.0,
              backoff_s: float = 0.25) -> dict[str, float]:
    """Discrete-event run of n_jobs (all queued at t=0, every one in flight at once) through an
    AdaptiveRateLimiter against a service whose token bucket (quota per window) starts full and
    answers 429 at once when a request does not fit."""
    import heapq

    clock = FakeClock()
    limiter = AdaptiveRateLimiter(window_s, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                                  margin_s=0.0)
    level, stamp = float(quota), 0.0
    events: list[tuple[float, int, str, int, Any]] = [(0.0, i, "ready", i, None)
                                                      for i in range(n_jobs)]
    heapq.heapify(events)
    seq, requests, throttled, attempts, finished = n_jobs, 0, 0, [0] * n_jobs, 0.0
    while events:
        now, _, kind, job, reservation = heapq.heappop(events)
        clock.now = now
        if kind == "ready":
            r = limiter.reserve(tokens)
            seq += 1
            heapq.heappush(events, (now + r.wait_s, seq, "send", job, r))
        elif kind == "send" and not limiter.valid(reservation):
            limiter.cancel(reservation)  # what acquire() does after its sleep
            seq += 1
            heapq.heappush(events, (now, seq, "ready", job, None))
        elif kind == "send":
            level, stamp = min(quota, level + (now - stamp) * quota / window_s), now
            requests += 1
            attempts[job] += 1
            if level >= tokens:
                level -= tokens
                seq += 1
                heapq.heappush(events, (now + latency_s, seq, "done", job, reservation))
            else:
                throttled += 1
                reservation.fail(throttled=True)
                seq += 1
                heapq.heappush(events, (now + backoff_s, seq, "ready", job, None))
        else:
            reservation.settle(tokens)
            finished = now
    bound = max(0.0, n_jobs * tokens - quota) / (quota / window_s) + latency_s
    return {"requests": requests, "throttled": throttled, "makespan": finished,
            "bound": bound, "max_attempts": max(attempts), "rate": float(limiter.tpm or 0)}


@pytest.mark.parametrize(("quota", "n_jobs", "latency_s"),
                         [(30_000, 40, 1.0), (30_000, 40, 10.0), (100_000, 100, 2.0)])
def test_auto_limit_finds_an_unknown_quota(quota: int, n_jobs: int, latency_s: float) -> None:
    run = _simulate(quota, n_jobs, tokens=1_860, latency_s=latency_s)
    assert run["throttled"] / run["requests"] <= 0.20, run
    assert run["makespan"] <= 1.3 * run["bound"], run
    assert run["max_attempts"] <= 8, run  # within the default retry budget: nothing lost


def test_auto_limit_first_throttle_sets_the_rate_from_what_was_accepted() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(60.0, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                                  margin_s=0.0)
    done = [limiter.reserve(1_000) for _ in range(3)]
    clock.now = 6.0  # a tenth of the window later the service says 429
    throttled = limiter.reserve(1_000)
    for r in done:
        r.settle(1_000)
    throttled.fail(throttled=True)
    # 3,000 tokens accepted by a bucket that started full and refilled for 0.1 window
    assert limiter.found and limiter.tpm == int(3_000 / 1.1)
    assert limiter.available_tokens() == 0.0  # the service's bucket is empty: so is ours
    limiter.reserve(1_000).fail(throttled=True)
    assert limiter.tpm == int(3_000 / 1.1 * 0.8)  # then multiplicative decrease


@pytest.mark.parametrize(("value", "fields"), [
    ("", {"tpm_limit": None, "tpm_auto": False}),
    (None, {"tpm_limit": None, "tpm_auto": False}),
    ("auto", {"tpm_limit": None, "tpm_auto": True}),
    (" AUTO ", {"tpm_limit": None, "tpm_auto": True}),
    ("30000", {"tpm_limit": 30000, "tpm_auto": False}),
    (2000, {"tpm_limit": 2000, "tpm_auto": False}),
])
def test_tpm_fields(value: object, fields: dict[str, object]) -> None:
    assert tpm_fields(value) == fields


def test_tpm_fields_refuses_anything_else() -> None:
    with pytest.raises(ConfigError, match="tpm_limit must be a positive number of tokens per "
                                          "minute, 'auto' or empty, got '-5'"):
        tpm_fields("-5")


# -- the call's deadline bounds the wait --------------------------------------------------------
def test_a_wait_past_the_deadline_raises_at_once_and_gives_the_tokens_back() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)  # 10 tokens per second
    limiter.acquire(100)
    with pytest.raises(WaitPastDeadline) as info:
        limiter.acquire(50, max_wait_s=4.0)  # 50 tokens take 5 s to come
    assert (info.value.wait_s, info.value.max_wait_s) == (pytest.approx(5.0), 4.0)
    assert isinstance(info.value, DeadlineExceeded)
    assert clock.sleeps == []
    assert limiter.available_tokens() == pytest.approx(0.0)  # the 50 went back
    assert limiter.acquire(50, max_wait_s=5.0).wait_s == pytest.approx(5.0)  # within: waited
    assert clock.sleeps == pytest.approx([5.0])


def test_the_adaptive_limiter_bounds_its_wait_too() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(10.0, burst_requests=1, initial_requests=1, clock=clock,
                                  sleep=clock.sleep, asleep=clock.asleep, margin_s=0.0)
    limiter.acquire(100)  # the burst: one request of 100 tokens, 100 tokens per window
    with pytest.raises(WaitPastDeadline):
        limiter.acquire(100, max_wait_s=1.0)
    assert clock.sleeps == []


def _deadline_settings(deadline_s: float) -> BackendSettings:
    return BackendSettings(backend="bedrock", model_id="m", region="us-east-1",
                           deadline_s=deadline_s, max_tokens=100)


def _empty(limiter: RateLimiter) -> RateLimiter:
    limiter.reserve(1000)  # the whole minute's quota: the next request waits about a minute
    return limiter


def test_sync_call_ends_at_its_deadline_instead_of_waiting_for_the_limiter() -> None:
    clock = FakeClock()
    limiter = _empty(make(clock, tpm=1000, window_s=60.0))
    mock = MockBedrock.script(converse_response("never sent", 10, 5))
    with pytest.raises(DeadlineExceeded) as info:
        converse(mock.client, JOB, _deadline_settings(5.0), limiter=limiter)
    assert type(info.value) is DeadlineExceeded  # the call's error, as the async path raises
    assert str(info.value).startswith("kpi: no answer within the 5 s deadline (model m, 1 attempt)")
    assert info.value.attempts == 1
    assert mock.requests == [] and clock.sleeps == []


def test_sync_call_waits_for_the_limiter_within_its_deadline() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=1000, window_s=60.0)
    limiter.reserve(1000)
    mock = MockBedrock.script(converse_response("sent", 10, 5))
    outcome = converse(mock.client, JOB, _deadline_settings(300.0), limiter=limiter)
    assert outcome.text == "sent"
    assert len(mock.requests) == 1 and len(clock.sleeps) == 1 and 0 < clock.sleeps[0] < 300


def test_sync_and_async_calls_raise_the_same_deadline_error() -> None:
    settings = _deadline_settings(0.2)
    clock = FakeClock()
    mock = MockBedrock.script()
    with pytest.raises(DeadlineExceeded) as sync_info:
        converse(mock.client, JOB, settings, limiter=_empty(make(clock, tpm=1000)))

    async def call() -> None:
        limiter = _empty(RateLimiter(1000))  # real clock: the deadline cuts the wait short
        await AsyncBedrock(settings, 1, limiter, client=mock.aclient).converse(JOB)

    with pytest.raises(DeadlineExceeded) as async_info:
        asyncio.run(call())
    assert type(sync_info.value) is type(async_info.value) is DeadlineExceeded
    assert str(sync_info.value) == str(async_info.value)
    assert mock.requests == []
