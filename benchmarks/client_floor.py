"""How fast can the bare client go? N concurrent Converse calls with no report_lib layer.

Sends the same report prompts as the ``scale`` scenario straight through aiobotocore
(one client, pool sized to N, asyncio.gather) and through boto3 (one client, a thread per call)
to the emulator, and prints makespan, efficiency against the 1-call latency and client CPU per
call. It measures the floor that the thread and asyncio strategies sit on: the GIL-bound CPU
that botocore spends per call (serialize, SigV4-sign, send, parse), multiplied by N.

    .venv/bin/python benchmarks/client_floor.py --n 300 --latency 1.0 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.config import Config

from report_lib.data.sample import synthesize
from report_lib.emulator import Emulator
from report_lib.records import ReportJob
from report_lib.reports.build import build_many_jobs


def _request(job: ReportJob) -> dict:
    return {
        "modelId": "emulator",
        "system": [{"text": job.system}],
        "messages": [{"role": "user", "content": [{"text": job.prompt}]}],
        "inferenceConfig": {"maxTokens": 2048},
    }


async def _aio_runs(url: str, jobs: list[ReportJob], repeats: int) -> list[tuple[float, float]]:
    config = AioConfig(max_pool_connections=len(jobs), retries={"total_max_attempts": 1})
    out = []
    async with get_session().create_client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=url, config=config
    ) as client:
        await asyncio.gather(*(client.converse(**_request(j)) for j in jobs))  # warm-up
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(client.converse(**_request(j)) for j in jobs))
            out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def _thread_runs(url: str, jobs: list[ReportJob], repeats: int) -> list[tuple[float, float]]:
    config = Config(max_pool_connections=len(jobs), retries={"total_max_attempts": 1})
    client = boto3.Session().client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=url, config=config
    )
    out = []
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(lambda j: client.converse(**_request(j)), jobs))  # warm-up
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            list(pool.map(lambda j: client.converse(**_request(j)), jobs))
            out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


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
        rows = {
            "aiobotocore + asyncio.gather": asyncio.run(_aio_runs(emu.url, jobs, ns.repeats)),
            "boto3 + one thread per call": _thread_runs(emu.url, jobs, ns.repeats),
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
