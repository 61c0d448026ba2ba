"""Backends behind one interface: ``offline`` (no network) and ``bedrock`` (boto3 Converse).

The ``emulator`` backend is the ``bedrock`` backend pointed at a local emulator process; it lives
with the emulator (report_lib.emulator.emulator_backend) and is registered here by its import
path, like ``offline``: its ``serve`` starts the emulator for a run and gives the settings its
endpoint.

A Backend turns a ReportJob into a CallOutcome or raises errors.BackendError. ``BaseBackend``
gives every part of the protocol but ``call`` a default (no-op open/aopen/close/aclose, ``acall``
running ``call`` on a thread, ``serve`` yielding the settings as they are), so callers use the
whole protocol on any backend without probing for methods.
Settings are a picklable dataclass so process/dask workers can rebuild the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from report_lib.closing import Closing
from report_lib.errors import ConfigError
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.cache import ResponseCache, cache_key, check_cache_dir
from report_lib.llm.limiter import RateLimiter, limiter_for
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import converse, make_client, make_session
from report_lib.llm.wire import TextCallback, build_request
from report_lib.records import CallOutcome, ReportJob
from report_lib.registry import Registry


class Backend(Protocol):
    """A way to answer one job. Implementations are safe to share between threads.

    ``open()`` / ``await aopen()`` prepare the sync / this loop's async client ahead of a run;
    ``await aclose()`` releases this loop's async client, ``close()`` everything. Subclass
    ``BaseBackend`` to get a no-op default for each of them.
    """

    name: str

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome: ...

    def open(self) -> None: ...

    async def aopen(self) -> None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class Endpoint:
    """What ``serve`` yields for a run: settings ready to build the backend with (in this or any
    worker process), and what the run's result records about the endpoint (``describe``)."""

    settings: BackendSettings

    def describe(self) -> dict[str, Any]:
        """Entries for the result's extra fields (an emulator's counters, say); none here."""
        return {}


class BaseBackend(Closing):
    """The Backend protocol with defaults: a subclass writes ``call`` (and ``acall`` when it
    has a native async path); nothing to open or close unless it says otherwise."""

    name: str = "backend"

    def __init__(self, settings: BackendSettings, max_concurrency: int = 1) -> None:
        self.settings = settings
        self.max_concurrency = max(1, int(max_concurrency))

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        """``call`` on a worker thread, so the event loop keeps running meanwhile."""
        return await asyncio.to_thread(self.call, job, on_text)

    def open(self) -> None:
        """Prepare the sync path before the workers start: nothing by default."""

    async def aopen(self) -> None:
        """Prepare the running loop's async path: nothing by default."""

    def close(self) -> None:
        """Release what the backend holds: nothing by default."""

    async def aclose(self) -> None:
        """Release what the running loop's async path holds: nothing by default."""

    @classmethod
    @contextlib.contextmanager
    def serve(cls, settings: BackendSettings, options: Any = None) -> Iterator[Endpoint]:
        """The endpoint a run of this backend talks to, for the run's length (``options``: the
        backend's own, e.g. an EmulatorConfig); by default the settings as they are."""
        if options is not None:
            raise ConfigError(
                f"the {settings.backend} backend takes no endpoint options "
                f"(got {type(options).__name__}); emulator options apply to backend='emulator'"
            )
        yield Endpoint(settings)


class BedrockBackend(BaseBackend):
    """Bedrock Runtime (or the emulator) via Converse/ConverseStream.

    One sync client, built by ``open()`` before the worker threads start (or on first use), is
    shared by all threads; ``acall`` lazily opens one aiobotocore client per event loop (so it
    works in a script's ``asyncio.run`` and in a notebook's running loop alike). Optional
    response cache (``settings.cache_dir``) and client-side limiter (``settings.tpm_limit`` /
    ``rpm_limit``, or ``tpm_auto``).
    Cost is not computed here: callers use report_lib.llm.pricing.
    """

    name = "bedrock"

    def __init__(
        self,
        settings: BackendSettings,
        max_concurrency: int = 10,
        *,
        client: Any = None,
        aclient: Any = None,
    ) -> None:
        super().__init__(settings, max_concurrency)
        # credentials are checked now; the client itself is built on first use (or open()), so
        # an asyncio run, which never uses it, does not pay for it
        self._session = make_session(settings) if client is None else None
        self._client: Any = client
        self.cache = ResponseCache(settings.cache_dir) if settings.cache_dir else None
        self.limiter: RateLimiter | None = limiter_for(settings)
        self._aclient = aclient  # injected async client (report_lib.llm.testing)
        self._lock = threading.Lock()
        # id(loop) -> (loop, client of that loop)
        self._async: dict[int, tuple[asyncio.AbstractEventLoop, AsyncBedrock]] = {}
        self._closing: set[asyncio.Future[Any]] = set()

    # -- cache -------------------------------------------------------------------------------
    def _cache_key(self, job: ReportJob) -> str | None:
        if self.cache is None:
            return None
        s = self.settings
        endpoint = s.endpoint_url or f"bedrock-runtime.{s.region}.amazonaws.com"
        return cache_key(s.backend, endpoint, build_request(job, s))

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

    def use_limiter(self, limiter: RateLimiter | None) -> None:
        """Charge later calls (sync and every loop's async client) to ``limiter``: a benchmark
        gives each run of a warm backend a fresh one."""
        with self._lock:
            self.limiter = limiter
            for _, bedrock in self._async.values():
                bedrock.limiter = limiter

    @property
    def client(self) -> Any:
        """The sync boto3 client shared by every thread (built on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self.settings, self.max_concurrency,
                                               session=self._session)
        return self._client

    def open(self) -> None:
        """Build the sync client now, so the first call does not wait for it."""
        assert self.client is not None

    async def aopen(self) -> None:
        """Open the running loop's async client now (credentials checked, connection pool
        made), so a run started later on this loop does not wait for it."""
        await self.async_client().open()

    def async_client(self) -> AsyncBedrock:
        """This event loop's AsyncBedrock (created on first use; opened on its first call)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for ident, (other, _) in list(self._async.items()):
                if other.is_closed():  # its loop is gone; nothing left to close it with
                    del self._async[ident]
            entry = self._async.get(id(loop))
            if entry is None or entry[0] is not loop:
                bedrock = AsyncBedrock(
                    self.settings, self.max_concurrency, self.limiter, client=self._aclient
                )
                entry = (loop, bedrock)
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
        close = getattr(self._client, "close", None)  # an injected test client may have none
        if close is not None:
            close()


class BackendRegistry(Registry[type[BaseBackend]]):
    """Backends by name (papermill's engine registry is the model).

    An entry is a BaseBackend subclass (built as ``cls(settings, max_concurrency)``) or a
    ``"module:Class"`` path imported on first use, like an entry point: the ``offline`` backend
    lives in the reports layer (it writes the report itself) and the ``emulator`` backend with
    the emulator; both are registered by path, so this layer never imports them.
    """

    def __init__(self) -> None:
        super().__init__("backend")

    def factory(self, name: str) -> type[BaseBackend]:
        """The class registered as ``name`` (ConfigError when unknown)."""
        return self.load(name)

    def create(self, settings: BackendSettings, max_concurrency: int = 10) -> Backend:
        """The backend ``settings.backend`` names; ``emulator`` needs ``settings.endpoint_url``
        (``serve`` gives it one)."""
        return self.factory(settings.backend)(settings, max_concurrency)

    @contextlib.contextmanager
    def serve(self, settings: BackendSettings, options: Any = None) -> Iterator[Endpoint]:
        """The run's endpoint for ``settings.backend`` (settings checked first): the emulator
        backend starts an emulator (``options``: its EmulatorConfig) unless ``endpoint_url`` is
        set; the others yield the settings as they are."""
        check_settings(settings)
        with self.factory(settings.backend).serve(settings, options) as endpoint:
            yield endpoint


BACKENDS = BackendRegistry()
BACKENDS.register("offline", "report_lib.reports.offline.backend:OfflineBackend")
BACKENDS.register("emulator", "report_lib.emulator.emulator_backend:EmulatorBackend")
BACKENDS.register("bedrock", BedrockBackend)


def check_settings(settings: BackendSettings) -> BackendSettings:
    """Everything about ``settings`` that can be refused before any call, as ConfigError.

    The backend name, and the cache folder (created here; a file or an uncreatable folder is
    refused, a read-only one is accepted and used read-only).
    """
    BACKENDS.validate(settings.backend)
    if settings.cache_dir:
        check_cache_dir(settings.cache_dir)
    return settings


def open_sync_client(backend: Backend) -> Backend:
    """``backend`` with its sync client built now (``open()``; nothing for the offline writer),
    so that the first call of a sync run does not wait for it."""
    backend.open()
    return backend

