"""One cold run in a fresh process: the ``cold`` variant of the seed scenario.

``python -m report_lib.bench.cold`` reads {"settings", "strategy", "concurrency", "data_seed"}
as JSON on stdin and runs ``generate_reports`` on the sample workbooks of that seed (the seed
scenario's three reports) from a cold start, as ``report-lib generate`` does: no client, no
connection, no event loop yet; the workbooks are read inside the run. It writes
{"makespan_s", "results"} as JSON on stdout; the makespan is the run's ``total_time``, as
``report-lib generate`` reports it: the client is built while the data is read and the facts
computed, the clock starts when the facts are ready, and what is left of the client's build is
waited for inside it. The interpreter's start and imports come before and are not counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from report_lib.app.generate import generate_reports
from report_lib.data.sample import ensure_sample_data, write_sample_data
from report_lib.errors import BackendError
from report_lib.llm.settings import BackendSettings
from report_lib.records import ReportResult


def run_cold(settings: BackendSettings, strategy: str, concurrency: int, data_seed: int = 0,
             timeout_s: float = 600.0) -> tuple[float, list[ReportResult]]:
    """(makespan, results) of one ``generate_reports`` run in a fresh Python process."""
    spec = {"settings": asdict(settings), "strategy": strategy, "concurrency": concurrency,
            "data_seed": data_seed}
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
    settings = _settings(spec["settings"])
    with tempfile.TemporaryDirectory(prefix="report-lib-cold-") as scratch:
        seed = int(spec["data_seed"])
        # the default sample data is seed 0 (report-lib generate's default --data)
        data = (ensure_sample_data() if seed == 0
                else write_sample_data(Path(scratch), seed=seed)["workbooks_dir"])
        run = generate_reports(data, backend=settings.backend, strategy=spec["strategy"],
                               max_concurrency=spec["concurrency"], settings=settings)
    print(json.dumps({"makespan_s": run.total_time,
                      "results": [asdict(r) for r in run.results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
