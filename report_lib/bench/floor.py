"""The bare client: the same botocore/aiobotocore client our strategies use, called directly
(no retry loop, limiter, timing or result contract of ours). It is the ``bare`` variant of
the scale scenario: the floor under the thread and asyncio rows beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import make_client
from report_lib.llm.wire import build_request, parse_converse_response
from report_lib.records import ReportJob, ReportResult


def _result(job: ReportJob, response: dict[str, Any], start: float, end: float) -> ReportResult:
    outcome = parse_converse_response(response)
    return ReportResult(key=job.key, kind=job.kind, content=outcome.text, seconds=end - start,
                        start_s=start, end_s=end, input_tokens=outcome.input_tokens,
                        output_tokens=outcome.output_tokens, worker="bare")


class BareThreads:
    """One boto3 client (pool sized to the concurrency) and a thread per call in flight."""

    def __init__(self, settings: BackendSettings, concurrency: int) -> None:
        self.settings, self.concurrency = settings, concurrency
        self.client = make_client(settings, concurrency)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bare")

    def run(self, jobs: Sequence[ReportJob]) -> list[ReportResult]:
        t0 = time.perf_counter()

        def one(job: ReportJob) -> ReportResult:
            start = time.perf_counter() - t0
            response = self.client.converse(**build_request(job, self.settings))
            return _result(job, response, start, time.perf_counter() - t0)

        return list(self.pool.map(one, jobs))

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()


async def run_bare_async(client: Any, jobs: Sequence[ReportJob],
                         settings: BackendSettings) -> list[ReportResult]:
    """Every job at once with asyncio.gather on one aiobotocore client (``AsyncBedrock.client``
    opened by the caller: the same client the asyncio strategy uses)."""
    t0 = time.perf_counter()

    async def one(job: ReportJob) -> ReportResult:
        start = time.perf_counter() - t0
        response = await client.converse(**build_request(job, settings))
        return _result(job, response, start, time.perf_counter() - t0)

    return list(await asyncio.gather(*(one(j) for j in jobs)))
