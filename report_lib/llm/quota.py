"""Bedrock's quotas as its documentation counts them: burndown rates, reservation, quota minutes.

One model, used by the emulator (to refuse what Bedrock would refuse), by the client limiter
(to charge what Bedrock charges) and by the benchmark (to compute the best makespan a quota
allows). What Amazon Bedrock documents ("How tokens are counted", runtime quotas):

- **Reservation.** When a request starts, input tokens + ``maxTokens`` are taken from the
  tokens-per-minute (TPM) and tokens-per-day (TPD) quotas. A request whose reservation does
  not fit is throttled (HTTP 429) at once.
- **Settlement.** When it ends, the charge becomes input + cache-write + output × the model's
  **burndown rate**: 5 for the Claude 4 family (one output token uses five quota tokens), 1 for
  most other models. Unused reservation is given back; a charge above the reservation is
  taken as well.
- **Requests per minute** (RPM) count every admitted request.
- **Tokens per day** default to TPM × 1,440.

How the minute is counted is not documented, so three models are offered and a client must
hold under all of them: ``bucket`` (capacity = quota, refilled continuously), ``sliding`` (what
was charged in the last 60 s) and ``fixed`` (wall-clock minutes). A refund lowers the charge
where it was made; an extra charge is counted when the request ends.

``accounting="actual"`` is the simpler model some endpoints use: input + output tokens (1×)
charged when the request is admitted, no reservation of ``maxTokens``.
"""

from __future__ import annotations

import collections
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from report_lib.errors import ConfigError

QUOTA_MINUTES: tuple[str, ...] = ("bucket", "sliding", "fixed")
ACCOUNTINGS: tuple[str, ...] = ("bedrock", "actual")
# Model ids (lower case, without a region/profile prefix) and their output burndown rate, as
# listed by Bedrock's "How tokens are counted" page: the Claude 4 family burns 5 quota tokens
# per output token. Everything else counts 1. Override with --burndown when AWS adds models.
BURNDOWN_TABLE: tuple[tuple[str, float], ...] = (
    (r"anthropic\.claude-(opus|sonnet|haiku)-4", 5.0),
)
# Bedrock reserves the model's largest output when a request sets no maxTokens.
DEFAULT_MAX_OUTPUT: tuple[tuple[str, int], ...] = (
    (r"anthropic\.claude-opus-4", 32_000),
    (r"anthropic\.claude-(sonnet|haiku)-4", 64_000),
)
FALLBACK_MAX_OUTPUT = 4_096
MINUTES_PER_DAY = 1_440

TOKENS_MESSAGE = "Too many tokens, please wait before trying again."
REQUESTS_MESSAGE = "Too many requests, please wait before trying again."
DAY_MESSAGE = "Too many tokens per day, please wait before trying again."


def burndown_rate(model_id: str, override: float | None = None) -> float:
    """Quota tokens one output token uses for ``model_id`` (``override`` wins when given)."""
    if override is not None:
        return check_burndown(override)
    name = model_id.lower()
    for pattern, rate in BURNDOWN_TABLE:
        if re.search(pattern, name):
            return rate
    return 1.0


def check_burndown(value: float) -> float:
    """``value`` if it is a usable burndown rate (a number >= 1), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 1:
        raise ConfigError(f"burndown must be a number >= 1 (quota tokens per output token), "
                          f"got {value!r}")
    return float(value)


def default_max_output(model_id: str) -> int:
    """The ``maxTokens`` Bedrock reserves for ``model_id`` when a request sets none."""
    name = model_id.lower()
    for pattern, tokens in DEFAULT_MAX_OUTPUT:
        if re.search(pattern, name):
            return tokens
    return FALLBACK_MAX_OUTPUT


def reserved_tokens(input_tokens: int, max_tokens: int) -> int:
    """What Bedrock takes from the quota when a request starts."""
    return int(input_tokens) + int(max_tokens)


def charged_tokens(input_tokens: int, output_tokens: int, burndown: float,
                   cache_write_tokens: int = 0) -> int:
    """What a finished request uses of the quota: input + cache-write + output × burndown."""
    return int(input_tokens) + int(cache_write_tokens) + math.ceil(output_tokens * burndown)


# ------------------------------------------------------------------ one quota, three minutes


@dataclass
class Charge:
    """One amount taken from a window at ``at``; a refund lowers it in place."""

    at: float
    amount: float


class Window:
    """A quota of ``capacity`` units per ``period_s``, counted as a bucket, sliding or fixed."""

    def __init__(self, kind: str, capacity: float, period_s: float,
                 clock: Callable[[], float]) -> None:
        if kind not in QUOTA_MINUTES:
            raise ConfigError(f"unknown quota minute {kind!r}; choose one of "
                              f"{', '.join(QUOTA_MINUTES)}")
        if not capacity > 0 or not period_s > 0:
            raise ConfigError(f"a quota needs a capacity and a period > 0, got {capacity}, "
                              f"{period_s}")
        self.kind, self.capacity, self.period_s, self.clock = kind, capacity, period_s, clock
        self.level = capacity  # bucket only
        self.stamp = clock()
        self.log: collections.deque[Charge] = collections.deque()  # sliding / fixed

    def _start(self, now: float) -> float:
        if self.kind == "fixed":
            return math.floor(now / self.period_s) * self.period_s - 1e-9
        return now - self.period_s

    def used(self, now: float | None = None) -> float:
        """Units counted against the quota at ``now``."""
        now = self.clock() if now is None else now
        if self.kind == "bucket":
            if now > self.stamp:
                self.level = min(self.capacity, self.level + (now - self.stamp) *
                                 self.capacity / self.period_s)
                self.stamp = now
            return self.capacity - self.level
        start = self._start(now)
        while self.log and self.log[0].at <= now - self.period_s:
            self.log.popleft()
        return sum(c.amount for c in self.log if c.at > start)

    def fits(self, amount: float, now: float | None = None) -> bool:
        return self.used(now) + amount <= self.capacity + 1e-9

    def take(self, amount: float, now: float | None = None) -> Charge:
        now = self.clock() if now is None else now
        self.used(now)
        charge = Charge(now, float(amount))
        if self.kind == "bucket":
            self.level -= amount
        else:
            self.log.append(charge)
        return charge

    def settle(self, charge: Charge, amount: float, now: float | None = None) -> None:
        """Make ``charge`` cost ``amount``: a refund where it was made, an extra at ``now``."""
        now = self.clock() if now is None else now
        delta = amount - charge.amount
        if delta < 0:
            charge.amount = amount
            if self.kind == "bucket":
                self.used(now)
                self.level = min(self.capacity, self.level - delta)
        elif delta > 0:  # counted from now: a bucket loses it now, a log gets an entry
            self.take(delta, now)

    def wait_s(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` fits (0 when it does; inf when it never can)."""
        if amount > self.capacity:
            return math.inf
        used = self.used(now)
        if used + amount <= self.capacity + 1e-9:
            return 0.0
        if self.kind == "bucket":
            return (used + amount - self.capacity) / (self.capacity / self.period_s)
        if self.kind == "fixed":
            return self._start(now) + 1e-9 + self.period_s - now
        need = used + amount - self.capacity
        for charge in self.log:
            if charge.at > now - self.period_s:
                need -= charge.amount
                if need <= 1e-9:
                    return charge.at + self.period_s - now
        return self.period_s


@dataclass
class Ticket:
    """An admitted request: its reservation in every window, settled once at the end."""

    charges: list[tuple[Window, Charge]] = field(default_factory=list)
    reserved: int = 0
    settled: bool = False


@dataclass
class Refusal:
    """Why a request was refused: HTTP status, AWS error type, message, what it needed."""

    status: int
    error_type: str
    message: str
    tokens: int


@dataclass
class QuotaTotals:
    """Tokens reserved, settled and refused since the start (GET /stats on the emulator)."""

    reserved_tokens: int = 0
    settled_tokens: int = 0
    refused_tokens: int = 0
    refused_requests: int = 0
    refused_by: dict[str, int] = field(default_factory=lambda: {"tokens": 0, "requests": 0,
                                                                 "day": 0})


class Quota:
    """TPM / RPM / TPD quotas of one model, charged the way ``accounting`` says.

    ``minute_s`` is the length of a quota minute (60 s; shorter on a time-scaled emulator).
    """

    def __init__(self, *, tpm: int | None = None, rpm: int | None = None,
                 tpd: int | None = None, minute: str = "bucket", accounting: str = "bedrock",
                 burndown: float | None = None, minute_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if accounting not in ACCOUNTINGS:
            raise ConfigError(f"unknown accounting {accounting!r}; choose one of "
                              f"{', '.join(ACCOUNTINGS)}")
        if minute not in QUOTA_MINUTES:
            raise ConfigError(f"unknown quota minute {minute!r}; choose one of "
                              f"{', '.join(QUOTA_MINUTES)}")
        self.tpm, self.rpm, self.tpd = tpm, rpm, tpd
        self.minute, self.accounting, self.minute_s = minute, accounting, minute_s
        self.burndown_override = None if burndown is None else check_burndown(burndown)
        self.clock = clock
        self.totals = QuotaTotals()
        self.tokens = Window(minute, tpm, minute_s, clock) if tpm else None
        self.requests = Window(minute, rpm, minute_s, clock) if rpm else None
        self.day = Window(minute, tpd, minute_s * MINUTES_PER_DAY, clock) if tpd else None

    @property
    def enabled(self) -> bool:
        return any(w is not None for w in (self.tokens, self.requests, self.day))

    def burndown(self, model_id: str) -> float:
        if self.accounting == "actual":
            return 1.0
        return burndown_rate(model_id, self.burndown_override)

    def request_tokens(self, model_id: str, input_tokens: int, max_tokens: int | None,
                       output_tokens: int) -> int:
        """What admission takes: the reservation (bedrock) or input + output (actual)."""
        if self.accounting == "actual":
            return int(input_tokens) + int(output_tokens)
        limit = default_max_output(model_id) if max_tokens is None else max_tokens
        return reserved_tokens(input_tokens, limit)

    def too_large(self, tokens: int) -> str | None:
        """Why a request of ``tokens`` can never be admitted, or None."""
        for window, name in ((self.tokens, "tokens-per-minute"), (self.day, "tokens-per-day")):
            if window is not None and tokens > window.capacity:
                what = "input + maxTokens" if self.accounting == "bedrock" else "input + output"
                return (f"this request needs {tokens} quota tokens ({what}) but the "
                        f"{name} quota is {int(window.capacity)}; lower maxTokens or raise "
                        "the quota")
        return None

    def refusal(self, tokens: int, now: float | None = None) -> Refusal | None:
        """The 429 a request taking ``tokens`` (and one request) gets now, counted as refused;
        None when every quota has room for it (nothing is taken)."""
        now = self.clock() if now is None else now
        checks = ((self.day, tokens, "day", DAY_MESSAGE),
                  (self.requests, 1, "requests", REQUESTS_MESSAGE),
                  (self.tokens, tokens, "tokens", TOKENS_MESSAGE))
        for window, amount, name, message in checks:
            if window is not None and not window.fits(amount, now):
                self.totals.refused_tokens += tokens
                self.totals.refused_requests += 1
                self.totals.refused_by[name] += 1
                return Refusal(429, "ThrottlingException", message, tokens)
        return None

    def admit(self, model_id: str, input_tokens: int, max_tokens: int | None,
              output_tokens: int) -> Ticket | Refusal:
        """Take the request's reservation from every quota, or say which one refused it."""
        tokens = self.request_tokens(model_id, input_tokens, max_tokens, output_tokens)
        now = self.clock()
        reason = self.too_large(tokens)
        if reason is not None:
            return Refusal(400, "ValidationException", reason, tokens)
        refusal = self.refusal(tokens, now)
        if refusal is not None:
            return refusal
        ticket = Ticket(reserved=tokens)
        for window, amount in ((self.day, tokens), (self.requests, 1), (self.tokens, tokens)):
            if window is not None:
                ticket.charges.append((window, window.take(amount, now)))
        self.totals.reserved_tokens += tokens
        if self.accounting == "actual":  # charged once, at admission
            ticket.settled = True
            self.totals.settled_tokens += tokens
        return ticket

    def settle(self, ticket: Ticket, model_id: str, input_tokens: int,
               output_tokens: int) -> int:
        """Settle an admitted request to what it used; returns the charge (0 if already done)."""
        if ticket.settled:
            return 0
        ticket.settled = True
        charge = charged_tokens(input_tokens, output_tokens, self.burndown(model_id))
        now = self.clock()
        for window, entry in ticket.charges:
            if window is not self.requests:
                window.settle(entry, charge, now)
        self.totals.settled_tokens += charge
        return charge

    def snapshot(self) -> dict[str, object]:
        now = self.clock()
        return {
            "minute": self.minute, "accounting": self.accounting, "minute_s": self.minute_s,
            "tpm": self.tpm, "rpm": self.rpm, "tpd": self.tpd,
            "tokens_used": None if self.tokens is None else int(self.tokens.used(now)),
            "requests_used": None if self.requests is None else int(self.requests.used(now)),
            "reserved_tokens": self.totals.reserved_tokens,
            "settled_tokens": self.totals.settled_tokens,
            "refused_tokens": self.totals.refused_tokens,
            "refused_requests": self.totals.refused_requests,
            "refused_by": dict(self.totals.refused_by),
        }


# ------------------------------------------------------------- the best a quota allows


@dataclass(frozen=True)
class QuotaRequest:
    """One call for ``ideal_makespan``: its tokens and how long it takes once admitted."""

    input_tokens: int
    output_tokens: int
    latency_s: float


def ideal_makespan(requests: Sequence[QuotaRequest], *, model_id: str, max_tokens: int,
                   tpm: int | None, rpm: int | None = None, minute: str = "bucket",
                   accounting: str = "bedrock", burndown: float | None = None,
                   minute_s: float = 60.0, phase_s: float | None = None,
                   send_s: float = 0.0) -> float:
    """The makespan of a client that knows the quota exactly and sends each request the
    moment it fits, in order, with no overhead: the bound a real client is measured against.

    ``send_s`` gives that client a cost per request: it sends at most one every ``send_s``
    (the time a real client needs to sign and send one). Under output burndown this can cost a
    whole quota minute: a burst that takes longer than a call lets the first calls' extra
    charges land while it still goes out, and the service admits fewer of it.

    ``phase_s`` is where in a wall-clock minute the run starts, for a client that sees the
    service's minute boundaries (``fixed`` minutes only). Without it (None) the client does not
    see them, and its bound under ``fixed`` minutes is the ``sliding`` one. Why: a wall-clock
    minute may begin at any instant, so a client that must not be refused wherever the boundary
    lies has to keep every trailing minute before each admission under the quota (the fixed
    minute that starts just after the trailing minute begins counts all of it), which is the
    sliding check; and a schedule that passes the sliding check passes every fixed minute,
    which only counts part of a trailing minute. Bedrock does not publish its boundaries, so a
    real client is measured against this one; with ``phase_s`` the bound may spend one quota
    just before a boundary and another just after, which only a client that knows where the
    boundary is can do.
    """
    if phase_s is None:
        phase_s = 0.0
        if minute == "fixed":
            minute = "sliding"
    now = [phase_s]
    quota = Quota(tpm=tpm, rpm=rpm, minute=minute, accounting=accounting, burndown=burndown,
                  minute_s=minute_s, clock=lambda: now[0])
    running: list[tuple[float, Ticket, QuotaRequest]] = []
    end = phase_s
    for request in requests:
        while True:
            ticket = quota.admit(model_id, request.input_tokens, max_tokens,
                                 request.output_tokens)
            if isinstance(ticket, Ticket):
                running.append((now[0] + request.latency_s, ticket, request))
                end = max(end, now[0] + request.latency_s)
                if send_s > 0:
                    now[0] += send_s
                    _finish(quota, running, model_id, now[0])
                break
            if ticket.status != 429:
                return math.inf
            now[0] = _next_event(quota, running, request, max_tokens, model_id, now[0])
            _finish(quota, running, model_id, now[0])
    return end - phase_s


def _finish(quota: Quota, running: list[tuple[float, Ticket, QuotaRequest]], model_id: str,
            now: float) -> None:
    for item in [r for r in running if r[0] <= now + 1e-12]:
        quota.settle(item[1], model_id, item[2].input_tokens, item[2].output_tokens)
        running.remove(item)


def _next_event(quota: Quota, running: Iterable[tuple[float, Ticket, QuotaRequest]],
                request: QuotaRequest, max_tokens: int, model_id: str, now: float) -> float:
    """The next time anything can change: a call ends, or the windows make room."""
    tokens = quota.request_tokens(model_id, request.input_tokens, max_tokens,
                                  request.output_tokens)
    waits = [w.wait_s(a, now) for w, a in ((quota.tokens, tokens), (quota.requests, 1))
             if w is not None]
    ends = [t for t, _, _ in running if t > now]
    candidates = [now + max(waits, default=0.0), *ends]
    nxt = min(c for c in candidates if c > now) if any(c > now for c in candidates) else now
    return nxt + 1e-9


# ------------------------------------------------------------------ what a run reserved


def quota_usage(calls: Sequence[tuple[int, int]], *, max_tokens: int,
                burndown: float) -> dict[str, Any]:
    """What the answered ``calls`` ((input, output) tokens each) took from a quota: reserved
    (input + max_tokens) and charged (input + output × burndown), and whether ``max_tokens``
    is far above the outputs seen (``wasteful``: at least twice the largest), with the
    ``max_tokens`` that would have reserved enough (the largest output + 20 %)."""
    reserved = sum(reserved_tokens(i, max_tokens) for i, _ in calls)
    charged = sum(charged_tokens(i, o, burndown) for i, o in calls)
    largest = max((o for _, o in calls), default=0)
    suggested = math.ceil(largest * 1.2) if largest else None
    wasteful = bool(calls) and largest > 0 and max_tokens >= 2 * largest
    return {"calls": len(calls), "max_tokens": max_tokens, "burndown": burndown,
            "reserved_tokens": reserved, "charged_tokens": charged,
            "largest_output_tokens": largest, "wasteful": wasteful,
            "suggested_max_tokens": suggested if wasteful else None}


def describe_quota_usage(usage: dict[str, Any]) -> str:
    """One line for the run summary, computed from ``quota_usage``."""
    text = (f"quota: reserved {usage['reserved_tokens']:,} tokens (input + max_tokens "
            f"{usage['max_tokens']:,}), charged {usage['charged_tokens']:,} (input + output x "
            f"{float(usage['burndown']):g})")
    if usage["wasteful"]:
        ratio = usage["max_tokens"] / usage["largest_output_tokens"]
        text += (f"; max_tokens is {ratio:.1f}x the largest output "
                 f"({usage['largest_output_tokens']:,}): each request reserves quota it never "
                 f"uses; --max-tokens {usage['suggested_max_tokens']:,} would do")
    return text
