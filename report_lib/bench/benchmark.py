"""A whole benchmark run: every case of every scenario, then the three result files.

One row per (scenario, variant, strategy, start method, n_jobs, concurrency, repeat), after
one unrecorded warm-up per case. The cases of one job count and concurrency are measured side by
side (repeat 1 of each, then repeat 2 of each...), so rows compared with each other ran under
the same load.
Every delay is multiplied by ``time_scale`` (also the quota's minute and the client's backoff,
so a scaled run keeps the unscaled pattern); rows record it.
In the throttled scenario the scale compresses the quota's minute only: its calls keep their
real length (``THROTTLED_CALL_S``), so the client's work per call stays small beside them.
The quota scenario scales both (a call stays 1/60 of a quota minute, as in a real run); it
runs at ``QUOTA_TIME_SCALE`` and ``QUOTA_REPEATS`` unless told otherwise (bench.quota_cells).

``strategies``, ``n_values`` and ``time_scale`` may map scenario names to values
(``{"scale": [3, 30], "default": [3]}``), so one run can size each scenario on its own.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import pandas as pd
from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm

from report_lib.bench.metrics import fill_speedups
from report_lib.bench.peer_names import PEERS_SCENARIO
from report_lib.bench.peers import check_peers_installed, peer_versions, run_peers
from report_lib.bench.plan import (
    PUBLISHED,
    QUOTA,
    QUOTA_REPEATS,
    QUOTA_TIME_SCALE,
    SCENARIO_NAMES,
    Case,
    check_names,
    plan_cases,
    split_names,
)
from report_lib.bench.quota_cells import repeats_of, with_quota
from report_lib.bench.result_files import DEFAULT_DIR, machine_info, output_paths, save_results
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
from report_lib.bench.workload import JobSource, estimate_job_tokens, throttled_quota
from report_lib.emulator import Emulator
from report_lib.errors import ConfigError, RunInterrupted
from report_lib.execution.base import share_limits
from report_lib.execution.dask import default_dask_workers
from report_lib.execution.process import default_process_count
from report_lib.llm.settings import BackendSettings

LOWER_BOUND = "max(max_i L_i, max(0, charged - tpm) / Q + min_i L_i); docs/LATENCY.md"
DEFAULT_REPEATS = 3
THROTTLED_CALL_S = 1.0  # the throttled scenario's call latency, never scaled
T = TypeVar("T")


class Progress:
    """A bar over the measured runs of every case (notebook widget or terminal), its text
    naming the case and run under way, and optionally a plain-text copy on ``also`` (a
    notebook run headless by the pipeline passes the kernel's own stderr, so the terminal
    running the pipeline sees the runs go by)."""

    def __init__(self, total: int, enabled: bool, also: TextIO | None = None) -> None:
        self.bars = [tqdm(total=total, unit="run", disable=not enabled, leave=False)]
        if also is not None:
            self.bars.append(text_tqdm(total=total, unit="run", file=also, mininterval=0,
                                       desc="benchmark", leave=True))

    def case(self, label: str, run: str) -> None:
        for bar in self.bars:
            bar.set_postfix_str(f"{label} {run}", refresh=True)

    def done(self) -> None:
        """One measured run finished."""
        for bar in self.bars:
            bar.update(1)

    def close(self) -> None:
        for bar in self.bars:
            bar.close()


@dataclass
class _Session:
    """What the cases of one run share: settings, jobs, the dask cluster, the progress bar."""

    base: BackendSettings
    external: bool
    repeats: int | Mapping[str, int]
    warmup: bool
    dask: DaskCluster
    progress: Progress
    max_threads: int = 1
    source: JobSource = field(default_factory=JobSource)
    rows: list[dict[str, Any]] = field(default_factory=list)
    timelines: list[dict[str, Any]] = field(default_factory=list)
    client_ms: float | None = None
    checkpoint: Callable[[], object] = lambda: None  # writes the rows measured so far



def for_scenario(value: T | Mapping[str, T], scenario: str, default: T) -> T:
    """``value``, or its entry for ``scenario`` (then "default", then ``default``) when it is a
    mapping of scenario names."""
    if isinstance(value, Mapping):
        return value.get(scenario, value.get("default", default))
    return value


def _check_options(scenarios: Sequence[str], repeats: int, endpoint_url: str | None) -> None:
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    for scenario in ("throttled", QUOTA):
        if endpoint_url and scenario in scenarios:
            raise ConfigError(
                f"the {scenario} scenario sets the emulator's token quota; it cannot run "
                "against --endpoint-url. Drop one of them."
            )
    if endpoint_url and PEERS_SCENARIO in scenarios:
        raise ConfigError(
            "the peers scenario points every library at the emulator (and sets its quota); it "
            "cannot run against --endpoint-url. Drop one of them."
        )


def _check_limit_shares(cases: Sequence[Case], base: BackendSettings,
                        scheduler: str | None) -> None:
    """Refuse, before any call, a --tpm-limit/--rpm-limit the process or dask cases would
    split into shares too small for one request (execution.base.share_limits)."""
    for case in cases:
        if case.strategy == "process":
            share_limits(base, default_process_count(case.concurrency))
    threads = max((c.concurrency for c in cases if c.strategy == "dask"), default=0)
    if threads and scheduler is None:  # the run's LocalCluster (a scheduler's is told later)
        share_limits(base, max(1, min(default_dask_workers(threads), threads)))


def _run_cases(s: _Session, cases: Sequence[Case], scale: float, emu: Emulator | None,
               repeats: int) -> None:
    """Measure ``cases`` side by side: every case warms up, then each repeat runs every case
    once, so the rows a comparison sets against each other saw the same load on the machine.

    The garbage collector's long-lived objects (the imported libraries, the warm clients) are
    frozen after the warm-ups, so a full collection scans only what a run allocates itself,
    instead of landing in one row and not its neighbour (see benchmarks/README.md, Method).
    """
    with ExitStack() as stack:
        runners = []
        for case in cases:
            jobs = s.source.jobs(case.scenario, case.n_jobs)
            settings = case_settings(case, s.base, scale, jobs, emu)
            runner = stack.enter_context(CaseRunner(case, settings, s.dask, s.max_threads))
            if s.warmup and runner.warms_up:
                s.progress.case(case.label, "warm-up")
                if emu is not None:  # a full quota, as its measured runs get: the case before
                    emu.reset_stats()  # may have spent it, and a limiter would learn that
                runner.run(warmup_jobs(case, jobs, settings))
            runners.append((case, jobs, runner))
        stack.enter_context(frozen_heap())
        for repeat in range(1, max(repeats_of(c, repeats) for c in cases) + 1):
            for case, jobs, runner in runners:
                if repeat > repeats_of(case, repeats):
                    continue
                s.progress.case(case.label, f"run {repeat}/{repeats_of(case, repeats)}")
                row, timeline = measure(case, repeat, jobs, runner, emu, scale, s.external)
                s.rows.append(row)
                s.timelines.append(timeline)
                s.checkpoint()
                s.progress.done()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect, then freeze every object alive now out of the collector's way; unfreeze after."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.collect()


def side_by_side(cases: Sequence[Case]) -> list[list[Case]]:
    """The cases of one emulator in the groups measured side by side: one group per (job
    count, concurrency), the cases a comparison sets against each other, in plan order; the
    dask cases last (their cluster's idle workers would load the other rows' runs, so it is
    closed after them)."""
    plain: dict[tuple[int, int], list[Case]] = {}
    dask: dict[tuple[int, int], list[Case]] = {}
    for case in cases:
        group = dask if case.strategy == "dask" else plain
        group.setdefault((case.n_jobs, case.concurrency), []).append(case)
    return [*plain.values(), *dask.values()]


def _record(s: _Session) -> Any:
    def record(row: dict[str, Any], line: dict[str, Any]) -> None:
        s.rows.append(row)
        s.timelines.append(line)
        s.checkpoint()
        s.progress.done()

    return record


def _run_scenario(s: _Session, scenario: str, cases: list[Case], scale: float) -> None:
    if scenario == PEERS_SCENARIO:
        run_peers(cases, base=s.base, source=s.source,
                  repeats=int(for_scenario(s.repeats, scenario, DEFAULT_REPEATS)), scale=scale,
                  record=_record(s), on_run=s.progress.case)
        return
    if scenario == "throttled":
        model = f"fixed:{THROTTLED_CALL_S / scale:g}"  # × scale = the real call latency
        cases = [replace(c, latency_model=model,
                         tpm=throttled_quota(s.source.jobs(scenario, c.n_jobs)))
                 for c in cases]
    if scenario == QUOTA:
        cases = [with_quota(c, estimate_job_tokens(s.source.jobs(scenario, c.n_jobs)),
                            s.base.model_id, s.base.max_tokens) for c in cases]
    for model, tpm, group in by_emulator(cases):
        first = group[0]
        with endpoint(s.external, model, scale, tpm, first.quota_minute,
                      first.accounting) as emu:
            if s.client_ms is None:
                url = emu.url if emu is not None else s.base.endpoint_url
                s.client_ms = client_create_ms(replace(s.base, endpoint_url=url))
            repeats = int(for_scenario(s.repeats, scenario, DEFAULT_REPEATS))
            for cases_together in side_by_side(group):
                _run_cases(s, cases_together, scale, emu, repeats)
            s.dask.close()


def plan_run(scenarios: Sequence[str], strategies: Any = None, n_values: Any = None,
             start_methods: Sequence[str] | None = None,
             max_concurrency: Sequence[int] | None = None,
             variants: Sequence[str] | None = None) -> dict[str, list[Case]]:
    """Every scenario's cases; ``strategies``/``n_values`` may map scenario names to values;
    ``variants``: only the cases of these variants (e.g. quota cells ``known/sliding/bedrock``)."""
    names = split_names(scenarios) or ["seed"]
    check_names(names, SCENARIO_NAMES, "scenario")
    planned = {
        s: plan_cases(s, strategies=split_names(for_scenario(strategies, s, None)) or None,
                      n_values=for_scenario(n_values, s, None) or None,
                      start_methods=split_names(start_methods) or None,
                      max_concurrency=max_concurrency)
        for s in names
    }
    if variants is None:
        return planned
    wanted = split_names(variants)
    known = {c.variant for cases in planned.values() for c in cases}
    check_names(wanted, sorted(known), "variant")
    return {s: [c for c in cases if c.variant in wanted] for s, cases in planned.items()}


def run_benchmark(
    scenarios: Sequence[str] = ("seed",),
    strategies: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    n_values: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    repeats: int | Mapping[str, int] | None = None,
    time_scale: float | Mapping[str, float] | None = None,
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
    progress_file: TextIO | None = None,
    variants: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run the scenarios, write results.csv, timelines.json, metadata.json; return the rows.

    ``out_dir`` is a folder, or a ``.csv`` path whose companions go next to it.
    ``time_scale`` may map scenario names to scales (``{"scale": 0.5, "default": 1.0}``).
    ``endpoint_url`` benchmarks that Bedrock-compatible endpoint (credentials from the
    environment) instead of starting the emulator; emulator counters are then NaN.
    ``progress_file`` gets a plain-text copy of the bar over cases.
    ``repeats`` and ``time_scale`` default to 3 and 1.0, the quota scenario's to
    ``QUOTA_REPEATS`` and ``QUOTA_TIME_SCALE``. ``variants`` keeps only those cases.
    """
    if repeats is None:
        repeats = {QUOTA: QUOTA_REPEATS, "default": DEFAULT_REPEATS}
    if time_scale is None:
        time_scale = {QUOTA: QUOTA_TIME_SCALE, "default": 1.0}
    cases = plan_run(scenarios, strategies, n_values, start_methods, max_concurrency, variants)
    for scenario in cases:
        _check_options(list(cases), int(for_scenario(repeats, scenario, DEFAULT_REPEATS)),
                       endpoint_url)
    if PEERS_SCENARIO in cases:
        check_peers_installed([c.strategy for c in cases[PEERS_SCENARIO]])
    external = bool(endpoint_url)
    # no run-wide deadline: it would cut a long case's later reports and its makespan with them
    base = replace(settings or BackendSettings(), endpoint_url=endpoint_url, deadline_s=None,
                   backend="bedrock" if external else "emulator")
    _check_limit_shares([c for cs in cases.values() for c in cs], base, scheduler)
    total = sum(repeats_of(c, int(for_scenario(repeats, scenario, DEFAULT_REPEATS)))
                for scenario, cs in cases.items() for c in cs)  # measured runs
    session = _Session(base, external, repeats, warmup, DaskCluster(scheduler),
                       Progress(total, progress, progress_file),
                       max_threads=max((c.concurrency for cs in cases.values() for c in cs
                                        if c.strategy == "dask"), default=1))
    started, load_start = datetime.now(UTC), os.getloadavg()[0]
    meta: dict[str, Any] = {
        "created": started.isoformat(timespec="seconds"),
        "finished": None,
        "complete": False,  # True once every case ran; until then the rows measured so far
        "command": command or " ".join(sys.argv),
        "time_scale": dict(time_scale) if isinstance(time_scale, Mapping) else time_scale,
        "repeats": dict(repeats) if isinstance(repeats, Mapping) else repeats,
        "warmup": warmup,
        "load_avg_1m": {"start": load_start, "end": None},
        **machine_info(),
        "scenarios": list(cases),
        "endpoint_url": endpoint_url,
        "model_id": base.model_id,
        "transport": base.transport,  # how our clients sent Converse (llm.direct)
        "dask_cluster_start_s": None,
        "client_create_ms": None,
        "published": dict(PUBLISHED),
        "lower_bound": LOWER_BOUND,
    }
    if PEERS_SCENARIO in cases:
        meta["peer_versions"] = peer_versions()

    def save(complete: bool) -> pd.DataFrame:
        fill_speedups(session.rows)
        meta.update(complete=complete, dask_cluster_start_s=session.dask.start_s,
                    client_create_ms=session.client_ms)
        meta["load_avg_1m"]["end"] = os.getloadavg()[0]
        if complete:
            meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        return save_results(out_dir, session.rows, session.timelines, meta)

    session.checkpoint = lambda: save(complete=False)
    try:
        for scenario, scenario_cases in cases.items():
            scale = float(for_scenario(time_scale, scenario, 1.0))
            _run_scenario(session, scenario, scenario_cases, scale)
    except KeyboardInterrupt as exc:  # Ctrl-C/SIGTERM: the shared cluster goes at once
        session.dask.close(interrupted=True)
        raise _kept(exc, session.rows, out_dir) from None
    finally:
        session.progress.close()
        session.dask.close()
    return save(complete=True)


def _kept(exc: KeyboardInterrupt, rows: Sequence[dict[str, Any]],
          out_dir: str | Path) -> RunInterrupted:
    """The interrupt, saying where the runs measured before it are (written as each ended)."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    stopped = str(exc) if isinstance(exc, RunInterrupted) else "interrupted"
    where = output_paths(out_dir)[0]
    kept = f"the {len(rows)} measured run{'s' if len(rows) != 1 else ''} that had ended " \
        f"{'are' if len(rows) != 1 else 'is'} in {where}" if rows else "no measured run had ended"
    return RunInterrupted(f"{stopped}; {kept}", signum=signum)
