"""Backends behind one interface: ``offline`` (no network) and ``bedrock`` (boto3 Converse).

The ``emulator`` backend is the ``bedrock`` backend pointed at a local emulator process
(see report_lib.emulator); generate/bench start that process and set ``endpoint_url``.

A Backend turns a ReportJob into a CallOutcome or raises errors.BackendError.
Settings are a picklable dataclass so process/dask workers can rebuild the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from report_lib import config
from report_lib.cache import ResponseCache, cache_key
from report_lib.errors import BackendError
from report_lib.jobs import CallOutcome, ReportJob
from report_lib.limiter import RateLimiter
from report_lib.tokens import estimate_tokens

if TYPE_CHECKING:
    from report_lib.async_client import AsyncBedrock

TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class BackendSettings:
    """Everything needed to build a backend in any process. Never holds credentials."""

    backend: str = "offline"  # offline | bedrock | emulator
    model_id: str = config.DEFAULT_MODEL_ID
    region: str = config.DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    max_tokens: int = config.DEFAULT_MAX_TOKENS
    temperature: float = config.DEFAULT_TEMPERATURE
    system: str | None = None  # overrides the job's system prompt when set
    stream: bool = False
    cache_dir: str | None = None
    # retries / timeouts (botocore Config)
    retry_mode: str = "standard"  # legacy | standard | adaptive
    max_attempts: int = 8
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    backoff_base_s: float = 0.25  # our own jittered exponential backoff base
    backoff_max_s: float = 20.0
    # client-side limiter (None = off)
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    expected_output_tokens: int = 900  # limiter's reservation before usage is known
    limiter_window_s: float = 60.0  # the limiter's minute (60 x time_scale against the emulator)
    # price table override: {model_id or substring: (usd per 1M input, usd per 1M output)}
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def with_(self, **changes: object) -> BackendSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


class Backend(Protocol):
    """A way to answer one job. Implementations are safe to share between threads."""

    name: str

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    def close(self) -> None: ...


BACKENDS: tuple[str, ...] = ("offline", "emulator", "bedrock")


class OfflineBackend:
    """Writes each report deterministically from the facts embedded in the prompt; no network."""

    name = "offline"

    def __init__(self, settings: BackendSettings | None = None) -> None:
        self.settings = settings or BackendSettings()

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        from report_lib.offline_writer import write_report
        from report_lib.prompts import parse_facts, parse_language

        started = time.perf_counter()
        facts = parse_facts(job.prompt)
        if facts is None:
            raise BackendError(
                f"offline backend can only write reports from report_lib prompts: job "
                f"{job.key!r} has no <facts> block; build it with prompts.build_prompt or use "
                "--backend emulator/bedrock",
                error_type="NoFacts",
            )
        system = self.settings.system or job.system
        text = write_report(facts, parse_language(system + "\n" + job.prompt))
        outcome = CallOutcome(
            text=text,
            input_tokens=estimate_tokens(system) + estimate_tokens(job.prompt),
            output_tokens=estimate_tokens(text),
            attempts=1,
            stop_reason="end_turn",
        )
        if self.settings.stream:
            outcome.ttft_s = time.perf_counter() - started
            if on_text is not None:
                on_text(text)
        return outcome

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        return self.call(job, on_text)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> OfflineBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BedrockBackend:
    """Bedrock Runtime (or the emulator) via Converse/ConverseStream.

    One sync client is created here, before any worker thread starts, and shared by all threads;
    ``acall`` lazily opens one aiobotocore client per event loop (so it works in a script's
    ``asyncio.run`` and in a notebook's running loop alike). Optional response cache
    (``settings.cache_dir``) and client-side limiter (``settings.tpm_limit`` / ``rpm_limit``).
    Cost is not computed here: callers use report_lib.pricing.
    """

    name = "bedrock"

    def __init__(
        self,
        settings: BackendSettings,
        max_concurrency: int = 10,
        *,
        client: Any = None,
    ) -> None:
        from report_lib.bedrock_client import make_client

        self.settings = settings
        self.max_concurrency = max(1, int(max_concurrency))
        self.client: Any = client if client is not None else make_client(settings, max_concurrency)
        self.cache = ResponseCache(settings.cache_dir) if settings.cache_dir else None
        self.limiter: RateLimiter | None = None
        if settings.tpm_limit is not None or settings.rpm_limit is not None:
            self.limiter = RateLimiter(
                settings.tpm_limit, settings.rpm_limit, settings.limiter_window_s
            )
        self._lock = threading.Lock()
        # id(loop) -> (loop, client of that loop)
        self._async: dict[int, tuple[asyncio.AbstractEventLoop, AsyncBedrock]] = {}
        self._closing: set[asyncio.Future[Any]] = set()

    # -- cache -------------------------------------------------------------------------------
    def _cache_key(self, job: ReportJob) -> str | None:
        if self.cache is None:
            return None
        s = self.settings
        system = s.system or job.system
        return cache_key(s.model_id, system, job.prompt, s.max_tokens, s.temperature)

    def _cached(self, key: str | None, on_text: TextCallback | None) -> CallOutcome | None:
        if key is None or self.cache is None:
            return None
        hit = self.cache.get(key)
        if hit is not None and on_text is not None and self.settings.stream:
            on_text(hit.text)
        return hit

    def _store(self, key: str | None, outcome: CallOutcome) -> None:
        if key is not None and self.cache is not None:
            self.cache.put(key, outcome)

    # -- calls -------------------------------------------------------------------------------
    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        from report_lib.bedrock_client import converse

        key = self._cache_key(job)
        hit = self._cached(key, on_text)
        if hit is not None:
            return hit
        outcome = converse(self.client, job, self.settings, on_text=on_text, limiter=self.limiter)
        self._store(key, outcome)
        return outcome

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        key = self._cache_key(job)
        hit = self._cached(key, on_text)
        if hit is not None:
            return hit
        outcome = await self.async_client().converse(job, on_text=on_text)
        self._store(key, outcome)
        return outcome

    def async_client(self) -> AsyncBedrock:
        """This event loop's AsyncBedrock (created on first use; opened on its first call)."""
        from report_lib.async_client import AsyncBedrock

        loop = asyncio.get_running_loop()
        with self._lock:
            for ident, (other, _) in list(self._async.items()):
                if other.is_closed():  # its loop is gone; nothing left to close it with
                    del self._async[ident]
            entry = self._async.get(id(loop))
            if entry is None or entry[0] is not loop:
                entry = (loop, AsyncBedrock(self.settings, self.max_concurrency, self.limiter))
                self._async[id(loop)] = entry
        return entry[1]

    # -- cleanup -----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the running loop's async client (call before the loop ends)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.pop(id(loop), None)
        if entry is not None:
            await entry[1].aclose()

    def close(self) -> None:
        """Release the sync client and every async client whose loop can still run."""
        with self._lock:
            entries, self._async = list(self._async.values()), {}
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, bedrock in entries:
            if loop.is_closed():
                continue
            if loop is running:  # called synchronously from inside the loop (a notebook cell)
                task = loop.create_task(bedrock.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():  # another thread's loop
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(bedrock.aclose(), loop).result(timeout=10)
            else:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(bedrock.aclose())
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> BedrockBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_backend(settings: BackendSettings, max_concurrency: int = 10) -> Backend:
    """The backend ``settings.backend`` names; ``emulator`` needs ``settings.endpoint_url``."""
    if settings.backend == "offline":
        return OfflineBackend(settings)
    if settings.backend == "emulator" and not settings.endpoint_url:
        raise ValueError(
            "the emulator backend needs settings.endpoint_url: start one with "
            "`with report_lib.emulator.Emulator() as emu:` and pass endpoint_url=emu.url "
            "(generate_reports does this for backend='emulator')"
        )
    if settings.backend in ("bedrock", "emulator"):
        return BedrockBackend(settings, max_concurrency)
    raise ValueError(
        f"unknown backend {settings.backend!r}; choose one of {', '.join(BACKENDS)}"
    )
