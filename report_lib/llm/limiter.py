"""Client-side limiter for Bedrock's tokens- and requests-per-minute quotas (sync and asyncio).

It charges what Bedrock charges (report_lib.llm.quota), when Bedrock charges it: a request
reserves its input estimate + ``max_tokens`` when it is sent; when the answer comes the
reservation is settled to input + output × the model's burndown rate (5 for Claude 4). A
refund lowers the charge where it was made; an extra is counted from when the answer came.

**Expected extras.** With 5× burndown a call is charged more than it reserved, and the service
books the extra when the call ends, a round trip before the client hears of it. So once a
call's length is known (the shortest the service reported), a request sent also books the
extra it is expected to cost (expected output × burndown above its reservation), dated from
0.9 × that length after it went; the answer replaces it with the real one. Requests sent
before the first answer get theirs when it comes. The service admits on the reservation alone,
so an expected extra never holds back a request sent before it is due.

**Which minute.** Bedrock does not document how its minute is counted; ``llm.quota`` offers a
continuously refilled ``bucket``, a ``sliding`` 60 s and ``fixed`` wall-clock minutes. A
schedule that keeps every trailing 60 s under the quota holds under all three, but a bucket
that starts full admits up to twice the quota in its first minute, and a bucket remembers a
settled extra (debt) that a sliding minute forgets after 60 s: neither rule admits all the
other does. So the limiter keeps both books (a log of charges for the sliding rule, a bucket)
and, with ``minute="learn"`` (the default), lets a request go when *either* admits it:

- a request only one of them admitted is a trial, one at a time; a 429 for it rules that
  minute out (the other is kept), and the admission of a request only the sliding rule
  admitted, which a bucket would have refused by a clear margin (``REFUSE_MARGIN`` of the
  quota), rules the bucket out. A trial is sent as ConverseStream (``Reservation.stream``): the
  stream's first event says the service admitted it (``on_admitted``), a round trip after it
  went, where a Converse answer would say so only a call later, and the requests held behind
  the trial wait that long only (sliding minute, 5× burndown, 200 calls on the fake clock of
  tests/llm/test_known_limiter.py: 1.52× the bound when the lesson waited for the answer,
  1.02× with the admission). A fixed minute admits everything the sliding rule admits and may
  admit what only the bucket admits (a new wall-clock minute began), so such an answer teaches
  nothing; a fixed minute is found as "not a bucket" and then held with the sliding rule,
  which holds under it wherever its boundaries lie;
- once an answer has been charged more than it reserved, the bucket (in debt) and the sliding
  rule disagree both ways, and what only the bucket admits could keep a fixed-minute service
  on the bucket's slower schedule: until the minute is learnt, only the sliding rule's yes is
  used (trials of the bucket are then those it refuses);
- no trial goes out before the first answer while requests are in flight: extras may have
  landed that the client cannot know of yet, and a 429 then would teach the wrong minute;
- a 429 for a request the learnt rule admitted and the other would have refused means the
  lesson was wrong: the other minute is taken (after ``MAX_SWITCHES`` changes it holds under
  both at once, as ``minute="all"`` does). Any other 429 keeps its charge for a window (a
  bucket: until refilled): the service counted more than the client knew.

Learning costs the quota nothing (a refused request is retried, nothing is lost): at most one
429 per lesson. ``minute="bucket"``, ``"sliding"`` or ``"all"`` fixes the rule. ``margin_s``
is added to every expiry: the server counts a request a little after the client sent it.

Reservations are scheduled first come, first served: ``reserve`` computes when this one fits
after every one before it (the lock is held only for that arithmetic) and puts it in the log
at that time. When its wait is over, ``acquire`` checks it still fits (an extra, a 429 or a
lesson may have come meanwhile); if not, it is planned again first in the queue (it keeps its
place) rather than behind everything planned since.

The input estimate learns from the answers: if the service counted more input tokens than
estimated, later estimates are scaled up by the largest ratio seen (at most 2×).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from report_lib.errors import ConfigError, WaitPastDeadline
from report_lib.llm.quota import burndown_rate, charged_tokens
from report_lib.llm.settings import BackendSettings

MINUTE_GUESSES: tuple[str, ...] = ("bucket", "sliding")
# ``minute=``: the quota minutes a reservation may go on (any one of them admits it); "all":
# every one must admit it (held under both at once: what AdaptiveRateLimiter does)
MINUTE_RULES: dict[str, tuple[str, ...]] = {
    "learn": MINUTE_GUESSES, "bucket": ("bucket",), "sliding": ("sliding",), "all": ()}
EXPECTED_AFTER = 0.9  # an extra is expected from 0.9 x the shortest call after its request
MAX_SWITCHES = 3
REFUSE_MARGIN = 0.05  # a bucket surely refuses what it is this share of the quota short of


@dataclass
class _Entry:
    at: float
    amount: float
    expected: bool = False  # an extra expected from a request in flight, not yet settled


class _Log:
    """Charges of one quota in the order they are (to be) sent; at most ``capacity`` in any
    ``window_s`` (+ margin)."""

    def __init__(self, capacity: float, window_s: float) -> None:
        if not capacity > 0:
            raise ConfigError(
                f"a rate limit must be positive, got {capacity}; use None for no limit"
            )
        self.capacity = float(capacity)
        self.window_s = window_s
        self.entries: list[_Entry] = []

    # An entry counts until entry.at + window_s + margin_s, computed the same way everywhere
    # (``earliest`` returns that sum): ``at - window`` rounds differently and would keep an
    # entry counted at the very time ``earliest`` said it had left.
    def prune(self, now: float, margin_s: float) -> None:
        drop = 0
        while drop < len(self.entries) and \
                self.entries[drop].at + self.window_s + margin_s <= now:
            drop += 1
        if drop:
            del self.entries[:drop]

    def used(self, at: float, margin_s: float, skip: _Entry | None = None) -> float:
        """Charged in the ``window_s`` (+ margin) up to ``at``, ``skip`` left out."""
        return sum(e.amount for e in self.entries
                   if e.at <= at < e.at + self.window_s + margin_s and e is not skip)

    def earliest(self, amount: float, now: float, margin_s: float) -> float:
        """When ``amount`` fits, after every entry already in the log."""
        start = max([now, *[e.at for e in self.entries if not e.expected][-1:]])
        # an expected extra counts from when it may land; one still ahead of ``start`` is left
        # to the check at the end of the wait (``RateLimiter._still_fits``)
        counted = [e for e in self.entries
                   if e.at + self.window_s + margin_s > start and e.at <= start]
        total = sum(e.amount for e in counted)
        need = min(amount, self.capacity)  # larger than the quota: it goes into an empty window
        if total + need <= self.capacity + 1e-9:
            return start
        for entry in counted:
            total -= entry.amount
            if total + need <= self.capacity + 1e-9:
                return max(start, entry.at + self.window_s + margin_s)
        return start  # pragma: no cover - the loop empties the window

    def add(self, at: float, amount: float, expected: bool = False) -> _Entry:
        entry = _Entry(at, float(amount), expected)
        bisect.insort(self.entries, entry, key=lambda e: e.at)
        return entry

    def remove(self, entry: _Entry) -> None:
        for i, e in enumerate(self.entries):
            if e is entry:
                del self.entries[i]
                return

    def move(self, entry: _Entry, at: float) -> None:
        self.remove(entry)
        entry.at = at
        bisect.insort(self.entries, entry, key=lambda e: e.at)


class _Bucket:
    """The quota as a bucket refilled continuously: a settled extra puts it in debt, which a
    sliding log forgets after a window but a bucket server remembers until it is refilled."""

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        self.capacity = float(capacity)
        self.window_s = window_s
        self.level = self.capacity
        self.stamp = now

    @property
    def rate(self) -> float:
        return self.capacity / self.window_s

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def ready_at(self, amount: float, now: float, margin_s: float) -> float:
        """When ``amount`` is in the bucket (everything taken before it counted)."""
        self.refill(now)
        need = min(amount, self.capacity)
        return now + max(0.0, (need - self.level) / self.rate + (margin_s if need > self.level
                                                                 else 0.0))


@dataclass
class Reservation:
    """Quota reserved for one request; ``settle`` corrects it with the real usage."""

    limiter: RateLimiter | None
    tokens: int
    wait_s: float = 0.0
    settled: bool = False
    input_estimate: int = 0
    send_at: float = 0.0  # when it may be sent (clock of the limiter)
    entries: list[tuple[_Log, _Entry]] = field(default_factory=list)
    bucket_tokens: float = 0.0  # taken from the limiter's bucket
    in_base: bool = False  # out when a 429 emptied the bucket: not taken, never given back
    waiting: bool = False
    admitted_by: tuple[str, ...] = ()  # the quota minutes that let it go (MINUTE_GUESSES)
    expected_extra: _Entry | None = None  # its extra, expected before the answer comes
    bucket_refuses: bool = False  # a bucket would have refused it (RateLimiter._still_fits)
    seq: int = 0  # its place in the queue among reservations planned for the same time
    sent_at: float = 0.0
    held: bool = False  # fits, but held back until the trial in flight is answered
    stream: bool = False  # sent as ConverseStream: its first event says the service admitted it

    def admitted(self) -> None:
        """The service has admitted the request (a stream's first event arrived)."""
        if self.limiter is not None and not self.settled:
            self.limiter.on_admitted(self)

    def settle(self, input_tokens: int, output_tokens: int = 0,
               latency_s: float | None = None) -> None:
        """Correct the reservation with the usage Bedrock reported for the answer
        (``latency_s``: the service's own time for it, metrics.latencyMs)."""
        if self.settled or self.limiter is None:
            self.settled = True
            return
        self.settled = True
        self.limiter.on_success(self, int(input_tokens), int(output_tokens), latency_s)

    def fail(self, throttled: bool, message: str = "") -> None:
        """The request failed; ``throttled`` when the service refused it (quota full)."""
        if self.settled or self.limiter is None:
            self.settled = True
            return
        self.settled = True
        self.limiter.on_failure(self, throttled, message)


@dataclass
class LimiterTotals:
    """What the limiter reserved and what the answers used, for the run summary."""

    requests: int = 0
    reserved_tokens: int = 0
    charged_tokens: int = 0
    max_output_tokens: int = 0
    waited_s: float = 0.0
    throttled: int = 0
    minute: str = ""  # the quota minute the limiter holds to ("bucket or sliding", ...)


class RateLimiter:
    """Tokens/requests per minute, charged as Bedrock charges them; thread-safe and asyncio-
    friendly. ``tpm``/``rpm`` are the Service Quotas values, unchanged."""

    def __init__(
        self,
        tpm: int | None = None,
        rpm: int | None = None,
        window_s: float = 60.0,
        *,
        burndown: float = 1.0,
        expected_output_tokens: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin_s: float = 0.05,
        minute: str = "learn",
    ) -> None:
        if minute not in MINUTE_RULES:
            raise ConfigError(f"minute must be one of {', '.join(MINUTE_RULES)}, got {minute!r}")
        if window_s <= 0:
            raise ConfigError(f"window_s must be positive, got {window_s}")
        if margin_s < 0:
            raise ConfigError(f"margin_s must be >= 0, got {margin_s}")
        if not burndown >= 1:
            raise ConfigError(f"burndown must be >= 1, got {burndown}")
        self.margin_s = margin_s
        self.window_s = window_s
        self.burndown = float(burndown)
        self.expected_output = max(0, int(expected_output_tokens))
        self._clock = clock
        self._sleep = sleep
        self._asleep = asleep
        self._lock = threading.Lock()
        self._tokens = _Log(tpm, window_s) if tpm is not None else None
        self._requests = _Log(rpm, window_s) if rpm is not None else None
        self._bucket = _Bucket(tpm, window_s, clock()) if tpm is not None else None
        # The quota minutes the service may be counting: a reservation goes when any of them
        # admits it, and a 429 for one that only one of them admitted rules that one out.
        # Empty: hold under both at once (AdaptiveRateLimiter, whose rate is only an estimate).
        self.minute_guess: tuple[str, ...] = MINUTE_RULES[minute] if tpm is not None else ()
        self._extra_seen = False  # an answer was charged more than it reserved
        self._min_latency: float | None = None  # the shortest call the service reported
        self._trial: Reservation | None = None  # sent on one guessed minute's word only
        self._seq = 0
        self._learning = tpm is not None and minute == "learn"
        self._switches = 0  # changes of minute_guess; at MAX_SWITCHES it holds under both
        self._unexpected: list[Reservation] = []  # sent with no extra expected yet
        self._waiting: list[Reservation] = []  # scheduled, not yet sent
        self.input_ratio = 1.0
        self.reserve_expected = False
        self.poll_s = window_s / 120  # how often a waiting request looks for an earlier slot
        self.totals = LimiterTotals()

    @property
    def tpm(self) -> int | None:
        return None if self._tokens is None else int(self._tokens.capacity)

    @property
    def rpm(self) -> int | None:
        return None if self._requests is None else int(self._requests.capacity)

    @property
    def enabled(self) -> bool:
        return self._tokens is not None or self._requests is not None

    def available_tokens(self) -> float | None:
        """Quota left in the window now, counting reservations still waiting (negative when
        they are queued past it); None without a tpm."""
        if self._tokens is None:
            return None
        with self._lock:
            horizon = self._clock() - self.window_s - self.margin_s
            used = sum(e.amount for e in self._tokens.entries if e.at > horizon)
            return self._tokens.capacity - used

    def reservation_tokens(self, tokens: int, input_estimate: int = 0) -> int:
        """What a request of ``tokens`` (input estimate + max_tokens) reserves: scaled by what
        the input estimates have missed, and at least the charge of the largest answer seen
        (so that fewer extras arrive after the request was sent)."""
        tokens = max(0, int(tokens))
        extra_input = math.ceil(input_estimate * (self.input_ratio - 1.0))
        expected = charged_tokens(input_estimate, self.expected_output, self.burndown) \
            if input_estimate and self.reserve_expected else 0
        return max(tokens + extra_input, expected + extra_input)

    def reserve(self, tokens: int, input_estimate: int = 0) -> Reservation:
        """Put the request in the log at the earliest time it fits; the Reservation says how
        long to wait first."""
        with self._lock:
            now = self._clock()
            amount = self.reservation_tokens(tokens, input_estimate) if self._tokens else tokens
            logs = [(log, a) for log, a in ((self._tokens, amount), (self._requests, 1))
                    if log is not None]
            at = self._ready_at(amount, 1, now)
            reservation = Reservation(self, amount, max(0.0, at - now),
                                      input_estimate=input_estimate, send_at=at)
            self._seq += 1
            reservation.seq = self._seq
            reservation.entries = [(log, log.add(at, a)) for log, a in logs]
            if self._bucket is not None and self._tokens is not None:
                self._bucket.level -= amount
                reservation.bucket_tokens = amount
            if reservation.wait_s > 0:
                reservation.waiting = True
                self._waiting.append(reservation)
            self.totals.requests += 1
            self.totals.reserved_tokens += amount
        return reservation

    def _still_fits(self, reservation: Reservation) -> bool:
        """At the end of its wait: does it fit now (an extra or a lower rate may have come)?"""
        with self._lock:
            now = self._clock()
            fits = dict.fromkeys(MINUTE_GUESSES, True)
            mine = (reservation.send_at, reservation.seq)
            # reservations behind this one in the queue, planned for the same time, do not
            # count against it (known limiter; AdaptiveRateLimiter counts them, as it did)
            behind = [r for r in self._waiting if r is not reservation
                      and (r.send_at, r.seq) > mine] if self.minute_guess else []
            for log, entry in reservation.entries:
                ahead = sum(e.amount for r in behind for lg, e in r.entries
                            if lg is log and e.at <= now)
                if log.used(now, self.margin_s, skip=entry) - ahead + entry.amount \
                        > log.capacity + 1e-9 and entry.amount <= log.capacity:
                    if log is not self._tokens:  # requests: a sliding log in every model
                        return False
                    fits["sliding"] = False
            if self._bucket is not None and reservation.bucket_tokens:
                self._bucket.refill(now)
                later = sum(r.bucket_tokens for r in self._waiting
                            if r is not reservation and (r.send_at, r.seq) > mine)
                later += self._expected_after(now)  # in the bucket already, due later
                if self._bucket.level + later < -1e-9 and \
                        reservation.bucket_tokens <= self._bucket.capacity:
                    fits["bucket"] = False
                    # a bucket surely refuses it: even were it first in the queue, and were
                    # none of the extras only expected so far charged yet
                    waiting = sum(r.bucket_tokens for r in self._waiting if r is not reservation)
                    # by a clear margin (REFUSE_MARGIN of the quota): estimates of the input
                    # tokens in flight may be high
                    reservation.bucket_refuses = self._bucket.level + waiting + \
                        self._expected_after(-math.inf) < -REFUSE_MARGIN * self._bucket.capacity
            usable = self._usable_minutes()
            if not (any(fits[m] for m in usable) if usable else all(fits.values())):
                return False
            admitted_by = tuple(m for m in MINUTE_GUESSES if fits[m])
            if len(self.minute_guess) > 1 and len(admitted_by) == 1:
                if self._trial is not None or (  # one request on one minute's word at a time
                        self._min_latency is None and any(not r.settled
                                                          for r in self._unexpected)):
                    # (and none before the first answer: extras may have landed unheard of)
                    reservation.held = True  # its plan stands: it waits, without re-planning
                    return False
                self._trial = reservation
                reservation.stream = True  # its admission comes back in a round trip
            reservation.admitted_by = admitted_by
            reservation.sent_at = now
            for log, entry in reservation.entries:
                log.move(entry, max(now, entry.at))
            self._mark_sent(reservation)
            self._expect_extra(reservation, now)
            if self.minute_guess and reservation.expected_extra is None:
                self._unexpected.append(reservation)  # sent before a call's length was known
            return True

    def _expect_late_extras(self) -> None:
        """The first answer tells a call's length: book the extras of the requests sent
        before it, from when they may land. Lock held."""
        pending, self._unexpected = self._unexpected, []
        for r in pending:
            if not r.settled:
                self._expect_extra(r, r.sent_at)

    def _expect_extra(self, reservation: Reservation, now: float) -> None:
        """Book the extra a request just sent is expected to be charged (its expected charge
        above its reservation) from when its answer may come (the shortest call seen, less
        the margin): the service books it then, the client only learns of it a round trip
        later. Known limiter only, once a call's length has been seen. Lock held."""
        if not self.minute_guess or self._min_latency is None or self._tokens is None \
                or not reservation.input_estimate:
            return
        tokens = [e for log, e in reservation.entries if log is self._tokens]
        if not tokens:
            return
        estimate = math.ceil(reservation.input_estimate * self.input_ratio)
        extra = charged_tokens(estimate, self.expected_output, self.burndown) - tokens[0].amount
        if extra <= 0:
            return
        at = now + EXPECTED_AFTER * self._min_latency
        reservation.expected_extra = self._tokens.add(at, extra, expected=True)
        if self._bucket is not None:
            self._bucket.refill(now)
            self._bucket.level -= extra

    def _expected_after(self, now: float) -> float:
        """Extras expected (``_expect_extra``) that are not due yet at ``now``."""
        if self._tokens is None:
            return 0.0
        return sum(e.amount for e in self._tokens.entries if e.expected and e.at > now)

    def _forget_expected(self, reservation: Reservation) -> None:
        """Take back the extra booked by ``_expect_extra`` (the answer or a 429 came)."""
        entry, reservation.expected_extra = reservation.expected_extra, None
        if entry is None or self._tokens is None:
            return
        self._tokens.remove(entry)
        if self._bucket is not None:
            self._bucket.refill(self._clock())
            self._bucket.level = min(self._bucket.capacity, self._bucket.level + entry.amount)

    def _usable_minutes(self) -> tuple[str, ...]:
        """The quota minutes whose yes is enough to send (none: every one must say yes).
        Once an answer was charged more than it reserved, a bucket in debt and a sliding
        minute disagree both ways, and a fixed minute takes what either admits: sending what
        only the bucket admits could then keep the limiter on the bucket's slower schedule
        under a fixed minute, so only the sliding minute's yes is used until one is learnt."""
        if len(self.minute_guess) > 1 and self._extra_seen:
            return ("sliding",)
        return self.minute_guess

    def _reschedule(self, now: float) -> None:
        """Quota given back (a refund, a refused request) may let waiting reservations go
        sooner: schedule them again, in their order, from what the log holds now. Call with
        the lock held."""
        if not self._waiting:
            return
        waiting = sorted(self._waiting, key=lambda r: (r.send_at, r.seq))
        for r in waiting:
            for log, entry in r.entries:
                log.remove(entry)
            if self._bucket is not None and r.bucket_tokens:
                self._bucket.level = min(self._bucket.capacity,
                                         self._bucket.level + r.bucket_tokens)
        for r in waiting:
            amounts = {id(log): entry.amount for log, entry in r.entries}
            at = self._ready_at(amounts.get(id(self._tokens)), amounts.get(id(self._requests)),
                                now, r.bucket_tokens)
            if self._bucket is not None and r.bucket_tokens:
                self._bucket.level -= r.bucket_tokens
            for log, entry in r.entries:
                entry.at = at
                bisect.insort(log.entries, entry, key=lambda e: e.at)
            r.send_at = at

    def _ready_at(self, tokens: float | None, requests: float | None, now: float,
                  bucket_tokens: float | None = None) -> float:
        """When a request of ``tokens`` (and ``requests``) fits after every one already
        scheduled: the requests log must admit it, and so must the quota minutes in
        ``minute_guess`` (any one of them; all when it is empty). Call with the lock held."""
        at = now
        if requests is not None and self._requests is not None:
            self._requests.prune(now, self.margin_s)
            at = max(at, self._requests.earliest(requests, now, self.margin_s))
        if tokens is None or self._tokens is None:
            return at
        self._tokens.prune(now, self.margin_s)
        times = {"sliding": self._tokens.earliest(tokens, now, self.margin_s)}
        bucket = tokens if bucket_tokens is None else bucket_tokens
        if self._bucket is not None and bucket:
            times["bucket"] = self._bucket.ready_at(bucket, now, self.margin_s)
        usable = self._usable_minutes()
        chosen = [t for m, t in times.items() if m in usable]
        return max(at, min(chosen) if chosen else max(times.values()))

    def _learn_minute(self, reservation: Reservation, refused: bool) -> None:
        """What the answer to a request only one quota minute admitted says (module
        docstring, "Which minute"). Call with the lock held."""
        if self._trial is reservation:
            self._trial = None
        guess, alone = self.minute_guess, reservation.admitted_by
        if not self._learning or len(alone) != 1:
            return
        if len(guess) == 1 and refused and alone == guess and \
                (alone == ("bucket",) or reservation.bucket_refuses):
            # what was learnt is wrong: the other minute would have refused it
            self._switches += 1
            other = tuple(m for m in MINUTE_GUESSES if m not in guess)
            self.minute_guess = other if self._switches < MAX_SWITCHES else ()
        elif len(guess) < 2:
            return
        elif refused:  # the service does not count that way
            self._switches += 1
            self.minute_guess = tuple(m for m in guess if m not in alone)
        elif alone == ("sliding",) and reservation.bucket_refuses:
            self._switches += 1
            self.minute_guess = ("sliding",)  # a bucket would have refused it
        else:  # a bucket or a fixed minute took it: nothing learnt
            return
        self.totals.minute = self.minute_guess[0] if self.minute_guess else "all"
        self._reschedule(self._clock())

    def _mark_sent(self, reservation: Reservation) -> None:
        if reservation.waiting:
            reservation.waiting = False
            self._waiting = [r for r in self._waiting if r is not reservation]

    def _drop(self, reservation: Reservation) -> None:
        with self._lock:
            for log, entry in reservation.entries:
                log.remove(entry)
            self._give_back(reservation)
            self._mark_sent(reservation)
            self._forget_expected(reservation)
            if self._trial is reservation:
                self._trial = None
            self.totals.reserved_tokens -= reservation.tokens
            self.totals.requests -= 1
        reservation.entries = []
        reservation.settled = True

    def acquire(self, tokens: int, max_wait_s: float | None = None,
                input_estimate: int = 0) -> Reservation:
        """Block the calling thread until the request may be sent.

        ``max_wait_s`` (the seconds left before the call's deadline) bounds the wait: a longer
        one gives the reservation back and raises errors.WaitPastDeadline without waiting.
        """
        started = self._clock()
        while True:
            reservation = self.reserve(tokens, input_estimate)
            while True:
                while (wait := reservation.send_at - self._clock()) > 0:
                    left = None if max_wait_s is None else \
                        max_wait_s - (self._clock() - started)
                    if left is not None and wait > left:
                        self._drop(reservation)
                        raise WaitPastDeadline(wait, max(0.0, left))
                    self._sleep(min(wait, self.poll_s))  # a refund may move it sooner
                if not self.enabled or self._still_fits(reservation):
                    self.totals.waited_s += self._clock() - started
                    return reservation
                if not self._keep_place(reservation):
                    break
                retry = self._retry_s(reservation)
                left = None if max_wait_s is None else max_wait_s - (self._clock() - started)
                if left is not None and retry > left:
                    self._drop(reservation)
                    raise WaitPastDeadline(retry, max(0.0, left))
                self._sleep(retry)
            self._drop(reservation)

    async def aacquire(self, tokens: int, input_estimate: int = 0) -> Reservation:
        """Wait (without blocking the event loop) until the request may be sent."""
        started = self._clock()
        while True:
            reservation = self.reserve(tokens, input_estimate)
            try:
                while True:
                    while (wait := reservation.send_at - self._clock()) > 0:
                        await self._asleep(min(wait, self.poll_s))  # a refund may move it
                    if not self.enabled or self._still_fits(reservation):
                        self.totals.waited_s += self._clock() - started
                        return reservation
                    if not self._keep_place(reservation):
                        break
                    await self._asleep(self._retry_s(reservation))
            except BaseException:  # cancelled (deadline, Ctrl-C): give the place back
                self._drop(reservation)
                raise
            self._drop(reservation)

    def _keep_place(self, reservation: Reservation) -> bool:
        """A reservation that did not fit at the end of its wait (an extra came meanwhile):
        the known limiter plans it again, first in the queue (it keeps its place; dropping
        it would put it behind every reservation planned since); False: drop it and reserve
        again (AdaptiveRateLimiter)."""
        if not self.minute_guess:
            return False
        with self._lock:
            if not reservation.waiting:
                reservation.waiting = True
                self._waiting.append(reservation)
            if reservation.held:
                reservation.held = False
            else:
                self._reschedule(self._clock())
        return True

    def _retry_s(self, reservation: Reservation) -> float:
        """How long to wait before looking again: until its new time, and never less than a
        twentieth of ``poll_s``, so that a plan and a check that disagree cannot spin."""
        least = self.poll_s / (5 if self._trial is not None else 20)  # a trial takes a call
        return max(reservation.send_at - self._clock(), least)

    def _give_back(self, reservation: Reservation) -> None:
        if reservation.in_base:  # the emptied bucket never counted it
            reservation.bucket_tokens = 0.0
        if self._bucket is not None and reservation.bucket_tokens:
            self._bucket.refill(self._clock())
            self._bucket.level = min(self._bucket.capacity,
                                     self._bucket.level + reservation.bucket_tokens)
            reservation.bucket_tokens = 0.0

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation that will not be sent (its tokens and its request)."""
        self._drop(reservation)

    def on_success(self, reservation: Reservation, input_tokens: int,
                   output_tokens: int, latency_s: float | None = None) -> None:
        """A request was answered: settle its charge to what it used.

        Its reservation is moved to when the service counted it, which is later than when it
        was scheduled (signing, sending, a busy interpreter): the answer's arrival minus the
        service's own latency, or the arrival itself when the service does not say.
        """
        charge = charged_tokens(input_tokens, output_tokens, self.burndown)
        with self._lock:
            now = self._clock()
            counted = now - (latency_s or 0.0)
            refunded = False
            self._forget_expected(reservation)
            took = latency_s if latency_s is not None else now - reservation.send_at
            first = self._min_latency is None
            self._min_latency = took if self._min_latency is None \
                else min(self._min_latency, took)
            if first:
                self._expect_late_extras()
            guess, extra_seen = self.minute_guess, self._extra_seen
            self._learn_minute(reservation, refused=False)
            for log, entry in reservation.entries:
                if counted > entry.at:
                    log.move(entry, counted)
            if reservation.input_estimate and input_tokens > reservation.input_estimate:
                ratio = input_tokens / reservation.input_estimate
                self.input_ratio = max(self.input_ratio, min(2.0, ratio))
            self.expected_output = max(self.expected_output, output_tokens)
            self.totals.charged_tokens += charge
            self.totals.max_output_tokens = max(self.totals.max_output_tokens, output_tokens)
            for log, entry in reservation.entries:
                if log is not self._tokens:
                    continue
                if charge < entry.amount:  # a refund, where it was charged
                    entry.amount = charge
                    refunded = True
                elif charge > entry.amount:  # an extra, counted from now
                    log.add(now, charge - entry.amount)
                    self._extra_seen = True
            if self._bucket is not None and reservation.bucket_tokens:
                self._bucket.refill(now)
                self._bucket.level = min(self._bucket.capacity, self._bucket.level +
                                         reservation.bucket_tokens - charge)
                refunded = refunded or charge < reservation.bucket_tokens
                reservation.bucket_tokens = 0.0
            if refunded or (guess, extra_seen) != (self.minute_guess, self._extra_seen):
                self._reschedule(now)  # quota given back, or another rule for the minute

    def on_admitted(self, reservation: Reservation) -> None:
        """The service admitted ``reservation`` before answering it (a streamed trial's first
        event): what the trial had to say about the quota minute is known a round trip after
        it went, not a call later, so the requests held behind it go at once."""
        with self._lock:
            if self._trial is reservation:
                self._learn_minute(reservation, refused=False)
                self._reschedule(self._clock())

    def on_failure(self, reservation: Reservation, throttled: bool, message: str = "") -> None:
        """A refused request used no quota: its place is given back. Any other failure keeps
        its reservation (the service may have counted it)."""
        if self._trial is reservation:
            with self._lock:
                self._trial = None if not throttled else self._trial
        if throttled:
            with self._lock:
                self.totals.throttled += 1
                self._forget_expected(reservation)
                guess = self.minute_guess
                if not _message_names_requests(message):
                    self._learn_minute(reservation, refused=True)
                if guess and guess == self.minute_guess:
                    # refused where the rule it went on said it fits: the service counted
                    # more than the client knew (an answer not read yet, a high estimate);
                    # its charge is kept for a minute (a bucket: until refilled) to cover that
                    self._reschedule(self._clock())
                    return
                for log, entry in reservation.entries:
                    log.remove(entry)
                self._give_back(reservation)
                self._reschedule(self._clock())


def _message_names_requests(message: str) -> bool:
    return "requests" in message.lower()


class AdaptiveRateLimiter(RateLimiter):
    """``--tpm-limit auto``: a quota found without being told.

    The algorithm, and why:

    1. **Discovery.** With nothing known, requests go out on a geometric ramp: the first
       ``ramp_burst`` at once, then the send rate doubles every ``ramp_s`` (window / 1,200:
       50 ms for a real minute), so request k leaves ``ramp_s × log2(1 + k / ramp_burst)``
       after the first. A throttled request is answered at once, so the first 429 arrives after
       the requests of one round trip too many — few while the rate is still low, and a quota
       is usually met early in the ramp. A run that never meets a quota waits only the ramp's
       logarithm: 200 requests leave within 5.7 × ``ramp_s`` (0.3 s for a real minute).
    2. **First 429.** The service has just refused, so what it accepted from us over the
       trailing window is its quota: the rate R becomes the tokens (or, when Bedrock's message
       says "requests", the requests) of the requests sent before the refused one in the last
       window, corrected for a bucket's refill (``/ (1 + elapsed / window)`` when the first
       request was sent less than a window ago). From then on R is enforced like a known
       quota, over a sliding window, which holds under bucket, sliding and fixed minutes
       (against a bucket, which refills continuously, in bursts a window apart: 1.34× the
       best makespan at N = 40, time scale 0.2; learning the minute as ``RateLimiter`` does
       took 1.02× there but lost a report on the fake clock, so it is not done).
       If nothing of ours was accepted, the quota is being spent by someone else (or just
       was): no rate can be told from that, so discovery pauses for a window (a bucket
       refills, a minute forgets) and starts its ramp again, with the requests it had planned.
    3. **One decrease per congestion event.** A 429 for a request sent before the last change
       of R says nothing new (it was sent under the old rate) and is ignored. A new one sets
       R to max(``decrease`` × R, the tokens accepted over the trailing window): the service
       has just proved it takes what it accepted, so R never falls below that. This is what
       stops the collapse of a plain AIMD, where every 429 of a full minute multiplied the
       rate down again.
    4. **Probing upward.** After ``probe_after`` windows with no 429 during which requests had
       to wait for R, R grows by ``increase`` × R; a quota that was raised is found again this
       way. Probing is slow on purpose: against a bucket, a rate above the quota is refused
       as soon as the bucket's debt catches up, so an eager probe costs a burst of 429s.

    One instance is shared by the threads or tasks of a run; process and dask workers each
    find their own share.
    """

    def __init__(
        self,
        window_s: float = 60.0,
        *,
        rpm: int | None = None,
        burndown: float = 1.0,
        expected_output_tokens: int = 0,
        decrease: float = 0.85,
        increase: float = 0.03,
        probe_after: float = 2.0,
        ramp_s: float | None = None,
        ramp_burst: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin_s: float = 0.05,
    ) -> None:
        super().__init__(None, rpm, window_s, burndown=burndown,
                         expected_output_tokens=expected_output_tokens, clock=clock,
                         sleep=sleep, asleep=asleep, margin_s=margin_s)
        # the send rate doubles every ramp_s: 50 ms for a real minute (5 ms for an emulator
        # at time_scale 0.1), longer than a 429 takes to come back from a nearby endpoint
        ramp_s = window_s / 1_200 if ramp_s is None else ramp_s
        if not 0 < decrease < 1 or increase < 0 or ramp_s < 0 or ramp_burst < 1:
            raise ConfigError(f"decrease must be in (0, 1), increase and ramp_s >= 0, "
                              f"ramp_burst >= 1, got {decrease}, {increase}, {ramp_s}, "
                              f"{ramp_burst}")
        self.decrease, self.increase = decrease, increase
        self.ramp_s, self.ramp_burst = ramp_s, ramp_burst
        self._discovered = 0  # requests sent before the first 429
        self.probe_after = probe_after
        self.rpm_given = rpm is not None
        self.found = False  # True once a 429 has told the quota
        self.throttles = 0
        self.events = 0
        self._sent: list[tuple[float, int, Reservation]] = []  # (sent at, tokens, r), a window
        self._first: float | None = None
        self._changed = -math.inf  # when R last changed
        self._cutoff = -math.inf  # requests sent before this were counted in R as accepted
        self._paused_at = -math.inf  # when discovery last paused (nothing accepted, a 429)
        self._waited_since_change = False

    @property
    def enabled(self) -> bool:
        return True

    @property
    def rate_tpw(self) -> float | None:
        """The current token rate per window (None until found)."""
        return None if self._tokens is None else self._tokens.capacity

    def reserve(self, tokens: int, input_estimate: int = 0) -> Reservation:
        with self._lock:
            now = self._clock()
            if self._first is None:
                self._first = now
            self._probe(now)
            if not self.found and self._requests is None:  # discovery: a geometric ramp
                at = self._ramp_at(now)
                self._discovered += 1
                amount = self.reservation_tokens(tokens, input_estimate)
                reservation = Reservation(self, amount, at - now, input_estimate=input_estimate,
                                          send_at=at)
                self.totals.requests += 1
                self.totals.reserved_tokens += amount
                self._record(reservation, at, now)
                return reservation
        reservation = super().reserve(tokens, input_estimate)
        with self._lock:
            if reservation.wait_s > 0:
                self._waited_since_change = True
            self._record(reservation, reservation.send_at, self._clock())
        return reservation

    def _record(self, reservation: Reservation, at: float, now: float) -> None:
        self._sent.append((at, reservation.tokens, reservation))
        horizon = now - self.window_s - self.margin_s
        while self._sent and self._sent[0][0] <= horizon:
            self._sent.pop(0)

    def _drop(self, reservation: Reservation) -> None:
        with self._lock:
            self._sent = [s for s in self._sent if s[2] is not reservation]
        super()._drop(reservation)

    def _accepted(self, before: float, now: float) -> tuple[float, int]:
        """(tokens, requests) sent in the trailing window before ``before`` and not refused."""
        horizon = now - self.window_s - self.margin_s
        chosen = [(t, r) for at, t, r in self._sent if horizon < at < before]
        return sum(t for t, _ in chosen), len(chosen)

    def _set_tokens(self, rate: float) -> None:
        rate = max(1.0, rate)
        if self._tokens is None:
            self._bucket = _Bucket(rate, self.window_s, self._clock())
            self._bucket.level = 0.0  # the service has just said it is empty
            self._tokens = _Log(rate, self.window_s)
            for at, tokens, r in self._sent:  # what is already out counts against it
                r.entries.append((self._tokens, self._tokens.add(at, tokens)))
                if not r.settled:  # in the empty bucket already; settles like the others
                    r.bucket_tokens, r.in_base = tokens, True
        else:
            self._tokens.capacity = rate
            if self._bucket is not None:
                self._bucket.refill(self._clock())
                self._bucket.capacity = rate
                self._bucket.level = min(self._bucket.level, 0.0)

    def _set_requests(self, rate: float) -> None:
        rate = max(1.0, float(math.floor(rate)))
        if self._requests is None:
            self._requests = _Log(rate, self.window_s)
            for at, _, r in self._sent:
                r.entries.append((self._requests, self._requests.add(at, 1)))
        else:
            self._requests.capacity = rate

    def _probe(self, now: float) -> None:
        """After a clean window in which requests had to wait, raise R by ``increase``."""
        if not self.found or now - self._changed < self.probe_after * self.window_s:
            return
        if self._waited_since_change:
            if self._tokens is not None:
                self._tokens.capacity *= 1 + self.increase
                if self._bucket is not None:
                    self._bucket.capacity = self._tokens.capacity
            if self._requests is not None and not self.rpm_given:
                self._requests.capacity = math.floor(self._requests.capacity *
                                                     (1 + self.increase)) + 1
        self._changed = now
        self._waited_since_change = False

    def on_success(self, reservation: Reservation, input_tokens: int,
                   output_tokens: int, latency_s: float | None = None) -> None:
        super().on_success(reservation, input_tokens, output_tokens, latency_s)
        charge = charged_tokens(input_tokens, output_tokens, self.burndown)
        with self._lock:
            for i, (at, _, r) in enumerate(self._sent):
                if r is reservation:
                    self._sent[i] = (at, charge, r)
                    break

    def on_failure(self, reservation: Reservation, throttled: bool, message: str = "") -> None:
        super().on_failure(reservation, throttled, message)
        if not throttled:
            return
        with self._lock:
            self._sent = [s for s in self._sent if s[2] is not reservation]
            self.throttles += 1
            now = self._clock()
            if reservation.send_at < self._changed:  # sent under the old rate: not news,
                if reservation.send_at < self._cutoff:  # but counted as accepted: it was not
                    self._correct(reservation.tokens, by_requests=_message_names_requests(
                        message) and not self.rpm_given)
                return
            tokens, requests = self._accepted(reservation.send_at, now)
            if not self.found and requests == 0 and self._requests is None:
                if reservation.send_at >= self._paused_at:  # else: the same event
                    self._pause(now)
                return
            self.events += 1
            by_requests = _message_names_requests(message) and not self.rpm_given
            if not self.found:
                elapsed = max(0.0, now - (now if self._first is None else self._first))
                refill = 1 + min(elapsed, self.window_s) / self.window_s
                if by_requests:
                    self._set_requests(max(1, requests) / refill)
                else:
                    self._set_tokens(max(reservation.tokens, tokens / refill))
                self.found = True
            elif by_requests:
                current = self._requests.capacity if self._requests else requests
                self._set_requests(max(self.decrease * current, requests))
            else:
                current = self._tokens.capacity if self._tokens else tokens
                self._set_tokens(max(self.decrease * current, tokens, reservation.tokens))
            self._changed = now
            self._cutoff = reservation.send_at
            self._waited_since_change = False

    def _pause(self, now: float) -> None:
        """Nothing of ours was accepted before the first 429: start discovery again a window
        from now, with the requests planned on the ramp and not sent yet. Lock held."""
        self._paused_at = now
        self._first, self._discovered = now + self.window_s, 0
        planned = [s for s in self._sent if not s[2].sent_at and not s[2].settled]
        self._sent = [s for s in self._sent if s not in planned]
        for _, tokens, r in sorted(planned, key=lambda s: (s[2].send_at, s[2].seq)):
            r.send_at = self._ramp_at(now)
            self._discovered += 1
            self._sent.append((r.send_at, tokens, r))

    def _ramp_at(self, now: float) -> float:
        """When the next request on the discovery ramp goes (step 1)."""
        first = now if self._first is None else self._first
        return max(now, first + self.ramp_s * math.log2(1 + self._discovered / self.ramp_burst))

    def _correct(self, tokens: int, by_requests: bool) -> None:
        """A request counted as accepted when R was set was refused after all: take it out."""
        if by_requests and self._requests is not None:
            self._requests.capacity = max(1.0, self._requests.capacity - 1)
        elif self._tokens is not None:
            self._set_tokens(max(float(tokens), self._tokens.capacity - tokens))


def limiter_for(settings: BackendSettings) -> RateLimiter | None:
    """The limiter ``settings`` ask for: adaptive (``tpm_auto``), fixed (``tpm_limit`` /
    ``rpm_limit``), or None. Charges use the model's burndown rate (``settings.burndown``
    overrides it)."""
    burndown = burndown_rate(settings.model_id, settings.burndown)
    if settings.tpm_auto:
        return AdaptiveRateLimiter(settings.limiter_window_s, rpm=settings.rpm_limit,
                                   burndown=burndown,
                                   expected_output_tokens=settings.expected_output_tokens)
    if settings.tpm_limit is not None or settings.rpm_limit is not None:
        return RateLimiter(settings.tpm_limit, settings.rpm_limit, settings.limiter_window_s,
                           burndown=burndown)
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
