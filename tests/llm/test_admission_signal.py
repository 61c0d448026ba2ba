"""The admission signal the known limiter learns the quota minute by: a request it streams (a
trial) reports the service's admission with its first event, long before its answer (real
emulator process, real boto3 / aiobotocore, both transports)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from report_lib.emulator import Emulator
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.limiter import RateLimiter, Reservation
from report_lib.llm.settings import BackendSettings
from report_lib.llm.sync_client import converse, make_client
from report_lib.records import ReportJob
from tests.helpers import MODEL

CALL_S = 0.6
JOB = ReportJob(key="kpi", kind="kpi", system="You write reports.", prompt="Write the report.")


class _Recording(RateLimiter):
    """A known limiter that streams every request it lets go (as it streams a trial) and notes
    when the admission and the answer came, after the request went."""

    def __init__(self, stream: bool = True) -> None:
        super().__init__(1_000_000)
        self.stream = stream
        self.seen: list[tuple[str, float]] = []

    def _still_fits(self, reservation: Reservation) -> bool:
        fits = super()._still_fits(reservation)
        reservation.stream = reservation.stream or self.stream
        return fits

    def on_admitted(self, reservation: Reservation) -> None:
        self.seen.append(("admitted", time.monotonic() - reservation.sent_at))
        super().on_admitted(reservation)

    def on_success(self, reservation: Reservation, input_tokens: int, output_tokens: int,
                   latency_s: float | None = None) -> None:
        self.seen.append(("answered", time.monotonic() - reservation.sent_at))
        super().on_success(reservation, input_tokens, output_tokens, latency_s)


def _settings(url: str, transport: str) -> BackendSettings:
    return BackendSettings(backend="emulator", endpoint_url=url, model_id=MODEL,
                           region="us-east-1", transport=transport, tpm_limit=1_000_000)


def _check(seen: list[tuple[str, float]]) -> None:
    assert [kind for kind, _ in seen] == ["admitted", "answered"]
    admitted, answered = seen[0][1], seen[1][1]
    assert admitted < CALL_S / 2 < CALL_S <= answered


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(latency_model=f"fixed:{CALL_S}") as emu:
        yield emu


@pytest.mark.parametrize("transport", ["direct", "botocore"])
def test_a_streamed_request_is_known_admitted_before_its_answer(
        emulator: Emulator, dummy_credentials: None, transport: str) -> None:
    settings = _settings(emulator.url, transport)
    limiter = _Recording()
    outcome = converse(make_client(settings), JOB, settings, limiter=limiter)
    assert outcome.text
    _check(limiter.seen)


@pytest.mark.parametrize("transport", ["direct", "botocore"])
def test_the_asyncio_client_signals_the_admission_too(
        emulator: Emulator, dummy_credentials: None, transport: str) -> None:
    limiter = _Recording()

    async def main() -> str:
        async with AsyncBedrock(_settings(emulator.url, transport), limiter=limiter) as bedrock:
            return (await bedrock.converse(JOB)).text

    assert asyncio.run(main())
    _check(limiter.seen)


def test_a_request_not_streamed_says_nothing_before_its_answer(
        emulator: Emulator, dummy_credentials: None) -> None:
    settings = _settings(emulator.url, "direct")
    limiter = _Recording(stream=False)
    assert converse(make_client(settings), JOB, settings, limiter=limiter).text
    assert [kind for kind, _ in limiter.seen] == ["answered"]
