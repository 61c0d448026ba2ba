"""Fan-out of the reports notebook: a sequential papermill loop against the Dask grid.

24 runs (the 8 largest operators × the 3 last months, offline backend, sample workbooks):

- **sequential**: what a scheduled job did before grids: a loop of papermill executions, each
  reading the workbooks itself, each exported to HTML;
- **grid**: ``report-lib pipeline --grid target_month=last:3 --grid focus_cpo=top:8`` on a
  LocalCluster of ``--workers`` processes (data loaded once, handed over as a Parquet snapshot).

Prints wall time, speedup, per-run time and overhead, and the peak memory (RSS of the process
tree: worker + its kernel) per worker, as the Markdown table of ``benchmarks/README.md``.

    .venv/bin/python benchmarks/fanout.py --operators 8 --months 3 --workers 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from report_lib import config
from report_lib.data.loader import load_data
from report_lib.data.sample import ensure_sample_data
from report_lib.pipeline.execute import NotebookRun, execute_notebook
from report_lib.pipeline.export import export_html
from report_lib.pipeline.grid import RUNS_PER_WORKER, GridOptions, run_grid
from report_lib.pipeline.gridspec import parse_grid


class TreeMemory:
    """Peak RSS of each child process of this one, its descendants included (sampled)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.interval):
            for child in me.children():
                try:
                    rss = child.memory_info().rss + sum(
                        p.memory_info().rss for p in child.children(recursive=True)
                    )
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)

    def largest(self, n: int) -> list[int]:
        return sorted(self.peaks.values(), reverse=True)[:n]


def runs(data: Path, operators: int, months: int) -> list[dict[str, Any]]:
    """The same (month, operator) pairs the grid's top:N × last:N expands to."""
    frame = load_data(data)
    chosen = sorted(frame["month"].unique())[-months:]
    pairs = []
    for month in chosen:
        rows = frame[frame["month"] == month].sort_values(["rank", "cpo"], kind="stable")
        pairs += [{"target_month": month, "focus_cpo": c} for c in rows["cpo"].head(operators)]
    return pairs


def sequential(data: Path, pairs: list[dict[str, Any]], out: Path, kernel: str) -> list[float]:
    """One papermill execution and HTML export after the other; seconds of each."""
    source = config.NOTEBOOKS_DIR / "reports.ipynb"
    out.mkdir(parents=True, exist_ok=True)
    seconds = []
    for k, pair in enumerate(pairs):
        started = time.perf_counter()
        parameters = {"backend": "offline", "data_path": str(data),
                      "output_dir": str(out / f"run{k:02d}"), **pair}  # fmt: skip
        run = NotebookRun("reports", source, parameters, notebook=out / f"run{k:02d}.ipynb")
        execute_notebook(run, kernel, 600, False)
        if run.status != "ok":
            raise SystemExit(f"sequential run {k} failed: {run.ename}: {run.evalue}")
        assert run.notebook is not None
        export_html(run.notebook, out / f"run{k:02d}.html", title="reports")
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operators", type=int, default=8)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs-per-worker", type=int, default=RUNS_PER_WORKER)
    parser.add_argument("--kernel", default=config.KERNEL_NAME)
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    data = ensure_sample_data()
    pairs = runs(data, args.operators, args.months)
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        seq: list[float] = []
        seq_wall, seq_peak = 0.0, 0
        if not args.skip_sequential:
            with TreeMemory() as memory:
                started = time.perf_counter()
                seq = sequential(data, pairs, Path(tmp) / "seq", args.kernel)
                seq_wall = time.perf_counter() - started
            seq_peak = max(memory.largest(1), default=0)
        options = GridOptions(
            Path(tmp) / "grid",
            {"backend": "offline", "data_path": str(data)},
            parse_grid([f"target_month=last:{args.months}", f"focus_cpo=top:{args.operators}"]),
            ["reports"], kernel_name=args.kernel, workers=args.workers,
            runs_per_worker=args.runs_per_worker, progress=False,
        )  # fmt: skip
        with TreeMemory() as memory:
            started = time.perf_counter()
            result = run_grid(options)
            grid_wall = time.perf_counter() - started
        worker_peaks = memory.largest(args.workers)
    report(args, pairs, seq, seq_wall, seq_peak, result.entries, grid_wall, worker_peaks)


def report(
    args: argparse.Namespace,
    pairs: list[dict[str, Any]],
    seq: list[float],
    seq_wall: float,
    seq_peak: int,
    entries: list[Any],
    grid_wall: float,
    worker_peaks: list[int],
) -> None:
    task = [e.seconds for e in entries]
    workers = sorted({e.worker for e in entries})
    failed = [e for e in entries if e.status != "ok"]
    overhead = (grid_wall * args.workers - sum(task)) / len(task)
    mib = 1024 * 1024
    load = os.getloadavg()[1]
    print(f"{len(pairs)} runs ({args.operators} operators × {args.months} months, offline), "
          f"{os.cpu_count()} CPUs, load average {load:.2f} (5 min); grid on {len(workers)} "
          f"workers; {len(failed)} failed\n")  # fmt: skip
    print("| | wall | per run (median) | speedup | overhead per run | peak memory |")
    print("|---|---:|---:|---:|---:|---:|")
    if seq:
        print(f"| sequential papermill loop | {seq_wall:.1f} s | {statistics.median(seq):.2f} s "
              f"| 1.00× | — | {seq_peak / mib:.0f} MiB (client + kernel) |")  # fmt: skip
    speedup = f"{seq_wall / grid_wall:.2f}×" if seq else "—"
    peaks = " / ".join(f"{p / mib:.0f}" for p in worker_peaks)
    print(f"| Dask grid, {args.workers} local workers | {grid_wall:.1f} s | "
          f"{statistics.median(task):.2f} s | {speedup} | {overhead:.2f} s | "
          f"{peaks} MiB per worker (worker + kernel) |")  # fmt: skip


if __name__ == "__main__":
    main()
