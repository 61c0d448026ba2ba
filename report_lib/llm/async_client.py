"""Asynchronous Bedrock Runtime client (aiobotocore) with the connection pool sized.

aiobotocore's default pool (10 connections) caps concurrency at 10, so the pool is sized to
``max(10, max_concurrency)``. Requests, parsing, credentials and retry decisions are the ones
of the sync client (report_lib.llm.wire, .credentials, .retry); only the I/O differs, and
an attempt still running at the deadline is cancelled.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any

from report_lib.llm import wire
from report_lib.llm.credentials import credential_errors, fixed_keys, require_credentials
from report_lib.llm.direct import AsyncDirectConverse, with_direct_converse
from report_lib.llm.retry import THROTTLING_CODES, acall_with_retries, classify
from report_lib.records import CallOutcome, ReportJob

if TYPE_CHECKING:
    from report_lib.llm.limiter import RateLimiter, Reservation
    from report_lib.llm.settings import BackendSettings


def load_aiobotocore() -> tuple[Any, Any]:
    """aiobotocore's ``AioConfig`` and ``AioSession``, imported on first use.

    aiobotocore (and the httpx it brings) costs ~0.3 s to import: sync-only runs and process
    workers never pay it, and generate imports it on a helper thread while the facts are computed.
    """
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    return AioConfig, AioSession


class AsyncBedrock:
    """Async Bedrock client: ``async with AsyncBedrock(settings, n) as b: await b.converse(job)``.

    One instance belongs to one event loop; it may be shared by any number of tasks in it.
    ``client`` injects a ready client (report_lib.llm.testing.MockBedrock); it is not closed here.
    """

    def __init__(
        self,
        settings: BackendSettings,
        max_concurrency: int = 10,
        limiter: RateLimiter | None = None,
        *,
        client: Any = None,
    ) -> None:
        self.settings = settings
        self.max_concurrency = max_concurrency
        self.limiter = limiter
        self.client: Any = client
        self._injected = client
        self._context: Any = None
        self._opening: asyncio.Future[None] | None = None

    async def __aenter__(self) -> AsyncBedrock:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Create the client (checking credentials first); idempotent. Concurrent first calls
        wait for one opening instead of each building a client (a cold run's first requests
        then go out together)."""
        if self.client is not None:
            return
        opening = self._opening
        if opening is None:
            opening = self._opening = asyncio.ensure_future(self._open())
        try:
            await asyncio.shield(opening)
        finally:
            if opening.done() and (opening.cancelled() or opening.exception() is not None):
                self._opening = None  # a later call tries again

    async def _open(self) -> None:
        AioConfig, AioSession = load_aiobotocore()
        settings = self.settings
        keys = fixed_keys(settings)
        with credential_errors(settings):
            session = AioSession(profile=settings.profile)
            if keys is None:
                require_credentials(await session.get_credentials())
        context = session.create_client(
            wire.SERVICE,
            endpoint_url=settings.endpoint_url or None,
            config=AioConfig(**wire.client_config_kwargs(settings, self.max_concurrency)),
            **(keys or {}),
        )
        client = await context.__aenter__()
        client.meta.events.register(wire.CONVERSE_EVENT, wire.check_converse_body(settings))
        # Converse without aiobotocore's pipeline (llm.direct), unless told otherwise
        client = with_direct_converse(client, settings, AsyncDirectConverse)
        self.client, self._context = client, context

    async def aclose(self) -> None:
        """Close the HTTP session; safe to call twice."""
        context, self._context = self._context, None
        self.client, self._opening = self._injected, None
        if context is not None:
            await context.__aexit__(None, None, None)

    async def converse(
        self, job: ReportJob, on_text: wire.TextCallback | None = None
    ) -> CallOutcome:
        """Converse, or ConverseStream when ``settings.stream`` is set (as sync_client.converse)."""
        await self.open()
        settings, limiter = wire.call_settings(job, self.settings), self.limiter
        plan = wire.CallPlan(job, settings, limiter is not None)

        async def attempt(number: int) -> CallOutcome:
            reservation = (await limiter.aacquire(plan.estimate, plan.input_estimate)
                           if limiter is not None else None)
            try:
                if settings.stream or (reservation is not None and reservation.stream):
                    outcome = await self._stream_once(plan.request, on_text, reservation)
                else:
                    response = await self.client.converse(**plan.request)
                    outcome = wire.parse_converse_response(response)
            except Exception as exc:
                if reservation is not None:  # an adaptive limiter learns the quota from 429s
                    info = classify(exc)
                    reservation.fail(info.error_type in THROTTLING_CODES, info.message)
                raise
            return plan.settle(outcome, number, reservation)

        outcome = await acall_with_retries(attempt, settings, label=job.label,
                                           deadline_at=job.deadline_at)  # the run's, if any
        return wire.require_text(outcome, settings)

    async def _stream_once(
        self, request: dict[str, Any], on_text: wire.TextCallback | None,
        reservation: Reservation | None = None,
    ) -> CallOutcome:
        collector = wire.StreamCollector(on_text, settings=self.settings)
        response = await self.client.converse_stream(**request)
        stream = response["stream"]
        try:
            wire.check_stream_type(response)
            async for event in stream:
                if reservation is not None:  # a first event, not a throttlingException
                    reservation.admitted()  # frame: the service admitted the request
                    reservation = None
                collector.feed(event)
        finally:
            stream.close()
        return collector.outcome()
