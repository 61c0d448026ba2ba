"""One cold run in a fresh process: the ``cold`` variant of the seed scenario.

``python -m report_lib.bench.cold`` reads {"settings", "strategy", "concurrency", "jobs"} as
JSON on stdin, runs the jobs from a cold start (no client, no connection, no event loop yet)
and writes {"makespan_s", "results"} as JSON on stdout. The makespan is measured as ``report-lib
generate`` measures ``total_time``: from before the client is built to the last answer; the
interpreter's start and imports come before it and are not counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from report_lib.errors import BackendError
from report_lib.execution import run_jobs
from report_lib.jobs import ReportJob, ReportResult
from report_lib.llm.settings import BackendSettings


def run_cold(jobs: Sequence[ReportJob], settings: BackendSettings, strategy: str,
             concurrency: int, timeout_s: float = 600.0) -> tuple[float, list[ReportResult]]:
    """(makespan, results) of one run in a fresh Python process."""
    spec = {"settings": asdict(settings), "strategy": strategy, "concurrency": concurrency,
            "jobs": [asdict(j) for j in jobs]}
    done = subprocess.run([sys.executable, "-m", "report_lib.bench.cold"],
                          input=json.dumps(spec), capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise BackendError(f"the cold-start process failed ({done.returncode}): "
                           f"{done.stderr.strip()[-500:]}", error_type="ColdStartFailed")
    out = json.loads(done.stdout)
    names = {f.name for f in fields(ReportResult)}
    results = [ReportResult(**{k: v for k, v in r.items() if k in names})
               for r in out["results"]]
    return float(out["makespan_s"]), results


def _settings(data: dict[str, Any]) -> BackendSettings:
    data = dict(data)
    data["prices"] = {k: tuple(v) for k, v in (data.get("prices") or {}).items()}
    return BackendSettings(**data)


def main() -> int:
    spec = json.loads(sys.stdin.read())
    jobs = [ReportJob(**j) for j in spec["jobs"]]
    settings = _settings(spec["settings"])
    t0 = time.perf_counter()
    results = run_jobs(jobs, settings, strategy=spec["strategy"],
                       max_concurrency=spec["concurrency"])
    makespan = time.perf_counter() - t0
    print(json.dumps({"makespan_s": makespan, "results": [asdict(r) for r in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
