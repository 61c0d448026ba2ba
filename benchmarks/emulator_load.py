"""Load test of the Bedrock emulator: N concurrent Converse calls, each on time within 5 %?

Starts ``Emulator(latency_model="fixed:LATENCY")`` in its own process, fires N concurrent
Converse POSTs from one aiohttp client (raw HTTP with a dummy Authorization header; the
server is what is measured) and compares each request's latency, measured by the client from
its own send to the last byte of the answer, with the latency the server meant (the answer's
``metrics.latencyMs``; LATENCY for the fixed model, a jittered draw for ``--latency-model``).

The starts are spread over ``--ramp`` seconds, less than the latency, so all N are in flight
together (the script checks the server's max_in_flight). With ``--ramp 0`` one Python client
opening N connections in the same instant is itself the bottleneck: it adds a few hundred ms
to every request before its bytes reach the server (the server's own overshoot past each
deadline is printed as ``worst overshoot``).

Client and server share the machine's cores: run it on an otherwise idle machine. When other
jobs load the cores, the client falls behind and its measured latencies grow while the
server's overshoot stays a few ms; the load average is printed with the results.

Exit status 1 if fewer than ``--required`` of the requests finish within ``--tolerance`` of
their target, if any request fails, or if not all N overlapped.

    python benchmarks/emulator_load.py                 # N=1000, fixed 2.0 s
    python benchmarks/emulator_load.py --n 2000 --latency 3.0
    python benchmarks/emulator_load.py --latency-model sonnet --time-scale 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass

import aiohttp
from botocore.eventstream import EventStreamBuffer

from report_lib.emulator import Emulator

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HEADERS = {"Authorization": "AWS4-HMAC-SHA256 Credential=dummy (not checked by the emulator)"}


@dataclass
class Sample:
    seconds: float
    target: float  # the server's metrics.latencyMs, in seconds
    status: int

    @property
    def error(self) -> float:
        return abs(self.seconds - self.target) / self.target if self.target else 0.0


def _latency_ms(raw: bytes, stream: bool) -> float:
    """``metrics.latencyMs`` of a Converse body, or of a ConverseStream's metadata event."""
    if not stream:
        return float(json.loads(raw)["metrics"]["latencyMs"])
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    for message in buffer:
        if message.headers.get(":event-type") == "metadata":
            return float(json.loads(message.payload)["metrics"]["latencyMs"])
    raise ValueError("the stream carried no metadata event")


async def _one(
    session: aiohttp.ClientSession, url: str, i: int, delay: float, stream: bool
) -> Sample:
    body = {
        "messages": [{"role": "user", "content": [{"text": f"load test request {i}"}]}],
        "inferenceConfig": {"maxTokens": 800},
    }
    payload = json.dumps(body).encode()
    await asyncio.sleep(delay)
    t0 = time.perf_counter()
    async with session.post(url, data=payload, headers=HEADERS) as resp:
        raw = await resp.read()
        seconds = time.perf_counter() - t0
    target = _latency_ms(raw, stream) / 1000 if resp.status == 200 else 0.0
    return Sample(seconds, target, resp.status)


async def _fire(
    base_url: str, n: int, ramp: float, stream: bool = False
) -> tuple[list[Sample], float]:
    operation = "converse-stream" if stream else "converse"
    url = f"{base_url}/model/{MODEL_ID.replace(':', '%3A')}/{operation}"
    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap on connections
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter()
        samples = await asyncio.gather(
            *(_one(session, url, i, ramp * i / n, stream) for i in range(n))
        )
        return list(samples), time.perf_counter() - t0


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "?"
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1000, help="concurrent requests (default 1000)")
    parser.add_argument(
        "--latency", type=float, default=2.0, help="fixed latency in seconds (default 2.0)"
    )
    parser.add_argument(
        "--latency-model",
        default=None,
        metavar="MODEL",
        help="use this emulator latency model instead of fixed:LATENCY (e.g. sonnet)",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulator time scale")
    parser.add_argument(
        "--tolerance", type=float, default=0.05, help="allowed relative error (default 0.05)"
    )
    parser.add_argument(
        "--required",
        type=float,
        default=1.0,
        help="fraction of requests that must be within tolerance (default 1.0 = every one)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=1.0,
        help="spread the N starts over this many seconds (default 1.0; keep it below the "
        "latency so all N are in flight at once)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="ConverseStream instead of Converse (latency = time to the last event)",
    )
    args = parser.parse_args(argv)
    model = args.latency_model or f"fixed:{args.latency}"

    load_before = _load()
    with Emulator(latency_model=model, time_scale=args.time_scale) as emu:
        samples, makespan = asyncio.run(_fire(emu.url, args.n, args.ramp, args.stream))
        stats = emu.stats()

    good = [s for s in samples if s.status == 200]
    errors = [s.error for s in good] or [1.0]
    within = sum(e <= args.tolerance for e in errors) / args.n
    print(
        f"emulator load: n={args.n} concurrent {'ConverseStream' if args.stream else 'Converse'} "
        f"calls, latency model {model}, "
        f"time scale {args.time_scale:g}, starts spread over {args.ramp:g} s"
    )
    print(
        f"  cores {os.cpu_count()}, load average (1/5/15 min) before {load_before}, after {_load()}"
    )
    print(f"  makespan            {makespan:.3f} s")
    if good:
        print(f"  latency median      {statistics.median(s.seconds for s in good):.3f} s")
    print(f"  rel. error median   {statistics.median(errors) * 100:.2f} %")
    print(f"  rel. error p95      {_percentile(errors, 0.95) * 100:.2f} %")
    print(f"  rel. error max      {max(errors) * 100:.2f} %")
    print(f"  within {args.tolerance * 100:g} %         {within * 100:.1f} % of requests")
    print(f"  non-200 answers     {args.n - len(good)}")
    print(
        f"  server: max_in_flight {stats['max_in_flight']}, answered {stats['answered']}, "
        f"worst overshoot past a deadline {stats['max_late_ms']:.1f} ms"
    )
    all_in_flight = stats["max_in_flight"] >= args.n
    if not all_in_flight:
        print(f"  not all {args.n} requests were in flight at once: lower --ramp")
    ok = len(good) == args.n and within >= args.required and all_in_flight
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
