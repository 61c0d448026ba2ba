"""Tests of the client-side tokens/requests-per-minute limiter (fake clock, no real waiting)."""

from __future__ import annotations

import asyncio
import math
import random
import selectors
import threading
from dataclasses import replace
from typing import Any

import pytest

from report_lib.errors import ConfigError, DeadlineExceeded, WaitPastDeadline
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.limiter import AdaptiveRateLimiter, RateLimiter, limiter_for, tpm_fields
from report_lib.llm.quota import (
    Quota,
    QuotaRequest,
    Refusal,
    Window,
    burndown_rate,
    charged_tokens,
    ideal_makespan,
)
from report_lib.llm.retry import backoff_delay
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import converse
from report_lib.llm.testing import MockBedrock, converse_response
from report_lib.records import ReportJob

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the KPI report.")


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make(clock: FakeClock, **kwargs: object) -> RateLimiter:
    kwargs.setdefault("margin_s", 0.0)  # exact arithmetic; the margin has its own test
    kwargs.setdefault("minute", "all")  # both minutes at once; learning one: test_known_limiter
    return RateLimiter(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kwargs)  # type: ignore[arg-type]


def _sliding_reference(tpm: float, window_s: float, amounts: list[int]) -> list[float]:
    """When each request may go under a sliding minute (llm.quota.Window), sent in order."""
    now = [0.0]
    window = Window("sliding", tpm, window_s, lambda: now[0])
    times = []
    for amount in amounts:
        now[0] += window.wait_s(amount, now[0])
        window.take(amount)
        times.append(now[0])
    return times


def _most_in_any_window(sent: list[tuple[float, float]], window_s: float) -> float:
    """The most charged in any ``window_s`` seconds (a window ending at each send)."""
    return max(sum(a for t, a in sent if t <= end < t + window_s) for end, _ in sent)


@pytest.mark.parametrize(
    ("tpm", "window_s", "seed"), [(100, 60.0, 1), (1000, 1.5, 2), (500, 0.3, 3), (7000, 60.0, 4)]
)
def test_known_quota_never_more_than_the_quota_in_any_window(
    tpm: int, window_s: float, seed: int
) -> None:
    rng = random.Random(seed)
    amounts = [rng.randint(1, tpm) for _ in range(25)]
    clock = FakeClock()
    limiter = make(clock, tpm=tpm, window_s=window_s)
    sent = []
    for amount in amounts:
        limiter.acquire(amount)
        sent.append((clock.now, float(amount)))
    assert _most_in_any_window(sent, window_s) <= tpm
    # and no slower than a sliding minute implies: each goes the moment it fits
    assert [t for t, _ in sent] == pytest.approx(_sliding_reference(tpm, window_s, amounts))


def test_reservations_queue_first_come_first_served() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    waits = [limiter.reserve(50).wait_s for _ in range(5)]
    # two fit now, the next two when the first two leave the window, the fifth a window later
    assert waits == pytest.approx([0.0, 0.0, 10.0, 10.0, 20.0])


def test_requests_per_minute_limit() -> None:
    clock = FakeClock()
    limiter = make(clock, rpm=5, window_s=1.0)
    times = []
    for _ in range(12):
        limiter.acquire(10_000)  # tokens do not matter without a tpm limit
        times.append(clock.now)
    assert times == pytest.approx([0.0] * 5 + [1.0] * 5 + [2.0] * 2)
    assert _most_in_any_window([(t, 1.0) for t in times], 1.0) == 5


def test_both_limits_wait_for_the_slower_one() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=1000, rpm=2, window_s=10.0)
    limiter.acquire(10)
    limiter.acquire(10)
    third = limiter.acquire(10)
    # tokens are plentiful; the third request waits for a request to leave the window
    assert third.wait_s == pytest.approx(10.0)
    clock.now = 30.0
    limiter.acquire(600)
    assert limiter.acquire(600).wait_s == pytest.approx(10.0)  # now the tokens are slower


def test_settle_refunds_in_place() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    reservation = limiter.reserve(80)
    clock.now = 2.0
    # 30 input tokens, no output, answered after the service's 2 s: 50 back, where charged
    reservation.settle(30, 0, latency_s=2.0)
    assert limiter.available_tokens() == pytest.approx(70)
    assert limiter.reserve(70).wait_s == 0.0
    # the 30 left at 0 s leave the window at 10 s, not 12 s
    assert limiter.reserve(10).wait_s == pytest.approx(10.0 - 2.0)


def test_an_answer_without_the_services_latency_is_counted_when_it_came() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    reservation = limiter.reserve(80)
    clock.now = 2.0
    reservation.settle(30)  # no latencyMs: the service may have counted it as late as now
    limiter.reserve(70)
    assert limiter.reserve(10).wait_s == pytest.approx(10.0)


def test_settle_counts_an_extra_from_the_end_and_only_once() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    reservation = limiter.reserve(10)
    clock.now = 5.0
    reservation.settle(60, 0, latency_s=5.0)  # 50 more than reserved, counted at 5 s
    reservation.settle(0)  # ignored: already settled
    assert limiter.available_tokens() == pytest.approx(40)
    # 60 more fit once the extra (at 5 s) has left the window: at 15 s (10 s from now);
    # counted at the reservation's time (0 s) it would have been 5 s
    assert limiter.reserve(60).wait_s == pytest.approx(10.0)


def test_settle_uses_the_burndown_rate() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=10_000, window_s=60.0, burndown=5)
    reservation = limiter.reserve(800 + 2_000, input_estimate=800)
    reservation.settle(800, 400)
    assert limiter.totals.charged_tokens == charged_tokens(800, 400, 5.0) == 2_800
    assert limiter.available_tokens() == pytest.approx(10_000 - 2_800)
    small = limiter.reserve(800 + 2_000, input_estimate=800)
    small.settle(800, 100)  # 1,300 of 2,800: the rest comes back
    assert limiter.available_tokens() == pytest.approx(10_000 - 2_800 - 1_300)
    assert (limiter.totals.reserved_tokens, limiter.totals.max_output_tokens) == (5_600, 400)


def test_a_settled_extra_is_remembered_like_a_bucket_server_does() -> None:
    # A bucket server charged 250 for a 10-token reservation is 150 in debt and refills
    # 10 tokens a second: 50 more fit after 20 s, not after the sliding window's 10 s.
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    limiter.reserve(10).settle(250)
    wait = limiter.reserve(50).wait_s
    now = [0.0]
    server = Window("bucket", 100, 10.0, lambda: now[0])
    server.settle(server.take(10), 250)
    assert wait == pytest.approx(server.wait_s(50, 0.0)) == pytest.approx(20.0)


def test_the_input_estimate_learns_from_the_answers() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=1_000_000, window_s=60.0)
    assert limiter.reservation_tokens(1_100, input_estimate=100) == 1_100
    limiter.reserve(1_100, input_estimate=100).settle(150, 10)  # 1.5x the estimate
    assert limiter.input_ratio == pytest.approx(1.5)
    assert limiter.reservation_tokens(1_100, input_estimate=100) == 1_100 + 50
    limiter.reserve(1_100, input_estimate=100).settle(120, 10)  # a smaller miss: kept at 1.5
    assert limiter.input_ratio == pytest.approx(1.5)
    limiter.reserve(1_100, input_estimate=100).settle(1_000, 10)  # 10x: capped at 2x
    assert limiter.input_ratio == pytest.approx(2.0)
    assert limiter.reservation_tokens(1_100, input_estimate=100) == 1_100 + 100


def test_margin_counts_a_charge_a_little_longer() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0, margin_s=0.5)
    assert limiter.reserve(90).wait_s == 0.0
    assert limiter.reserve(20).wait_s == pytest.approx(10.5)  # 10 s window + 0.5 s margin
    clock.now = 100.0
    assert limiter.reserve(100).wait_s == 0.0  # as large as the quota: an empty window


def test_a_request_larger_than_the_quota_goes_alone_into_an_empty_window() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    assert limiter.reserve(250).wait_s == 0.0
    # the window empties after 10 s, but a bucket server 150 in debt takes (150 + 1) / 10 s
    assert limiter.reserve(1).wait_s == pytest.approx(15.1)


def test_a_throttled_request_gives_its_place_back() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    limiter.reserve(60).fail(throttled=True)
    assert limiter.available_tokens() == pytest.approx(100)
    assert limiter.totals.throttled == 1
    limiter.reserve(60).fail(throttled=False)  # a 500 may have been counted: kept
    assert limiter.available_tokens() == pytest.approx(40)


def test_async_acquire_waits_the_same_as_sync() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=200, window_s=2.0)

    async def run() -> None:
        for _ in range(5):
            await limiter.aacquire(100)

    asyncio.run(run())
    assert clock.now == pytest.approx(4.0)  # two per window: 0, 0, 2, 2, 4
    assert sum(clock.sleeps) == pytest.approx(4.0)  # in slices: a refund may come meanwhile
    sync_clock = FakeClock()
    sync = make(sync_clock, tpm=200, window_s=2.0)
    for _ in range(5):
        sync.acquire(100)
    assert sync_clock.sleeps == pytest.approx(clock.sleeps)


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
    assert limiter.totals.requests == 8 * 200


def test_the_window_forgets_and_never_holds_more_than_the_quota() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    limiter.reserve(100)
    clock.now = 1000.0
    assert limiter.available_tokens() == pytest.approx(100)


def test_disabled_limiter_never_waits() -> None:
    clock = FakeClock()
    limiter = make(clock)
    assert not limiter.enabled
    for _ in range(50):
        assert limiter.acquire(1_000_000).wait_s == 0.0
    assert limiter.available_tokens() is None
    assert clock.sleeps == []


@pytest.mark.parametrize("kwargs", [{"tpm": 0}, {"rpm": -1}, {"tpm": 10, "window_s": 0.0},
                                    {"tpm": 10, "burndown": 0}, {"tpm": 10, "margin_s": -1}])
def test_invalid_limits_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_limiter_for_uses_the_models_burndown_and_the_override() -> None:
    base = BackendSettings(backend="bedrock", model_id="us.anthropic.claude-opus-4-1-20250805-v1:0",
                           tpm_limit=60_000, rpm_limit=50)
    limiter = limiter_for(base)
    assert limiter is not None and type(limiter) is RateLimiter
    assert (limiter.tpm, limiter.rpm, limiter.burndown) == (60_000, 50, 5.0)
    assert limiter_for(replace(base, burndown=2.0)).burndown == 2.0  # type: ignore[union-attr]
    nova = limiter_for(replace(base, model_id="amazon.nova-pro-v1:0"))
    assert nova is not None and nova.burndown == 1.0
    auto = limiter_for(replace(base, tpm_limit=None, tpm_auto=True))
    assert isinstance(auto, AdaptiveRateLimiter) and auto.burndown == 5.0 and auto.rpm == 50
    assert limiter_for(replace(base, tpm_limit=None, rpm_limit=None)) is None


# --------------------------------------------------------------------------- --tpm-limit auto


def adaptive(clock: FakeClock, **kwargs: Any) -> AdaptiveRateLimiter:
    kwargs.setdefault("margin_s", 0.0)
    return AdaptiveRateLimiter(60.0, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                               **kwargs)


def test_auto_discovery_sets_the_rate_from_what_was_accepted() -> None:
    clock = FakeClock()  # starts at 0.0: the first request's time is 0, a valid time
    limiter = adaptive(clock)
    done = [limiter.reserve(1_000) for _ in range(3)]
    assert not limiter.found and limiter.rate_tpw is None
    clock.now = 6.0  # a tenth of the window later the service says 429
    throttled = limiter.reserve(1_000)
    for r in done:
        r.settle(1_000)
    throttled.fail(throttled=True, message="Too many tokens, please wait before trying again.")
    # 3,000 tokens accepted by a bucket that started full and refilled for 0.1 window
    assert limiter.found and limiter.events == 1
    assert limiter.rate_tpw == pytest.approx(3_000 / 1.1)
    assert limiter.reserve(1_000).wait_s > 0  # the service is full: so is the limiter


def test_auto_a_requests_message_sets_a_request_rate() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    for _ in range(4):
        limiter.reserve(10).settle(10)
    clock.now = 106.0  # a tenth of the window: 4 accepted by a bucket refilled for 0.1
    limiter.reserve(10).fail(True, "Too many requests, please wait before trying again.")
    assert limiter.rpm == math.floor(4 / 1.1) and limiter.rate_tpw is None


def test_auto_one_decrease_per_congestion_event() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    limiter.reserve(1_000).settle(1_000)
    clock.now = 130.0  # one request accepted in the trailing window: the rate is near it
    first = limiter.reserve(1_000)
    late = limiter.reserve(1_000)  # sent after the refused one, before the rate changed
    clock.now = 130.1  # the 429 comes back
    first.fail(True, "Too many tokens, please wait before trying again.")
    rate = limiter.rate_tpw
    assert limiter.events == 1 and rate is not None
    late.fail(True, "Too many tokens, please wait before trying again.")
    assert limiter.rate_tpw == rate and limiter.events == 1  # sent under the old rate
    assert limiter.throttles == 2
    clock.now = 135.0
    fresh = limiter.reserve(500)  # sent under the new rate: news
    clock.now += fresh.wait_s
    fresh.fail(True, "Too many tokens, please wait before trying again.")
    assert limiter.events == 2


def test_auto_never_below_what_was_accepted_in_the_trailing_window() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    for _ in range(10):
        limiter.reserve(1_000).settle(1_000)
    clock.now = 106.0
    limiter.reserve(1_000).fail(True, "Too many tokens, please wait before trying again.")
    rate = limiter.rate_tpw
    assert rate == pytest.approx(10_000 / 1.1)
    clock.now = 200.0  # a new window: the service takes nine requests, refuses the next
    accepted = 0
    while accepted + 1_000 <= rate:
        r = limiter.reserve(1_000)
        assert r.wait_s == 0
        r.settle(1_000)
        accepted += 1_000
        clock.now += 0.01
    refused = limiter.reserve(int(rate - accepted))  # fits what is left of R
    assert refused.wait_s == 0
    refused.fail(True, "Too many tokens, please wait before trying again.")
    assert limiter.events == 2
    # a plain decrease would give decrease x R; the service has just taken more than that
    assert accepted > limiter.decrease * rate
    assert limiter.rate_tpw == pytest.approx(accepted)


def test_auto_a_late_refusal_of_a_request_counted_as_accepted_corrects_the_rate() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    sent = [limiter.reserve(1_000) for _ in range(5)]
    clock.now = 106.0
    limiter.reserve(1_000).fail(True, "Too many tokens, please wait before trying again.")
    rate = limiter.rate_tpw
    assert rate == pytest.approx(5_000 / 1.1)
    sent[-1].fail(True, "Too many tokens, please wait before trying again.")  # refused too
    assert limiter.events == 1  # the same congestion event
    assert limiter.rate_tpw == pytest.approx(rate - 1_000)


def test_auto_requests_planned_on_the_ramp_and_not_sent_wait_for_the_rate_found() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    sent = [limiter.acquire(1_000) for _ in range(4)]  # the ramp's first burst goes at once
    planned = [limiter.reserve(1_000) for _ in range(20)]  # later on the ramp, not sent yet
    assert all(r.send_at > clock.now for r in planned[1:])
    refused = planned.pop(0)
    assert limiter._still_fits(refused)  # let go at its time, then refused
    refused.fail(True, "Too many tokens, please wait before trying again.")
    # R counts what went out (the first burst), not what the ramp only planned
    assert limiter.rate_tpw == pytest.approx(sum(r.tokens for r in sent), rel=0.01)
    clock.now = max(r.send_at for r in planned)  # every ramp time has come
    assert not any(limiter._still_fits(r) for r in planned)
    # reserved again, they wait for R: the service has just said the window is full
    limiter.acquire(1_000)
    assert sum(clock.sleeps) > 0.5 * limiter.window_s


def test_auto_probes_upward_only_after_a_clean_window_with_waiting() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    for _ in range(5):
        limiter.reserve(1_000).settle(1_000)
    clock.now = 106.0
    limiter.reserve(1_000).fail(True, "Too many tokens, please wait before trying again.")
    rate = limiter.rate_tpw
    assert rate is not None
    clock.now += limiter.probe_after * limiter.window_s + 1
    limiter.reserve(1).settle(1)  # nobody had to wait: no reason to probe
    assert limiter.rate_tpw == rate
    while limiter.reserve(1_000).wait_s == 0:  # fill R: a request waits
        pass
    clock.now += limiter.probe_after * limiter.window_s + 1
    limiter.reserve(1)
    assert limiter.rate_tpw == pytest.approx(rate * (1 + limiter.increase))


def test_the_adaptive_limiter_bounds_its_wait_too() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    limiter.acquire(100).fail(True, "Too many tokens, please wait before trying again.")
    with pytest.raises(WaitPastDeadline):
        limiter.acquire(100, max_wait_s=1.0)
    assert clock.sleeps == []


# --------------------------------------------------------- against Bedrock's quota, simulated


class _VirtualSelector(selectors.SelectSelector):
    """Instead of blocking, move the fake clock to the loop's next timer."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout > 0:
            self.clock.now += timeout
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on the fake clock: asyncio.sleep takes no real time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self.fake = clock

    def time(self) -> float:
        return self.fake.now


INPUT, OUTPUT, MAX_TOKENS, LATENCY = 800, 400, 2_000, 1.0


def _against_quota(limiter: RateLimiter, quota: Quota, clock: FakeClock, n: int,
                   max_attempts: int = 8) -> dict[str, float]:
    """``n`` reports at once through ``limiter`` (aacquire, on the fake clock) against
    ``quota`` as the service: admission reserves, a 429 comes back at once, an answer after
    LATENCY s is settled on both sides; a throttled call retries with full-jitter backoff."""
    rng = random.Random(7)
    counts = {"requests": 0, "throttled": 0, "lost": 0}
    start = clock.now
    ends: list[float] = []

    async def one() -> None:
        for attempt in range(1, max_attempts + 1):
            reservation = await limiter.aacquire(INPUT + MAX_TOKENS, INPUT)
            counts["requests"] += 1
            ticket = quota.admit(SONNET, INPUT, MAX_TOKENS, OUTPUT)
            if isinstance(ticket, Refusal):
                counts["throttled"] += 1
                reservation.fail(True, ticket.message)
                await asyncio.sleep(backoff_delay(attempt, 0.25, 20.0, rng))
                continue
            await asyncio.sleep(LATENCY)
            quota.settle(ticket, SONNET, INPUT, OUTPUT)
            reservation.settle(INPUT, OUTPUT, LATENCY)
            ends.append(clock.now)
            return
        counts["lost"] += 1

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(n)))

    loop = _VirtualLoop(clock)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return {**counts, "makespan": max(ends, default=clock.now) - start}


def _bound(minute: str, n: int, tpm: int, phase_s: float) -> float:
    return ideal_makespan([QuotaRequest(INPUT, OUTPUT, LATENCY)] * n, model_id=SONNET,
                          max_tokens=MAX_TOKENS, tpm=tpm, minute=minute, phase_s=phase_s)


@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_known_quota_holds_against_every_quota_minute(minute: str) -> None:
    clock = FakeClock(37.0)  # off the wall-clock minute, for the fixed one
    tpm, n = 30_000, 40  # 2,800 reserved and charged per report: ~10 a minute
    quota = Quota(tpm=tpm, minute=minute, clock=clock)
    limiter = RateLimiter(tpm, clock=clock, burndown=burndown_rate(SONNET), margin_s=0.0,
                          sleep=clock.sleep)
    run = _against_quota(limiter, quota, clock, n)
    # at most the one 429 that tells it the minute is not a bucket (test_known_limiter)
    assert run["lost"] == 0 and run["throttled"] <= 1, run
    # a sliding minute is the slowest of the three; the limiter holds under all of them
    assert run["makespan"] <= 1.3 * _bound(minute, n, tpm, 37.0), run


@pytest.mark.parametrize("client", ["known", "auto"])
@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_a_requests_per_minute_quota_holds(minute: str, client: str) -> None:
    clock = FakeClock(37.0)
    quota = Quota(tpm=1_000_000, rpm=8, minute=minute, clock=clock)
    limiter = RateLimiter(1_000_000, 8, clock=clock, burndown=5.0, margin_s=0.0,
                          sleep=clock.sleep) if client == "known" else \
        AdaptiveRateLimiter(60.0, clock=clock, burndown=5.0, margin_s=0.0, sleep=clock.sleep)
    run = _against_quota(limiter, quota, clock, 20)
    assert run["lost"] == 0, run
    assert run["throttled"] <= (0 if client == "known" else 2), run
    assert quota.totals.refused_by["tokens"] == 0  # the requests quota is the one that binds


@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_auto_holds_against_every_quota_minute(minute: str) -> None:
    clock = FakeClock(37.0)
    tpm, n = 30_000, 40
    quota = Quota(tpm=tpm, minute=minute, clock=clock)
    limiter = AdaptiveRateLimiter(60.0, clock=clock, burndown=burndown_rate(SONNET),
                                  margin_s=0.0, sleep=clock.sleep)
    run = _against_quota(limiter, quota, clock, n)
    assert run["lost"] == 0, run
    assert run["throttled"] <= 0.25 * run["requests"], run
    assert run["makespan"] <= 2.0 * _bound(minute, n, tpm, 37.0), run


def test_auto_costs_little_when_the_quota_is_far_away() -> None:
    clock = FakeClock(37.0)
    quota = Quota(tpm=10_000_000, minute="fixed", clock=clock)
    limiter = AdaptiveRateLimiter(60.0, clock=clock, burndown=5.0, sleep=clock.sleep)
    run = _against_quota(limiter, quota, clock, 40)
    assert run["throttled"] == 0 and run["lost"] == 0
    assert run["makespan"] <= 1.3 * LATENCY, run


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
    limiter = make(clock, tpm=100, window_s=10.0)
    limiter.acquire(100)
    with pytest.raises(WaitPastDeadline) as info:
        limiter.acquire(50, max_wait_s=4.0)  # room comes when the 100 leave: in 10 s
    assert (info.value.wait_s, info.value.max_wait_s) == (pytest.approx(10.0), 4.0)
    assert isinstance(info.value, DeadlineExceeded)
    assert clock.sleeps == []
    assert limiter.available_tokens() == pytest.approx(0.0)  # the 50 went back
    assert limiter.totals.requests == 1
    assert limiter.acquire(50, max_wait_s=10.0).wait_s == pytest.approx(10.0)  # within: waited
    assert sum(clock.sleeps) == pytest.approx(10.0)


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
    assert len(mock.requests) == 1 and 0 < sum(clock.sleeps) < 300


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


def test_a_refund_lets_a_waiting_request_go_sooner() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    first = limiter.acquire(80)  # input + max_tokens reserved
    waiting = limiter.reserve(60)
    assert waiting.send_at == pytest.approx(10.0)  # after the 80 leave the window
    clock.now = 1.0
    first.settle(10, 0)  # it used 10: 70 come back, where they were charged
    assert waiting.send_at == pytest.approx(1.0)  # rescheduled to now, not a window later
    assert limiter.available_tokens() == pytest.approx(100 - 10 - 60)


def test_a_refused_request_gives_its_place_to_the_one_waiting() -> None:
    clock = FakeClock()
    limiter = make(clock, tpm=100, window_s=10.0)
    refused = limiter.acquire(70)
    waiting = limiter.reserve(60)
    assert waiting.send_at == pytest.approx(10.0)
    refused.fail(throttled=True)  # the service charged nothing
    assert waiting.send_at == pytest.approx(0.0)


def test_auto_refused_before_anything_was_accepted_pauses_a_window_and_starts_again() -> None:
    clock = FakeClock(100.0)
    limiter = adaptive(clock)
    first = limiter.acquire(1_000)  # the quota is spent by someone else: refused at once
    planned = [limiter.reserve(1_000) for _ in range(8)]  # later on the ramp, not sent yet
    clock.now = 100.01
    first.fail(True, "Too many tokens, please wait before trying again.")
    # nothing of ours was accepted: the 429 tells no rate, it says the quota is in use
    assert not limiter.found and limiter.rate_tpw is None and limiter.events == 0
    # the ramp starts again a window later, with the requests it had planned, in their order
    times = [r.send_at for r in planned]
    assert times == sorted(times) and times[0] == pytest.approx(100.01 + limiter.window_s)
    clock.now = 100.02  # a second refusal of a request sent before the pause: the same event
    planned_early = limiter.reserve(1_000)
    assert planned_early.send_at > times[-1]
    # after the pause, what is accepted sets the rate as on a first discovery
    clock.now = planned_early.send_at
    for r in planned:
        assert limiter._still_fits(r)
        r.settle(1_000)
    clock.now += 1.0
    limiter.reserve(1_000).fail(True, "Too many tokens, please wait before trying again.")
    # nine accepted (the eight and the one planned after the pause), in a bucket refilled
    # for the second since the ramp started again
    assert limiter.found and limiter.rate_tpw == pytest.approx(9_000 / (1 + 1.0 / 60), rel=0.01)


@pytest.mark.parametrize("minute", ["bucket", "sliding", "fixed"])
def test_auto_started_on_a_quota_another_client_has_just_spent(minute: str) -> None:
    """Another client spent the whole quota a moment before: auto waits it out, then finds
    the whole quota rather than the little it got while the other's minute was still full."""
    clock = FakeClock(37.0)
    tpm, n = 30_000, 40
    quota = Quota(tpm=tpm, minute=minute, clock=clock)
    spent = []
    while not isinstance(ticket := quota.admit(SONNET, INPUT, MAX_TOKENS, OUTPUT), Refusal):
        spent.append(ticket)
    for ticket in spent:
        quota.settle(ticket, SONNET, INPUT, OUTPUT)
    run = _against_quota(_auto(clock), quota, clock, n)
    fresh_clock = FakeClock(37.0)
    fresh = _against_quota(_auto(fresh_clock), Quota(tpm=tpm, minute=minute, clock=fresh_clock),
                           fresh_clock, n)
    assert run["lost"] == 0, run
    # the other client's minute, then what a fresh quota takes (before: 40 minutes, one
    # request a minute, the rate of the one request the other client's minute let through)
    assert run["makespan"] <= 60.0 + 1.05 * fresh["makespan"], (run, fresh)
    assert run["throttled"] <= fresh["throttled"] + 2, (run, fresh)


def _auto(clock: FakeClock) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(60.0, clock=clock, burndown=burndown_rate(SONNET), margin_s=0.0,
                               sleep=clock.sleep)
