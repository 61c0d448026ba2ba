"""One cold run in a fresh process: the ``cold`` variant of the seed scenario.

``python -m report_lib.bench.cold`` reads {"settings", "strategy", "concurrency", "data_seed"}
as JSON on stdin and runs ``generate_reports`` on the synthetic data of that seed (the seed
scenario's three reports) from a cold start: no client, no connection, no event loop yet. It
writes {"makespan_s", "results"} as JSON on stdout; the makespan is the run's ``total_time``, as
``report-lib generate`` reports it (the client is built while the facts are computed; the
interpreter's start and imports come before and are not counted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields
from typing import Any

from report_lib.app.generate import generate_reports
from report_lib.data.sample import synthesize
from report_lib.errors import BackendError
from report_lib.jobs import ReportResult
from report_lib.llm.settings import BackendSettings


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
    run = generate_reports(synthesize(seed=spec["data_seed"]), backend=settings.backend,
                           strategy=spec["strategy"], max_concurrency=spec["concurrency"],
                           settings=settings)
    print(json.dumps({"makespan_s": run.total_time,
                      "results": [asdict(r) for r in run.results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
