"""The known limiter against Bedrock's quota model (llm.quota.Quota), on a fake clock: it learns
the quota minute (bucket or sliding), books the extras it expects, and its schedule's makespan
is measured against ``ideal_makespan``."""

from __future__ import annotations

import asyncio
import random

import pytest

from report_lib.llm.limiter import RateLimiter
from report_lib.llm.quota import (
    Quota,
    QuotaRequest,
    Refusal,
    charged_tokens,
    ideal_makespan,
)
from report_lib.llm.retry import backoff_delay
from tests.llm.test_limiter import FakeClock, _VirtualLoop

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MAX_TOKENS, LATENCY, START = 2_048, 1.0, 37.0  # START: off the wall-clock minute (fixed)
ROUND_TRIP = 0.02  # a streamed request's first event, 1/50 of a call


def _calls(n: int, seed: int = 3) -> list[tuple[int, int]]:
    """``n`` calls of (input, output) tokens like the benchmark's reports."""
    rng = random.Random(seed)
    return [(1_000 + rng.randint(0, 200), 700 + rng.randint(0, 260)) for _ in range(n)]


def _tpm(calls: list[tuple[int, int]], accounting: str) -> int:
    """The benchmark's quota for these calls (bench.quota_cells: a quarter of their charges,
    at least two of the largest)."""
    burndown = 5.0 if accounting == "bedrock" else 1.0
    charges = [charged_tokens(i, o, burndown) for i, o in calls]
    taken = [max(c, i + MAX_TOKENS) if accounting == "bedrock" else c
             for c, (i, _) in zip(charges, calls, strict=True)]
    return max(-(-sum(charges) // 4), 2 * max(taken))


def _run(quota_minute: str, accounting: str, n: int, limiter_minute: str = "learn",
         admission: bool = True) -> tuple[dict[str, float], RateLimiter]:
    """``n`` reports at once through a known limiter (asyncio, fake clock) against ``Quota``
    as the service: admission takes the reservation (or, ``actual``, input + output), a 429
    comes back at once, an answer after LATENCY s is settled on both sides. The margin is a
    60th of the minute, as in the benchmark (50 ms of a 3 s minute). A trial the limiter
    streams signals its admission ROUND_TRIP after it went (the stream's first event), unless
    ``admission`` is False."""
    calls = _calls(n)
    tpm = _tpm(calls, accounting)
    clock = FakeClock(START)
    quota = Quota(tpm=tpm, minute=quota_minute, accounting=accounting, clock=clock)
    limiter = RateLimiter(tpm, clock=clock, sleep=clock.sleep, margin_s=1.0,
                          burndown=5.0 if accounting == "bedrock" else 1.0,
                          expected_output_tokens=sum(o for _, o in calls) // n,
                          minute=limiter_minute)
    rng = random.Random(7)
    counts = {"requests": 0, "throttled": 0, "lost": 0}
    ends: list[float] = []

    async def one(input_tokens: int, output_tokens: int) -> None:
        for attempt in range(1, 9):
            reservation = await limiter.aacquire(input_tokens + MAX_TOKENS, input_tokens)
            counts["requests"] += 1
            ticket = quota.admit(SONNET, input_tokens, MAX_TOKENS, output_tokens)
            if isinstance(ticket, Refusal):
                counts["throttled"] += 1
                reservation.fail(True, ticket.message)
                await asyncio.sleep(backoff_delay(attempt, 0.25, 20.0, rng))
                continue
            if reservation.stream and admission:  # a streamed trial: its first event
                await asyncio.sleep(ROUND_TRIP)
                reservation.admitted()
                await asyncio.sleep(LATENCY - ROUND_TRIP)
            else:
                await asyncio.sleep(LATENCY)
            quota.settle(ticket, SONNET, input_tokens, output_tokens)
            reservation.settle(input_tokens, output_tokens, LATENCY)
            ends.append(clock.now)
            return
        counts["lost"] += 1

    async def main() -> None:
        await asyncio.gather(*(one(i, o) for i, o in calls))

    loop = _VirtualLoop(clock)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    bound = ideal_makespan([QuotaRequest(i, o, LATENCY) for i, o in calls], model_id=SONNET,
                           max_tokens=MAX_TOKENS, tpm=tpm, minute=quota_minute,
                           accounting=accounting)
    return {**counts, "ratio": (max(ends) - START) / bound}, limiter


MODELS = [(m, a) for m in ("bucket", "sliding", "fixed") for a in ("actual", "bedrock")]


@pytest.mark.parametrize(("quota_minute", "accounting"), MODELS)
def test_no_refusal_where_the_rule_says_none(quota_minute: str, accounting: str) -> None:
    # told the rule the service counts by (fixed minutes: the sliding rule holds under them)
    rule = "bucket" if quota_minute == "bucket" else "sliding"
    run, _ = _run(quota_minute, accounting, 40, limiter_minute=rule)
    assert run["throttled"] == 0 and run["lost"] == 0, run


@pytest.mark.parametrize(("quota_minute", "accounting"), MODELS)
def test_learning_the_minute_costs_at_most_one_refusal(quota_minute: str,
                                                      accounting: str) -> None:
    run, limiter = _run(quota_minute, accounting, 40)
    assert run["lost"] == 0 and run["throttled"] <= 1, run
    if run["throttled"]:  # the 429 that taught it: the service is not the minute it tried
        assert limiter.totals.minute in ("bucket", "sliding")
        assert limiter.minute_guess == (limiter.totals.minute,)


@pytest.mark.parametrize(("quota_minute", "accounting", "n"), [
    *((m, a, 40) for m, a in MODELS),
    *((m, a, 200) for m, a in MODELS),
])
def test_the_schedule_is_close_to_the_best_the_quota_allows(quota_minute: str, accounting: str,
                                                          n: int) -> None:
    run, _ = _run(quota_minute, accounting, n)
    assert run["lost"] == 0 and run["throttled"] <= 1, run
    # a bucket that starts full admits more in its first minute than any trailing 60 s may
    # hold: a limiter that always kept to the sliding rule took 1.37x the bound there
    assert run["ratio"] <= 1.05, run


def _limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(100, window_s=10.0, clock=clock, sleep=clock.sleep, margin_s=0.0)


def test_a_refused_request_only_the_bucket_admitted_teaches_the_sliding_minute() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(100).settle(100, 0, latency_s=0.0)  # the whole quota at 0 s
    clock.now = 5.0  # a bucket has refilled 50; a sliding minute holds the 100 until 10 s
    trial = limiter.acquire(50)
    assert clock.now == 5.0 and trial.admitted_by == ("bucket",)
    trial.fail(throttled=True, message="Too many tokens, please wait before trying again.")
    assert limiter.minute_guess == ("sliding",) and limiter.totals.minute == "sliding"
    assert limiter.reserve(50).send_at == pytest.approx(10.0)  # the sliding rule from now on


def test_a_bucket_only_request_the_service_takes_teaches_nothing() -> None:
    # a fixed minute may take it too (a new wall-clock minute began): nothing is ruled out
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(100).settle(100, 0, latency_s=0.0)
    clock.now = 5.0
    trial = limiter.acquire(50)
    assert trial.admitted_by == ("bucket",)
    clock.now = 6.0
    trial.settle(50, 0, latency_s=1.0)
    assert limiter.minute_guess == ("bucket", "sliding") and limiter.totals.minute == ""


def _in_debt(clock: FakeClock) -> RateLimiter:
    """A limiter whose first request was charged 250 for a 10-token reservation: at 11 s a
    sliding minute is empty, a bucket still 40 in debt."""
    limiter = _limiter(clock)
    first = limiter.acquire(10, input_estimate=10)
    clock.now = 1.0
    first.settle(250, 0, latency_s=1.0)
    clock.now = 11.0
    return limiter


def test_a_refused_request_only_the_sliding_minute_admitted_teaches_the_bucket() -> None:
    clock = FakeClock()
    limiter = _in_debt(clock)
    trial = limiter.acquire(50)
    assert clock.now == 11.0 and trial.admitted_by == ("sliding",)
    trial.fail(throttled=True, message="Too many tokens, please wait before trying again.")
    assert limiter.minute_guess == ("bucket",)
    # 240 over the reservation at 1 s, 10 a second back: 40 in debt at 11 s, 50 fit 9 s later
    assert limiter.reserve(50).send_at == pytest.approx(20.0)


def test_an_answered_request_a_bucket_would_have_refused_teaches_the_sliding_minute() -> None:
    clock = FakeClock()
    limiter = _in_debt(clock)
    trial = limiter.acquire(50)
    assert trial.bucket_refuses
    clock.now = 12.0
    trial.settle(50, 0, latency_s=1.0)
    assert limiter.minute_guess == ("sliding",)


def test_one_request_on_one_minutes_word_at_a_time() -> None:
    clock = FakeClock()
    limiter = _in_debt(clock)
    limiter.acquire(20)  # the trial, not answered yet
    with pytest.raises(Exception, match="wait"):  # the next one waits for the trial's answer
        limiter.acquire(20, max_wait_s=0.01)
    assert clock.now == pytest.approx(11.0)


def test_an_extra_is_expected_a_call_after_its_request_went() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10_000, window_s=10.0, clock=clock, sleep=clock.sleep, margin_s=0.0,
                          burndown=5.0, expected_output_tokens=400, minute="sliding")
    first = limiter.acquire(1_000, input_estimate=800)  # 800 input + 200 max_tokens
    clock.now = 1.0
    first.settle(800, 400, latency_s=1.0)  # a call takes 1 s; charged 2,800
    clock.now = 20.0
    limiter.acquire(1_000, input_estimate=800)  # expected to be charged 2,800 from 20.9 s
    before = limiter.reserve(8_000)
    assert before.wait_s == 0.0  # before the extra lands, as the service does
    limiter.release(before)
    clock.now = 20.95
    # 1,000 reserved + the expected extra of 1,800 + 8,000 would be over the quota
    assert limiter.reserve(8_000).wait_s > 0.0


def test_a_streamed_trial_teaches_the_minute_a_round_trip_after_it_went() -> None:
    # sliding minute, 5x burndown, N = 200: until the minute is learnt, the requests only the
    # sliding rule admits wait behind one trial; learnt from the trial's answer (a call later)
    # the run took 1.5x the bound, learnt from its admission (a round trip) close to it
    late, _ = _run("sliding", "bedrock", 200, admission=False)
    early, limiter = _run("sliding", "bedrock", 200)
    assert limiter.totals.minute == "sliding"
    assert early["ratio"] <= 1.05 < late["ratio"], (early, late)
