"""What the calls of this process are doing right now, for a progress line every few seconds.

The retry loops (sync and async) register each call in ``OUTSTANDING`` and update it when an
attempt starts, fails or waits. ``ProgressTicker`` (a context manager, used by the CLI and
available to any caller) calls ``emit(line)`` every ``interval_s`` seconds while at least one
call is outstanding, e.g.::

    2 calls outstanding: kpi attempt 3/8 waiting 1.4 s after ReadTimeout (12 s of 240 s);
    cpo attempt 1/8 calling for 8 s (8 s of 240 s)

Every retry and every deadline is also logged on the ``report_lib.llm`` logger (INFO/WARNING).
Calls made in other processes (process and dask strategies) are not seen here.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from report_lib.closing import Closing


@dataclass(frozen=True)
class CallState:
    """One outstanding call as the retry loop last described it."""

    label: str
    attempt: int
    max_attempts: int
    started: float  # time.monotonic() when the call began
    phase: str = "calling"  # "calling" or "waiting"
    phase_since: float = 0.0
    wait_s: float = 0.0
    last_error: str | None = None
    deadline_s: float | None = None

    def describe(self, now: float) -> str:
        head = f"{self.label} attempt {self.attempt}/{self.max_attempts}"
        if self.phase == "waiting":
            left = max(0.0, self.phase_since + self.wait_s - now)
            what = f"waiting {left:.1f} s after {self.last_error}"
        else:
            what = f"calling for {now - self.phase_since:.0f} s"
        budget = f" of {self.deadline_s:g} s" if self.deadline_s is not None else ""
        return f"{head} {what} ({now - self.started:.0f} s{budget})"


class Outstanding:
    """Thread-safe table of the calls in flight in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._calls: dict[int, CallState] = {}
        self._ids = itertools.count()

    def add(self, state: CallState) -> int:
        with self._lock:
            ident = next(self._ids)
            self._calls[ident] = state
        return ident

    def update(self, ident: int, **changes: object) -> None:
        with self._lock:
            state = self._calls.get(ident)
            if state is not None:
                self._calls[ident] = replace(state, **changes)  # type: ignore[arg-type]

    def remove(self, ident: int) -> None:
        with self._lock:
            self._calls.pop(ident, None)

    def snapshot(self) -> list[CallState]:
        with self._lock:
            return list(self._calls.values())

    def line(self) -> str | None:
        """One progress line, or None when nothing is outstanding."""
        calls = self.snapshot()
        if not calls:
            return None
        now = self.clock()
        shown = "; ".join(c.describe(now) for c in calls[:5])
        more = f"; and {len(calls) - 5} more" if len(calls) > 5 else ""
        plural = "s" if len(calls) != 1 else ""
        return f"{len(calls)} call{plural} outstanding: {shown}{more}"


OUTSTANDING = Outstanding()


class ProgressTicker(Closing):
    """Call ``emit(line)`` every ``interval_s`` seconds while there is something to say.

    ``describe`` makes the line (default ``OUTSTANDING.line``; None: nothing outstanding).
    """

    def __init__(
        self,
        emit: Callable[[str], None],
        interval_s: float = 5.0,
        describe: Callable[[], str | None] = OUTSTANDING.line,
    ) -> None:
        self.emit = emit
        self.interval_s = interval_s
        self.describe = describe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llm-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            line = self.describe()
            if line is not None:
                self.emit(line)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 1)
