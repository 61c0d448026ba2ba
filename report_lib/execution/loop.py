"""An asyncio event loop running on its own daemon thread.

The asyncio strategy runs on one when the caller's thread cannot (a notebook cell, whose thread
already runs a loop), and ``generate_reports`` starts one ahead of a run, so the aiobotocore
client, which belongs to the loop it was opened on, is opened while the facts are computed
instead of inside the timed run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

_STOP_JOIN_S = 5.0  # how long close() waits for the loop's last callbacks
_INTERRUPTED_JOIN_S = 1.0  # ... after Ctrl-C, when the process is about to exit anyway


class LoopThread:
    """``with LoopThread() as lt: lt.submit(coro).result()``; the loop stops on close."""

    def __init__(self, name: str = "report-asyncio") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the loop; cancelling the future cancels its task."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result. Interrupted while waiting (Ctrl-C,
        SIGTERM), the task is cancelled and given ``_INTERRUPTED_JOIN_S`` to unwind (its
        ``finally`` blocks cancel and await their own tasks) before the interrupt goes on."""
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            concurrent.futures.wait([future], timeout=_INTERRUPTED_JOIN_S)
            raise

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def close(self, timeout: float = _STOP_JOIN_S) -> None:
        """Finish async generators, stop the loop, join its thread (at most ``timeout``)."""
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # as asyncio.run does: nothing left pending
                self.submit(_cancel_others()).result(timeout)
            with contextlib.suppress(Exception):
                self.submit(self.loop.shutdown_asyncgens()).result(timeout)
            with contextlib.suppress(Exception):  # the resolver threads aiohttp used
                self.submit(self.loop.shutdown_default_executor()).result(timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        if not self._thread.is_alive():  # a wedged loop is left to die with the process
            self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        self.close(_INTERRUPTED_JOIN_S if interrupted else _STOP_JOIN_S)


async def _cancel_others() -> None:
    """Cancel every task of the running loop but this one and wait for them to unwind: a task
    left pending when the loop closes is reported ("Task was destroyed but it is pending!") and
    its ``finally`` runs later, on a closed loop."""
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
