"""SIGTERM handled like Ctrl-C, so a terminated run unwinds the same way an interrupted one does.

Python turns SIGINT into KeyboardInterrupt; SIGTERM's default is to die on the spot, leaving
worker processes, a dask cluster or the emulator behind and nothing written. Inside
``sigterm_as_interrupt()`` SIGTERM raises errors.RunInterrupted(signum=SIGTERM) instead: every
strategy stops its workers, the finished reports are kept, and the CLI exits 143 (128 + 15).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from report_lib.errors import RunInterrupted


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise RunInterrupted(f"terminated ({signal.Signals(signum).name})", signum=signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises RunInterrupted in the main thread (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def ignore_further_interrupts() -> None:
    """The process is exiting after an interrupt: a second Ctrl-C or SIGTERM while the
    interpreter shuts down (threads joined, dask's exit hooks run) is ignored, so the exit stays
    one line and 130/143 instead of a death by signal. Main thread only; for the command line,
    not for a library caller whose process goes on."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
