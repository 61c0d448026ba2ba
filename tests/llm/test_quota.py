"""Bedrock's quota accounting (report_lib.llm.quota) on a fake clock: reservation, settlement,
the three quota minutes, RPM, TPD, the burndown table and the ideal makespan."""

from __future__ import annotations

import math
from typing import Any

import pytest

from report_lib.errors import ConfigError
from report_lib.llm.quota import (
    DAY_MESSAGE,
    REQUESTS_MESSAGE,
    TOKENS_MESSAGE,
    Quota,
    QuotaRequest,
    Refusal,
    Ticket,
    Window,
    burndown_rate,
    charged_tokens,
    check_burndown,
    default_max_output,
    ideal_makespan,
    reserved_tokens,
)

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the burndown table ---------------------------------------------------------------------------
@pytest.mark.parametrize(("model_id", "rate"), [
    (SONNET, 5.0),
    ("us.anthropic.claude-opus-4-1-20250805-v1:0", 5.0),
    ("anthropic.claude-sonnet-4-20250514-v1:0", 5.0),
    ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", 5.0),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-"
     "20250514-v1:0", 5.0),
    ("US.Anthropic.Claude-Sonnet-4-5-20250929-v1:0", 5.0),  # ids are compared in lower case
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", 1.0),  # Claude 3.x: 1x
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 1.0),
    ("amazon.nova-pro-v1:0", 1.0),
    ("meta.llama3-1-70b-instruct-v1:0", 1.0),
])
def test_burndown_table(model_id: str, rate: float) -> None:
    assert burndown_rate(model_id) == rate


def test_burndown_override_wins_and_is_checked() -> None:
    assert burndown_rate(SONNET, 1) == 1.0
    assert burndown_rate("amazon.nova-pro-v1:0", 3.5) == 3.5
    for bad in (0, 0.5, -5, math.nan, math.inf, True, "5"):
        with pytest.raises(ConfigError, match="burndown must be a number >= 1"):
            check_burndown(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="got 0"):
        burndown_rate(SONNET, 0)


def test_default_max_output_when_a_request_sets_none() -> None:
    assert default_max_output("us.anthropic.claude-opus-4-1-20250805-v1:0") == 32_000
    assert default_max_output(SONNET) == 64_000
    assert default_max_output("amazon.nova-pro-v1:0") == 4_096


def test_reservation_and_settlement_arithmetic() -> None:
    assert reserved_tokens(800, 2_000) == 2_800
    assert charged_tokens(800, 400, 5.0) == 800 + 2_000
    assert charged_tokens(800, 400, 1.0) == 1_200
    assert charged_tokens(800, 400, 5.0, cache_write_tokens=100) == 2_900
    assert charged_tokens(10, 3, 1.5) == 10 + 5  # a part of a token is a whole quota token


# -- one window, three minutes --------------------------------------------------------------------
def test_sliding_refund_lowers_the_charge_where_it_was_made() -> None:
    clock = Clock()
    window = Window("sliding", 1_000, 60.0, clock)
    charge = window.take(600)
    clock.now = 30.0
    window.settle(charge, 200)
    assert window.used() == 200
    clock.now = 59.9
    assert window.used() == 200  # still counted at its start
    clock.now = 60.0
    assert window.used() == 0  # gone a minute after it was made, not after the refund


def test_sliding_extra_is_counted_from_the_end() -> None:
    clock = Clock()
    window = Window("sliding", 1_000, 60.0, clock)
    charge = window.take(300)
    clock.now = 30.0
    window.settle(charge, 800)  # 500 more than reserved, counted at 30 s
    assert window.used() == 800
    clock.now = 60.0
    assert window.used() == 500  # the reservation has left the minute, the extra has not
    assert window.wait_s(600, clock.now) == pytest.approx(30.0)  # until the extra leaves too
    clock.now = 90.0
    assert window.used() == 0


def test_fixed_minutes_start_on_the_wall_clock() -> None:
    clock = Clock(50.0)
    window = Window("fixed", 1_000, 60.0, clock)
    window.take(900)
    assert not window.fits(200)
    assert window.wait_s(200, clock.now) == pytest.approx(10.0)  # at 60 s, a new minute
    clock.now = 60.0
    assert window.used() == 0 and window.fits(1_000)
    charge = window.take(400)
    clock.now = 119.0
    window.settle(charge, 700)  # the extra is counted in the minute it came: this one
    assert window.used() == 700
    clock.now = 120.0
    assert window.used() == 0


def test_fixed_extra_crossing_the_boundary_counts_in_the_next_minute() -> None:
    clock = Clock(50.0)
    window = Window("fixed", 1_000, 60.0, clock)
    big, small = window.take(100), window.take(100)
    clock.now = 70.0  # a new minute: both reservations are in the last one
    window.settle(big, 400)  # +300 counted now
    window.settle(small, 20)  # a refund in the minute that is over
    assert window.used() == 300


def test_bucket_refills_continuously_and_remembers_debt() -> None:
    clock = Clock()
    window = Window("bucket", 600, 60.0, clock)  # 10 tokens a second
    charge = window.take(500)
    clock.now = 10.0
    assert window.used() == pytest.approx(400)
    window.settle(charge, 1_000)  # 500 more: the bucket is in debt
    assert window.used() == pytest.approx(900)
    assert window.wait_s(600, clock.now) == pytest.approx(90.0)  # (900 + 600 - 600) / 10
    clock.now = 100.0
    assert window.fits(600) and not window.fits(601)


def test_bucket_refund_is_given_back_at_once() -> None:
    clock = Clock()
    window = Window("bucket", 600, 60.0, clock)
    charge = window.take(600)
    clock.now = 6.0  # +60
    window.settle(charge, 100)
    assert window.used() == pytest.approx(40)  # 600 - 60 - 500 given back


@pytest.mark.parametrize("kind", ["bucket", "sliding", "fixed"])
def test_every_minute_refuses_beyond_the_capacity_and_never_admits_more_than_it(
        kind: str) -> None:
    clock = Clock()
    window = Window(kind, 100, 60.0, clock)
    taken = 0
    while window.fits(30):
        window.take(30)
        taken += 30
    assert taken == 90
    assert window.wait_s(200, clock.now) == math.inf  # larger than the quota: never


def test_window_refuses_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown quota minute 'hourly'"):
        Window("hourly", 10, 60.0, Clock())
    with pytest.raises(ConfigError, match="capacity and a period > 0"):
        Window("bucket", 0, 60.0, Clock())


# -- a model's quotas -----------------------------------------------------------------------------
def test_admission_reserves_input_plus_max_tokens_and_settles_with_burndown() -> None:
    clock = Clock()
    quota = Quota(tpm=10_000, minute="sliding", clock=clock)
    ticket = quota.admit(SONNET, 800, 2_000, output_tokens=400)
    assert isinstance(ticket, Ticket) and ticket.reserved == 2_800
    assert quota.tokens is not None and quota.tokens.used() == 2_800
    clock.now = 1.0
    assert quota.settle(ticket, SONNET, 800, 400) == 800 + 5 * 400
    assert quota.tokens.used() == 2_800  # 2,800 charged, 0 extra, 0 refund
    assert quota.settle(ticket, SONNET, 800, 400) == 0  # once only
    snap = quota.snapshot()
    assert (snap["reserved_tokens"], snap["settled_tokens"], snap["refused_tokens"]) == \
        (2_800, 2_800, 0)


def test_settlement_refunds_an_unused_reservation_and_charges_an_extra() -> None:
    clock = Clock()
    quota = Quota(tpm=100_000, minute="sliding", clock=clock)
    small = quota.admit(SONNET, 100, 1_000, 0)
    large = quota.admit(SONNET, 100, 100, 0)
    assert isinstance(small, Ticket) and isinstance(large, Ticket)
    clock.now = 10.0
    quota.settle(small, SONNET, 100, 20)  # 200 of 1,100: 900 back at 0 s
    quota.settle(large, SONNET, 100, 100)  # 600 of 200: 400 more at 10 s
    assert quota.tokens is not None
    assert quota.tokens.used() == 200 + 600
    clock.now = 60.0
    assert quota.tokens.used() == 400  # only the extra, counted from the end
    assert quota.totals.settled_tokens == 800


def test_a_request_without_max_tokens_reserves_the_models_largest_output() -> None:
    quota = Quota(tpm=1_000_000, clock=Clock())
    ticket = quota.admit(SONNET, 10, None, 5)
    assert isinstance(ticket, Ticket) and ticket.reserved == 10 + 64_000


def test_tokens_refusal_is_bedrocks_429() -> None:
    quota = Quota(tpm=5_000, minute="sliding", clock=Clock())
    assert isinstance(quota.admit(SONNET, 1_000, 3_000, 100), Ticket)
    refused = quota.admit(SONNET, 1_000, 3_000, 100)
    assert isinstance(refused, Refusal)
    assert (refused.status, refused.error_type, refused.message) == \
        (429, "ThrottlingException", TOKENS_MESSAGE)
    assert TOKENS_MESSAGE == "Too many tokens, please wait before trying again."
    totals = quota.totals
    assert (totals.refused_tokens, totals.refused_requests, totals.refused_by["tokens"]) == \
        (4_000, 1, 1)


def test_requests_per_minute() -> None:
    clock = Clock()
    quota = Quota(rpm=3, minute="sliding", clock=clock)
    tickets = [quota.admit(SONNET, 10, 10, 10) for _ in range(3)]
    assert all(isinstance(t, Ticket) for t in tickets)
    refused = quota.admit(SONNET, 10, 10, 10)
    assert isinstance(refused, Refusal) and refused.message == REQUESTS_MESSAGE
    assert REQUESTS_MESSAGE == "Too many requests, please wait before trying again."
    assert quota.totals.refused_by == {"tokens": 0, "requests": 1, "day": 0}
    clock.now = 30.0
    for t in tickets:  # settling does not give a request back
        assert isinstance(t, Ticket)
        quota.settle(t, SONNET, 10, 10)
    assert isinstance(quota.admit(SONNET, 10, 10, 10), Refusal)
    clock.now = 60.0
    assert isinstance(quota.admit(SONNET, 10, 10, 10), Ticket)


def test_tokens_per_day() -> None:
    clock = Clock()
    quota = Quota(tpm=1_000, tpd=1_500, minute="sliding", clock=clock)
    assert isinstance(quota.admit(SONNET, 100, 900, 0), Ticket)
    clock.now = 61.0  # the minute is free again; the day is not
    refused = quota.admit(SONNET, 100, 900, 0)
    assert isinstance(refused, Refusal) and refused.message == DAY_MESSAGE
    assert DAY_MESSAGE == "Too many tokens per day, please wait before trying again."
    assert quota.totals.refused_by["day"] == 1
    clock.now = 61.0 + 1_440 * 60
    assert isinstance(quota.admit(SONNET, 100, 900, 0), Ticket)


def test_a_request_larger_than_the_quota_is_a_validation_error() -> None:
    quota = Quota(tpm=1_000, clock=Clock())
    refused = quota.admit(SONNET, 100, 2_000, 10)
    assert isinstance(refused, Refusal)
    assert (refused.status, refused.error_type) == (400, "ValidationException")
    assert "needs 2100 quota tokens (input + maxTokens)" in refused.message
    assert "tokens-per-minute quota is 1000" in refused.message


def test_actual_accounting_charges_input_plus_output_at_admission() -> None:
    clock = Clock()
    quota = Quota(tpm=10_000, minute="sliding", accounting="actual", clock=clock)
    ticket = quota.admit(SONNET, 800, 4_000, 400)
    assert isinstance(ticket, Ticket) and ticket.reserved == 1_200  # no maxTokens, 1x
    assert quota.burndown(SONNET) == 1.0
    assert quota.settle(ticket, SONNET, 800, 400) == 0  # already settled
    assert quota.totals.settled_tokens == 1_200


def test_quota_burndown_override() -> None:
    quota = Quota(tpm=10_000, burndown=2, clock=Clock())
    assert quota.burndown(SONNET) == 2.0
    assert Quota(tpm=10_000, clock=Clock()).burndown(SONNET) == 5.0
    with pytest.raises(ConfigError, match="burndown"):
        Quota(tpm=10_000, burndown=0)
    with pytest.raises(ConfigError, match="unknown accounting 'free'"):
        Quota(tpm=10_000, accounting="free")


# -- the bound a client is measured against -------------------------------------------------------
def _requests(n: int, latency_s: float = 1.0) -> list[QuotaRequest]:
    return [QuotaRequest(800, 400, latency_s) for _ in range(n)]


def test_ideal_makespan_without_a_binding_quota_is_one_call() -> None:
    assert ideal_makespan(_requests(10), model_id=SONNET, max_tokens=2_000, tpm=1_000_000) == \
        pytest.approx(1.0)


def test_ideal_makespan_sliding_reservation_and_burndown() -> None:
    # 2,800 reserved, 2,800 charged (800 + 5 x 400): 10,000 a minute takes 3 at a time
    got = ideal_makespan(_requests(7), model_id=SONNET, max_tokens=2_000, tpm=10_000,
                         minute="sliding")
    assert got == pytest.approx(2 * 60.0 + 1.0, abs=1e-6)
    # the same requests at 1x, charged what they use: 1,200 each, 8 a minute
    actual = ideal_makespan(_requests(7), model_id=SONNET, max_tokens=2_000, tpm=10_000,
                            minute="sliding", accounting="actual")
    assert actual == pytest.approx(1.0)


def test_ideal_makespan_a_client_slower_than_a_call_per_burst_needs_another_minute() -> None:
    # 3,000 reserved, 5,000 charged (1,000 + 5 x 800): 30,000 a minute admits bursts of 10. A
    # burst sent over more than a call (10 x 0.15 s > 1 s) lets its first extras land while it
    # still goes out, so fewer of it fit, and 30 requests need another quota minute
    requests = [QuotaRequest(1_000, 800, 1.0)] * 30
    kwargs: dict[str, Any] = {"model_id": SONNET, "max_tokens": 2_000, "tpm": 30_000,
                              "minute": "sliding"}
    instant = ideal_makespan(requests, **kwargs)
    assert ideal_makespan(requests, send_s=0.0, **kwargs) == instant
    paced = [ideal_makespan(requests, send_s=s, **kwargs) for s in (0.01, 0.1, 0.15, 0.2)]
    # never faster for a slower client
    assert all(b >= a - 1e-6 for a, b in zip([instant, *paced], paced, strict=False))
    assert paced[0] <= instant + 10 * 0.01 + 1.0  # a burst well within a call: about the same
    assert paced[2] >= instant + 0.9 * 60.0  # slower than a call per burst: a minute more


def test_ideal_makespan_fixed_minutes_depend_on_the_phase() -> None:
    kwargs = {"model_id": SONNET, "max_tokens": 2_000, "tpm": 10_000, "minute": "fixed"}
    assert ideal_makespan(_requests(4), **kwargs) == pytest.approx(61.0, abs=1e-6)
    assert ideal_makespan(_requests(4), phase_s=50.0, **kwargs) == pytest.approx(11.0, abs=1e-6)


def test_ideal_makespan_fixed_minutes_without_the_boundary_are_the_sliding_bound() -> None:
    # 4 requests of 2,800 against 10,000 a minute: one who knows a boundary is 10 s away sends
    # 3 now and 1 just after it (11 s); one who does not see it must wait a whole minute
    kwargs = {"model_id": SONNET, "max_tokens": 2_000, "tpm": 10_000}
    sliding = ideal_makespan(_requests(4), minute="sliding", **kwargs)
    for phase in (None, 0.0, 50.0):
        seen = ideal_makespan(_requests(4), minute="fixed", phase_s=phase, **kwargs)
        assert seen <= sliding + 1e-6
    assert ideal_makespan(_requests(4), minute="fixed", **kwargs) == pytest.approx(sliding)
    assert ideal_makespan(_requests(4), minute="fixed", phase_s=50.0, **kwargs) < sliding / 5


def test_a_schedule_faster_than_the_sliding_bound_is_refused_at_some_phase() -> None:
    # the phase-aware schedule (3 at 0 s, 1 at 10 s) against wall-clock minutes that begin
    # elsewhere: a minute starting at 0 s counts all four, so the fourth is throttled
    refused = []
    for phase in (0.0, 20.0, 50.0):
        clock = Clock(phase)
        quota = Quota(tpm=10_000, minute="fixed", clock=clock)
        for at in (0.0, 0.0, 0.0, 10.0):
            clock.now = phase + at
            ticket = quota.admit(SONNET, 800, 2_000, 400)
            if isinstance(ticket, Refusal):
                refused.append(phase)
    assert refused == [0.0, 20.0]


def test_ideal_makespan_requests_per_minute() -> None:
    got = ideal_makespan(_requests(5), model_id=SONNET, max_tokens=2_000, tpm=None, rpm=2,
                         minute="sliding")
    assert got == pytest.approx(2 * 60.0 + 1.0, abs=1e-6)


def test_ideal_makespan_of_an_impossible_request_is_infinite() -> None:
    assert ideal_makespan(_requests(1), model_id=SONNET, max_tokens=20_000, tpm=10_000) == \
        math.inf
