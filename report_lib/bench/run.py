"""A whole benchmark run: every case of every scenario, then the three result files.

One row per (scenario, variant, strategy, start method, n_jobs, concurrency, repeat), after
one unrecorded warm-up per case. Every delay is multiplied by ``time_scale`` (also the quota's
minute and the client's backoff, so a scaled run keeps the unscaled pattern); rows record it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from report_lib.bench.plan import PUBLISHED, Case, plan, split_names
from report_lib.bench.results import DEFAULT_DIR, machine_info, save_results
from report_lib.bench.rows import fill_speedups
from report_lib.bench.runner import (
    CaseRunner,
    DaskCluster,
    by_emulator,
    case_settings,
    client_create_ms,
    endpoint,
    measure,
    warmup_jobs,
)
from report_lib.bench.workload import JobSource, throttled_quota
from report_lib.emulator import Emulator
from report_lib.errors import ConfigError
from report_lib.llm.settings import BackendSettings

LOWER_BOUND = "max(max_i L_i, max(0, tokens - tpm) / Q + min_i L_i); docs/LATENCY.md"


@dataclass
class _Session:
    """What the cases of one run share: settings, jobs, the dask cluster, the progress bar."""

    base: BackendSettings
    external: bool
    repeats: int
    warmup: bool
    dask: DaskCluster
    bar: Any
    max_threads: int = 1
    source: JobSource = field(default_factory=JobSource)
    rows: list[dict[str, Any]] = field(default_factory=list)
    timelines: list[dict[str, Any]] = field(default_factory=list)
    client_ms: float | None = None


def _scale_for(time_scale: float | Mapping[str, float], scenario: str) -> float:
    if isinstance(time_scale, Mapping):
        return float(time_scale.get(scenario, time_scale.get("default", 1.0)))
    return float(time_scale)


def _check_options(scenarios: Sequence[str], repeats: int, endpoint_url: str | None) -> None:
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    if endpoint_url and "throttled" in scenarios:
        raise ConfigError(
            "the throttled scenario sets the emulator's token quota; it cannot run against "
            "--endpoint-url. Drop one of them."
        )


def _run_case(s: _Session, case: Case, scale: float, emu: Emulator | None) -> None:
    jobs = s.source.jobs(case.scenario, case.n_jobs)
    settings = case_settings(case, s.base, scale, jobs, emu)
    with CaseRunner(case, settings, s.dask, s.max_threads) as runner:
        if s.warmup:
            s.bar.set_description(f"warm-up {case.label}")
            runner.run(warmup_jobs(case, jobs))
            s.bar.update(1)
        for repeat in range(1, s.repeats + 1):
            s.bar.set_description(case.label)
            row, timeline = measure(case, repeat, jobs, runner, emu, scale, s.external)
            s.rows.append(row)
            s.timelines.append(timeline)
            s.bar.update(1)


def _run_scenario(s: _Session, scenario: str, cases: list[Case], scale: float) -> None:
    if scenario == "throttled":
        cases = [replace(c, tpm=throttled_quota(s.source.jobs(scenario, c.n_jobs)))
                 for c in cases]
    for model, tpm, group in by_emulator(cases):
        with endpoint(s.external, model, scale, tpm) as emu:
            if s.client_ms is None:
                url = emu.url if emu is not None else s.base.endpoint_url
                s.client_ms = client_create_ms(replace(s.base, endpoint_url=url))
            for case in sorted(group, key=lambda c: c.strategy == "dask"):
                _run_case(s, case, scale, emu)
            s.dask.close()


def run_benchmark(
    scenarios: Sequence[str] = ("seed",),
    strategies: Sequence[str] | None = None,
    n_values: Sequence[int] | None = None,
    repeats: int = 3,
    time_scale: float | Mapping[str, float] = 1.0,
    endpoint_url: str | None = None,
    out_dir: str | Path = DEFAULT_DIR,
    progress: bool = True,
    start_methods: Sequence[str] | None = None,
    *,
    max_concurrency: Sequence[int] | None = None,
    scheduler: str | None = None,
    settings: BackendSettings | None = None,
    warmup: bool = True,
    command: str | None = None,
) -> pd.DataFrame:
    """Run the scenarios, write results.csv, timelines.json, metadata.json; return the rows.

    ``out_dir`` is a folder, or a ``.csv`` path whose companions go next to it.
    ``time_scale`` may map scenario names to scales (``{"scale": 0.5, "default": 1.0}``).
    ``endpoint_url`` benchmarks that Bedrock-compatible endpoint (credentials from the
    environment) instead of starting the emulator; emulator counters are then NaN.
    """
    cases = plan(scenarios, strategies=split_names(strategies) or None, n_values=n_values,
                 start_methods=split_names(start_methods) or None,
                 max_concurrency=max_concurrency)
    _check_options(list(cases), repeats, endpoint_url)
    external = bool(endpoint_url)
    base = replace(settings or BackendSettings(), endpoint_url=endpoint_url,
                   backend="bedrock" if external else "emulator")
    total = sum(len(cs) for cs in cases.values()) * (repeats + (1 if warmup else 0))
    session = _Session(base, external, repeats, warmup, DaskCluster(scheduler),
                       tqdm(total=total, unit="run", disable=not progress, leave=False),
                       max_threads=max((c.concurrency for cs in cases.values() for c in cs
                                        if c.strategy == "dask"), default=1))
    started, load_start = datetime.now(UTC), os.getloadavg()[0]
    try:
        for scenario, scenario_cases in cases.items():
            _run_scenario(session, scenario, scenario_cases, _scale_for(time_scale, scenario))
    finally:
        session.bar.close()
        session.dask.close()
    fill_speedups(session.rows)
    meta = {
        "created": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
        "time_scale": dict(time_scale) if isinstance(time_scale, Mapping) else time_scale,
        "repeats": repeats,
        "warmup": warmup,
        "load_avg_1m": {"start": load_start, "end": os.getloadavg()[0]},
        **machine_info(),
        "scenarios": list(cases),
        "endpoint_url": endpoint_url,
        "model_id": base.model_id,
        "dask_cluster_start_s": session.dask.start_s,
        "client_create_ms": session.client_ms,
        "published": dict(PUBLISHED),
        "lower_bound": LOWER_BOUND,
    }
    return save_results(out_dir, session.rows, session.timelines, meta)
