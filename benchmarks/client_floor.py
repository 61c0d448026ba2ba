"""How fast can the bare client go? N concurrent Converse calls with no report_lib layer.

Sends the same report prompts as the ``scale`` scenario through ``report_lib.bench.floor`` (the
``bare`` variant: aiobotocore, one client, pool sized to N, asyncio.gather; boto3, one client, a
thread per call) to the emulator, and prints makespan, efficiency against the 1-call latency and
client CPU per call. It measures the floor that the thread and asyncio strategies sit on: the
GIL-bound CPU that botocore spends per call (serialize, SigV4-sign, send, parse), multiplied by N.

    .venv/bin/python benchmarks/client_floor.py --n 300 --latency 1.0 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

from report_lib.bench.floor import BareThreads, run_bare_async
from report_lib.data.sample import synthesize
from report_lib.emulator import Emulator
from report_lib.llm.async_client import AsyncBedrock
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportJob
from report_lib.reports.build import build_many_jobs


def _timed(run: Callable[[], object], repeats: int) -> list[tuple[float, float]]:
    run()  # warm-up
    out = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def _aio_runs(settings: BackendSettings, jobs: list[ReportJob],
              repeats: int) -> list[tuple[float, float]]:
    """bench.floor's asyncio variant: one aiobotocore client, asyncio.gather."""

    async def go() -> list[tuple[float, float]]:
        async with AsyncBedrock(settings, len(jobs)) as abed:
            loop = asyncio.get_running_loop()

            def once() -> Awaitable[object]:
                return run_bare_async(abed.client, jobs, settings)

            out = []
            await once()  # warm-up
            for _ in range(repeats):
                t0, c0 = loop.time(), time.process_time()
                await once()
                out.append((loop.time() - t0, time.process_time() - c0))
            return out

    return asyncio.run(go())


def _thread_runs(settings: BackendSettings, jobs: list[ReportJob],
                 repeats: int) -> list[tuple[float, float]]:
    """bench.floor's thread variant: one boto3 client, a thread per call."""
    bare = BareThreads(settings, len(jobs))
    try:
        return _timed(lambda: bare.run(jobs), repeats)
    finally:
        bare.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="concurrent calls (default: 300)")
    parser.add_argument("--latency", type=float, default=1.0, help="fixed latency s (default: 1)")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs (default: 3)")
    ns = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "emulator")  # the emulator ignores signatures
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "emulator")
    jobs = build_many_jobs(synthesize(seed=0), ns.n)
    with Emulator(latency_model=f"fixed:{ns.latency}") as emu:
        settings = BackendSettings(backend="emulator", endpoint_url=emu.url, max_attempts=1)
        rows = {
            "aiobotocore + asyncio.gather": _aio_runs(settings, jobs, ns.repeats),
            "boto3 + one thread per call": _thread_runs(settings, jobs, ns.repeats),
        }
    print(f"N={ns.n}, fixed latency {ns.latency} s, {ns.repeats} repeats (medians), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'bare client':<30} {'makespan_s':>10} {'efficiency':>10} {'cpu_ms/call':>12}")
    for name, runs in rows.items():
        makespan = statistics.median(r[0] for r in runs)
        cpu_ms = statistics.median(r[1] for r in runs) / ns.n * 1000
        print(f"{name:<30} {makespan:>10.3f} {ns.latency / makespan:>10.3f} {cpu_ms:>12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
