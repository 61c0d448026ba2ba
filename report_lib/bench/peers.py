"""The ``peers`` scenario: ours (thread, asyncio) beside what a user would pick instead.

Every strategy, ours included, runs in a worker process of its own
(``report_lib.bench.peer_worker``), so each row's client CPU and peak RSS belong to that
client alone, measured the same way for all. Per job count N (concurrency N) the cases are
measured side by side: every warm worker is started and warmed up, then each repeat runs every
warm case once and every cold case once (a fresh process each, spawn to last report), with the
emulator's counters reset before each run. The ``quota`` variant runs at
``plan.PEERS_QUOTA_N`` under a token quota of ``PEERS_QUOTA_MINUTES`` quota minutes: the peers
keep their own default retries; ours has the client-side limiter told the quota (as the
throttled scenario's ``limiter`` variant), and its backoff scaled with the minute.

Rows are ordinary results rows (``rows.COLUMNS``); ``first_call_s`` (the last column) is set
in cold rows only: spawn to the first report (interpreter, imports, client, first answer).
Reports lost are ``failed``; requests the emulator throttled are ``throttled``.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import IO, Any

from report_lib.bench.metrics import Measured, make_row, timeline
from report_lib.bench.peer_clients import (
    DUMMY_KEYS,
    PEER_MODULES,
    PEER_PACKAGES,
    PeerJob,
    PeerWork,
)
from report_lib.bench.peer_names import OUR_PEER_STRATEGIES
from report_lib.bench.plan import Case
from report_lib.bench.runner import case_settings, endpoint
from report_lib.bench.workload import JobSource, throttled_quota
from report_lib.closing import Closing
from report_lib.config import package_versions
from report_lib.emulator import Emulator
from report_lib.errors import BackendError, ConfigError
from report_lib.llm.settings import BackendSettings
from report_lib.llm.wire import system_prompt
from report_lib.records import ReportJob, ReportResult

PEERS_QUOTA_MINUTES = 2.0  # Σ tokens ≈ 2 × tpm: the burst, then one quota-bound minute
WORKER_TIMEOUT_S = 600.0


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def check_peers_installed(strategies: Sequence[str]) -> None:
    """ConfigError naming the missing peer libraries and the install line, before any run."""
    missing = sorted({PEER_MODULES[s] for s in strategies
                      if s in PEER_MODULES and not _importable(PEER_MODULES[s])})
    if missing:
        raise ConfigError(
            f"the peers scenario needs the optional `peers` dependency group (missing: "
            f"{', '.join(missing)}); install it with: pip install -e '.[peers]' (make setup does)"
        )


def peer_versions() -> dict[str, str]:
    """{package: version} of every peer library (``not installed`` when missing)."""
    names = sorted({p for packages in PEER_PACKAGES.values() for p in packages})
    versions = package_versions(names)
    versions.pop("python", None)
    return versions


def compile_ours() -> bool:
    """Byte-compile report_lib's modules, as pip does for every installed package (the peers'
    included). An editable install is compiled on first import, unless writing bytecode is
    off (``PYTHONDONTWRITEBYTECODE``): then every cold worker of ours would compile the
    package from source while the peers load theirs compiled. True when all compiled."""
    import report_lib

    return bool(compileall.compile_dir(Path(report_lib.__file__).parent, quiet=1))


def peer_work(jobs: Sequence[ReportJob], settings: BackendSettings, concurrency: int,
              url: str) -> PeerWork:
    """The requests every client of a case sends: our system prompt, prompt, max_tokens..."""
    return PeerWork(
        jobs=tuple(PeerJob(j.key, system_prompt(j, settings), j.prompt) for j in jobs),
        concurrency=concurrency, endpoint_url=url, model_id=settings.model_id,
        region=settings.region, max_tokens=settings.max_tokens,
        temperature=settings.temperature)


def worker_spec(case: Case, jobs: Sequence[ReportJob], settings: BackendSettings,
                url: str) -> dict[str, Any]:
    """The worker's first stdin line for ``case``."""
    return {"strategy": case.strategy, "variant": case.variant,
            "work": asdict(peer_work(jobs, settings, case.concurrency, url)),
            "settings": asdict(settings), "jobs": [asdict(j) for j in jobs]}


def _worker_env() -> dict[str, str]:
    env = {**os.environ, **DUMMY_KEYS, "AWS_EC2_METADATA_DISABLED": "true",
           "PYTHONUNBUFFERED": "1"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


class PeerProcess(Closing):
    """A worker process: ``PeerProcess(spec)`` starts it; warm ones answer ``run()``."""

    def __init__(self, spec: dict[str, Any], timeout_s: float = WORKER_TIMEOUT_S) -> None:
        self.label = f"{spec['strategy']}/{spec['variant']}"
        self.timeout_s = timeout_s
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close)
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "report_lib.bench.peer_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=_worker_env())
        self._send(json.dumps({**spec, "t_spawn": self.t_spawn}))

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self._failure("ended before it was asked to run") from None

    def _failure(self, what: str) -> BackendError:
        self._stderr.seek(0)
        tail = self._stderr.read().strip()[-800:]
        return BackendError(f"peer worker {self.label} {what}: {tail}",
                            error_type="PeerWorkerFailed")

    def receive(self) -> dict[str, Any]:
        """The worker's next JSON line (BackendError if it ends or goes quiet)."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready:
            raise self._failure(f"sent nothing for {self.timeout_s:g} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise self._failure(f"ended with status {self.proc.returncode}")
        data: dict[str, Any] = json.loads(line)
        return data

    def run(self) -> dict[str, Any]:
        """One measured run of a warm worker."""
        self._send("run")
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("quit")
                self.proc.wait(timeout=30)
            except (BackendError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()


def start_warm(spec: dict[str, Any]) -> PeerProcess:
    """A warm worker, after its unrecorded warm-up round."""
    worker = PeerProcess(spec)
    try:
        if not worker.receive().get("ready"):
            raise worker._failure("did not report ready")
    except BaseException:
        worker.close()
        raise
    return worker


def run_cold(spec: dict[str, Any]) -> dict[str, Any]:
    """One cold run: a fresh process from spawn to its last report."""
    with PeerProcess(spec) as worker:
        return worker.receive()


def results_of(out: dict[str, Any], jobs: Sequence[ReportJob]) -> list[ReportResult]:
    """The worker's calls as ReportResults (a lost report keeps its error, never text)."""
    kinds = {j.key: j.kind for j in jobs}
    results = []
    for call in out["calls"]:
        ok = bool(call["ok"])
        results.append(ReportResult(
            key=call["key"], kind=kinds.get(call["key"], ""), content="" if ok else None,
            seconds=call["end_s"] - call["start_s"], start_s=call["start_s"],
            end_s=call["end_s"], input_tokens=call["input_tokens"],
            output_tokens=call["output_tokens"],
            attempts=int(call.get("extra", {}).get("attempts", 1)),
            error_type=None if ok else (call["error_type"] or "Error"),
            error_message=call["error_message"], worker=call["key"]))
    return results


def peer_row(case: Case, repeat: int, out: dict[str, Any], jobs: Sequence[ReportJob],
             emu: Emulator, scale: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """A results row (plus ``first_call_s``) and its timeline from one worker answer."""
    results = results_of(out, jobs)
    measured = Measured(float(out["makespan_s"]), float(out["cpu_s"]),
                        float(out["peak_rss_mb"]), None, emu.stats())
    row = make_row(case, repeat, results, measured, time_scale=scale, external=False,
                   backend="emulator")
    row["first_call_s"] = float(out.get("first_call_s", math.nan))
    return row, timeline(row, results)


def _case_settings(case: Case, base: BackendSettings, scale: float,
                   jobs: Sequence[ReportJob], emu: Emulator) -> BackendSettings:
    """Ours under a quota: the limiter told the quota (the throttled scenario's ``limiter``)."""
    if case.variant == "quota" and case.strategy in OUR_PEER_STRATEGIES:
        return case_settings(replace(case, variant="limiter"), base, scale, jobs, emu)
    return replace(base, endpoint_url=emu.url)


Record = Callable[[dict[str, Any], dict[str, Any]], None]


def run_peer_group(cases: Sequence[Case], *, base: BackendSettings, source: JobSource,
                   repeats: int, scale: float, emu: Emulator, record: Record,
                   on_run: Callable[[str, str], None] | None = None) -> None:
    """Measure ``cases`` (one N, one emulator) side by side: warm ones, then cold ones, per
    repeat; ``record(row, timeline)`` gets every run, ``on_run(label, run)`` announces it."""
    announce = on_run or (lambda label, run: None)
    specs = []
    for case in cases:
        jobs = source.jobs(case.scenario, case.n_jobs)
        settings = _case_settings(case, base, scale, jobs, emu)
        specs.append((case, jobs, worker_spec(case, jobs, settings, emu.url)))
    warm: dict[Case, PeerProcess] = {}
    try:
        for case, _, spec in specs:
            if case.variant != "cold":
                announce(case.label, "warm-up")
                emu.reset_stats()
                warm[case] = start_warm(spec)
        for repeat in range(1, repeats + 1):
            for case, jobs, spec in specs:
                announce(case.label, f"run {repeat}/{repeats}")
                emu.reset_stats()  # fresh counters and a full token bucket
                out = warm[case].run() if case in warm else run_cold(spec)
                record(*peer_row(case, repeat, out, jobs, emu, scale))
    finally:
        for worker in warm.values():
            worker.close()


def run_peers(cases: Sequence[Case], *, base: BackendSettings, source: JobSource,
              repeats: int, scale: float, record: Record,
              on_run: Callable[[str, str], None] | None = None) -> None:
    """The whole scenario: per emulator (no quota; the quota) and per N, side by side."""
    compile_ours()  # a cold run of ours loads compiled modules, as the peers' do
    plain = [c for c in cases if c.variant != "quota"]
    quota = [c for c in cases if c.variant == "quota"]
    if plain:
        with endpoint(False, plain[0].latency_model, scale, None) as emu:
            assert emu is not None
            for n in sorted({c.n_jobs for c in plain}):
                group = [c for c in plain if c.n_jobs == n]
                run_peer_group(group, base=base, source=source, repeats=repeats, scale=scale,
                               emu=emu, record=record, on_run=on_run)
    for n in sorted({c.n_jobs for c in quota}):
        tpm = throttled_quota(source.jobs("peers", n), minutes=PEERS_QUOTA_MINUTES)
        group = [replace(c, tpm=tpm) for c in quota if c.n_jobs == n]
        with endpoint(False, group[0].latency_model, scale, tpm) as emu:
            assert emu is not None
            run_peer_group(group, base=base, source=source, repeats=repeats, scale=scale,
                           emu=emu, record=record, on_run=on_run)
