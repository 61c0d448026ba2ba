"""One client in its own process: a peer library or ours, measured the same way.

``python -m report_lib.bench.peer_worker`` reads one JSON line on stdin: {"strategy", "variant",
"work" (a ``PeerWork``), "settings" (ours: a ``BackendSettings``), "jobs" (ours: their kinds),
"t_spawn" (cold)}. Every strategy of the peers scenario runs in a worker of its own, so each
process holds only its own library: CPU and peak RSS are that client's, nothing else's.

- ``warm``/``quota``: it builds its client, sends one unrecorded warm-up round, prints
  {"ready": true}, then answers every ``run`` line with one measured run, as
  {"makespan_s", "cpu_s", "peak_rss_mb", "calls"}; CPU and RSS come from
  ``bench.resources.ResourceMonitor`` around the run (as for every other benchmark row). Under a
  quota ours builds a fresh backend per run (a fresh client-side limiter), peers keep theirs.
- ``cold``: nothing is imported or built before the clock: the parent's spawn time
  (``t_spawn``, ``time.perf_counter``, system-wide on Linux) is the start; it prints
  {"makespan_s" (spawn to last report), "first_call_s" (spawn to the first report: interpreter,
  imports, client, first answer), "cpu_s" (the whole process), "peak_rss_mb", "calls"} and ends.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict
from typing import Any

from report_lib.bench.peer_clients import PEER_CLIENTS, LangchainBatch, PeerCall, PeerJob, PeerWork

OURS = ("thread", "asyncio")


def work_from(data: dict[str, Any]) -> PeerWork:
    data = dict(data)
    data["jobs"] = tuple(PeerJob(**j) for j in data["jobs"])
    return PeerWork(**data)


class OursClient:
    """report-lib's thread or asyncio strategy on a warm backend (or a fresh one per run)."""

    def __init__(self, strategy: str, spec: dict[str, Any], fresh: bool) -> None:
        from report_lib.llm.settings import BackendSettings
        from report_lib.records import ReportJob

        data = dict(spec["settings"])
        data["prices"] = {k: tuple(v) for k, v in (data.get("prices") or {}).items()}
        self.settings = BackendSettings(**data)
        self.strategy = strategy
        self.jobs = [ReportJob(**j) for j in spec["jobs"]]
        self.concurrency = int(spec["work"]["concurrency"])
        self.fresh = fresh
        self.backend: Any = None

    def _backend(self) -> Any:
        from report_lib.execution import STRATEGIES
        from report_lib.llm.backends import BACKENDS, open_sync_client

        pool = STRATEGIES.get(self.strategy).pool_size(self.concurrency)
        backend = BACKENDS.create(self.settings, max_concurrency=pool)
        return backend if self.strategy == "asyncio" else open_sync_client(backend)

    def run(self, work: PeerWork) -> list[PeerCall]:
        from report_lib.execution import run_jobs

        if self.backend is None and not self.fresh:
            self.backend = self._backend()
        results = run_jobs(self.jobs[: len(work.jobs)], self.settings, strategy="thread",
                           max_concurrency=self.concurrency, backend=self.backend)
        return [_call_of(r) for r in results]

    async def arun(self, work: PeerWork) -> list[PeerCall]:
        from report_lib.execution import arun_jobs

        if self.backend is None and not self.fresh:
            self.backend = self._backend()
        results = await arun_jobs(self.jobs[: len(work.jobs)], self.settings,
                                  max_concurrency=self.concurrency, backend=self.backend)
        return [_call_of(r) for r in results]

    async def aclose(self) -> None:
        if self.backend is not None:
            await self.backend.aclose()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def _call_of(result: Any) -> PeerCall:
    return PeerCall(result.key, result.ok, result.start_s, result.end_s, result.input_tokens,
                    result.output_tokens, result.error_type, result.error_message,
                    {"attempts": result.attempts})


class Worker:
    """One strategy's client, run synchronously or on one long-lived event loop."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.strategy = spec["strategy"]
        self.variant = spec["variant"]
        self.work = work_from(spec["work"])
        self.loop = asyncio.new_event_loop()
        if self.strategy in OURS:
            self.client: Any = OursClient(self.strategy, spec, fresh=self.variant == "quota")
        else:
            self.client = PEER_CLIENTS[self.strategy](self.work)
        self.is_sync = isinstance(self.client, LangchainBatch) or self.strategy == "thread"

    def run(self, work: PeerWork | None = None) -> list[PeerCall]:
        work = work or self.work
        if self.is_sync:
            calls: list[PeerCall] = self.client.run(work)
            return calls
        return self.loop.run_until_complete(self.client.arun(work))

    def close(self) -> None:
        if not self.is_sync:
            self.loop.run_until_complete(self.client.aclose())
        elif self.strategy == "thread":
            self.client.close()
        self.loop.close()


def _warmup_work(work: PeerWork, variant: str) -> PeerWork:
    """One round at the run's concurrency (3 jobs under a quota, to leave the bucket alone)."""
    size = 3 if variant == "quota" else max(1, min(len(work.jobs), work.concurrency))
    return PeerWork(**{**asdict(work), "jobs": work.jobs[:size]})


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _calls(calls: list[PeerCall]) -> list[dict[str, Any]]:
    return [asdict(c) for c in calls]


def serve_warm(spec: dict[str, Any]) -> None:
    from report_lib.bench.resources import ResourceMonitor

    worker = Worker(spec)
    try:
        worker.run(_warmup_work(worker.work, worker.variant))
        _emit({"ready": True})
        for line in sys.stdin:
            if line.strip() != "run":
                break
            with ResourceMonitor() as monitor:
                t = time.perf_counter()
                calls = worker.run()
                makespan = time.perf_counter() - t
            _emit({"makespan_s": makespan, "cpu_s": monitor.cpu_s,
                   "peak_rss_mb": monitor.peak_rss_mb, "calls": _calls(calls)})
    finally:
        worker.close()


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux ``VmHWM``; elsewhere ``ru_maxrss``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cold(spec: dict[str, Any]) -> None:
    t_spawn = float(spec["t_spawn"])
    worker = Worker(spec)
    run_start = time.perf_counter()
    calls = worker.run()
    end = time.perf_counter()
    worker.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # ru_maxrss survives exec (it would be the parent's); VmHWM is this program's own peak
    # call times are offsets from the run's start (within the client's own call)
    ok_ends = [c.end_s for c in calls if c.ok]
    first_end = run_start + min(ok_ends) if ok_ends else float("nan")
    _emit({"makespan_s": end - t_spawn, "first_call_s": first_end - t_spawn,
           "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak_rss_mb(),
           "calls": _calls(calls)})


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    if spec["variant"] == "cold":
        run_cold(spec)
    else:
        serve_warm(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
