"""Asynchronous Bedrock Runtime client (aiobotocore) with the connection pool sized.

aiobotocore's default pool (10 connections) caps concurrency at 10, so the pool is sized to
``max(10, max_concurrency)``. Retries, error mapping, the limiter and the streamed-event
handling are the same as in report_lib.llm.sync_client.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ProfileNotFound

from report_lib.errors import CredentialsError
from report_lib.jobs import CallOutcome, ReportJob
from report_lib.llm.retry import acall_with_retries
from report_lib.llm.sync_client import (
    CREDENTIALS_HELP,
    EMULATOR_KEYS,
    SERVICE,
    StreamCollector,
    TextCallback,
    build_request,
    client_config_kwargs,
    estimate_request_tokens,
    parse_converse_response,
    require_text,
)

if TYPE_CHECKING:
    from report_lib.llm.limiter import RateLimiter
    from report_lib.llm.settings import BackendSettings


class AsyncBedrock:
    """Async Bedrock client: ``async with AsyncBedrock(settings, n) as b: await b.converse(job)``.

    One instance belongs to one event loop; it may be shared by any number of tasks in it.
    """

    def __init__(
        self,
        settings: BackendSettings,
        max_concurrency: int = 10,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.max_concurrency = max_concurrency
        self.limiter = limiter
        self.client: Any = None
        self._context: Any = None

    def config(self) -> AioConfig:
        return AioConfig(**client_config_kwargs(self.settings, self.max_concurrency))

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
        """Create the client (checking credentials first); idempotent."""
        if self.client is not None:
            return
        settings = self.settings
        keys: dict[str, str] = {}
        try:
            session = AioSession(profile=settings.profile)
            if settings.backend == "emulator":
                keys = dict(EMULATOR_KEYS)
            else:
                credentials = await session.get_credentials()
                if credentials is None:
                    raise CredentialsError(f"No AWS credentials found. {CREDENTIALS_HELP}")
        except ProfileNotFound as exc:
            raise CredentialsError(
                f"AWS profile {settings.profile!r} not found. {CREDENTIALS_HELP}"
            ) from exc
        except BotoCoreError as exc:
            raise CredentialsError(
                f"AWS credentials could not be loaded ({exc}). {CREDENTIALS_HELP}"
            ) from exc
        context = session.create_client(
            SERVICE,
            region_name=settings.region,
            endpoint_url=settings.endpoint_url or None,
            config=self.config(),
            **keys,
        )
        self.client = await context.__aenter__()
        self._context = context

    async def aclose(self) -> None:
        """Close the HTTP session; safe to call twice."""
        context, self._context, self.client = self._context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)

    async def converse(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        """Converse, or ConverseStream when ``settings.stream`` is set (see bedrock_client)."""
        return await self._call(job, on_text, stream=self.settings.stream)

    async def converse_stream(
        self, job: ReportJob, on_text: TextCallback | None = None
    ) -> CallOutcome:
        """ConverseStream: ``on_text(delta)`` per text delta, TTFT and usage recorded."""
        return await self._call(job, on_text, stream=True)

    async def _call(
        self, job: ReportJob, on_text: TextCallback | None, stream: bool
    ) -> CallOutcome:
        await self.open()
        settings = self.settings
        request = build_request(job, settings)
        limiter = self.limiter
        estimate = estimate_request_tokens(job, settings) if limiter is not None else 0

        async def attempt(number: int) -> CallOutcome:
            reservation = await limiter.aacquire(estimate) if limiter is not None else None
            if stream:
                outcome = await self._stream_once(request, on_text)
            else:
                outcome = parse_converse_response(await self.client.converse(**request))
            if reservation is not None:
                reservation.settle(outcome.input_tokens + outcome.output_tokens)
            outcome.attempts = number
            return outcome

        outcome = await acall_with_retries(attempt, settings)
        require_text(outcome.text, outcome.stop_reason, settings)
        return outcome

    async def _stream_once(
        self, request: dict[str, Any], on_text: TextCallback | None
    ) -> CallOutcome:
        collector = StreamCollector(on_text, time.perf_counter())
        response = await self.client.converse_stream(**request)
        stream = response["stream"]
        try:
            async for event in stream:
                collector.feed(event)
        finally:
            stream.close()
        return collector.outcome()
