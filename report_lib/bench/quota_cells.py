"""The quota scenario's cells: each one's quota, call latency, client settings and bound.

- **Quota.** A quota-bound cell's tokens-per-minute quota is the sum of what its calls are
  charged under its accounting (``actual``: input + output; ``bedrock``: input + output × the
  model's burndown rate) divided by ``QUOTA_MINUTES``: a minute's worth goes out at once, the
  rest needs about three more quota minutes. It is never below ``MIN_CALLS_AT_ONCE``
  admissions of the largest call (a ``bedrock`` admission reserves input + ``max_tokens``). A
  far cell's quota is ``FAR_FACTOR`` × everything its calls take at admission or settlement:
  the whole run fits in one quota minute with room to spare.
- **Calls** last 1 s × the time scale, like the quota's minute (60 s × the time scale), so a
  scaled run keeps a real run's pattern (a call is 1/60 of a quota minute).
- **Bound.** ``llm.quota.ideal_makespan``: the makespan of a client that knows the quota and
  its model exactly and sends each call the moment it fits, without seeing where the
  service's wall-clock minutes begin (so ``fixed`` minutes are bounded as ``sliding`` ones).
  For a far cell it is the slowest call.
- **Clients.** ``known``: the limiter told the quota (and, for ``actual`` accounting, that an
  output token counts once: ``burndown=1``); ``auto``: ``tpm_auto``; ``adaptive``: botocore's
  adaptive retry mode; ``retries`` and ``none-far``: our retries alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace

from report_lib.bench.plan import QUOTA, Case
from report_lib.emulator.latency import parse_latency_model
from report_lib.llm.quota import (
    QuotaRequest,
    burndown_rate,
    charged_tokens,
    ideal_makespan,
    reserved_tokens,
)
from report_lib.llm.settings import BackendSettings

QUOTA_MINUTES = 4.0  # Σ charges ≈ 4 × TPM: a minute's burst, then ~3 quota-bound minutes
MIN_CALLS_AT_ONCE = 2  # a quota admits at least this many of the largest call
FAR_FACTOR = 2.0  # a far cell's quota: twice everything its calls take
CALL_S = 1.0  # a call's latency before scaling
FAR_REPEATS = 3  # far cells last about a call: repeated, their median is reported


def call_charges(calls: Sequence[tuple[int, int]], accounting: str, model_id: str,
                 max_tokens: int) -> list[tuple[int, int]]:
    """(taken at admission, settled at the end) quota tokens per call of (input, output)."""
    if accounting == "actual":
        return [(i + o, i + o) for i, o in calls]
    burndown = burndown_rate(model_id)
    return [(reserved_tokens(i, max_tokens), charged_tokens(i, o, burndown)) for i, o in calls]


def cell_tpm(case: Case, calls: Sequence[tuple[int, int]], model_id: str,
             max_tokens: int) -> int:
    """The tokens-per-minute quota of one cell (module docstring)."""
    charges = call_charges(calls, case.accounting, model_id, max_tokens)
    if case.far:
        return math.ceil(FAR_FACTOR * sum(max(a, s) for a, s in charges))
    largest = max(max(a, s) for a, s in charges)
    return max(math.ceil(sum(s for _, s in charges) / QUOTA_MINUTES),
               MIN_CALLS_AT_ONCE * largest)


def with_quota(case: Case, calls: Sequence[tuple[int, int]], model_id: str,
               max_tokens: int) -> Case:
    """The cell with its quota and its calls' latency model set."""
    return replace(case, tpm=cell_tpm(case, calls, model_id, max_tokens),
                   latency_model=f"fixed:{CALL_S:g}")


def repeats_of(case: Case, repeats: int) -> int:
    """Measured runs of ``case`` when the run asks for ``repeats``."""
    return max(repeats, FAR_REPEATS) if case.scenario == QUOTA and case.far else repeats


def at_once(case: Case, calls: Sequence[tuple[int, int]], model_id: str,
            max_tokens: int) -> int:
    """How many of the first calls the cell's full quota admits at once (at least 1, at most
    the concurrency): the connections its measured run opens in its first burst."""
    if case.tpm is None:
        return max(1, min(len(calls), case.concurrency))
    taken, count = 0, 0
    for admitted, _ in call_charges(calls, case.accounting, model_id, max_tokens):
        if taken + admitted > case.tpm or count >= case.concurrency:
            break
        taken, count = taken + admitted, count + 1
    return max(1, count)


def cell_settings(case: Case, settings: BackendSettings, time_scale: float,
                  calls: Sequence[tuple[int, int]]) -> BackendSettings:
    """The client settings of one cell: backoff and limiter minute scaled, then its client."""
    settings = replace(settings, backoff_base_s=settings.backoff_base_s * time_scale,
                       backoff_max_s=settings.backoff_max_s * time_scale,
                       limiter_window_s=60.0 * time_scale,
                       expected_output_tokens=math.ceil(statistics.mean(o for _, o in calls)))
    client = case.client.removesuffix("-far")
    # the limiters are told how the service counts (--burndown 1 for end-charged cells), as a
    # user of such an endpoint tells them; "auto" is not told the quota
    burndown = 1.0 if case.accounting == "actual" else None
    if client == "known":
        return replace(settings, tpm_limit=case.tpm, burndown=burndown)
    if client == "auto":
        return replace(settings, tpm_auto=True, burndown=burndown)
    if client == "adaptive":
        return replace(settings, retry_mode="adaptive")
    return settings  # retries, none


def cell_bound(case: Case, calls: Sequence[tuple[int, int]], settings: BackendSettings,
               time_scale: float) -> float:
    """The best makespan the cell's quota allows (``llm.quota.ideal_makespan``) to a client
    that does not see where the service's wall-clock minutes begin (``fixed`` minutes are
    bounded like ``sliding`` ones: ``ideal_makespan`` says why)."""
    latency = parse_latency_model(case.latency_model, time_scale)
    requests = [QuotaRequest(i, o, latency.median_s(o)) for i, o in calls]
    minute_s = 60.0 * time_scale
    return ideal_makespan(requests, model_id=settings.model_id, max_tokens=settings.max_tokens,
                          tpm=case.tpm, minute=case.quota_minute or "bucket",
                          accounting=case.accounting or "bedrock", minute_s=minute_s)
