"""A grid on a real Dask cluster: `dask scheduler` and two `dask worker` processes (the CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

BIN = Path(sys.executable).parent


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _scheduler_address(scheduler_file: Path, deadline: float) -> str:
    """The address in the scheduler's file, once the scheduler has finished writing it (the
    file appears empty first: reading it then is not an error, only too early)."""
    while True:
        try:
            return str(json.loads(scheduler_file.read_text(encoding="utf-8"))["address"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A scheduler and two single-threaded workers started with the `dask` command."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    processes = [
        _start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                "--no-dashboard", "--scheduler-file", str(scheduler_file)],
               folder / "scheduler.log"),
    ]  # fmt: skip
    try:
        address = _scheduler_address(scheduler_file, time.monotonic() + 60)
        for name in ("w1", "w2"):
            processes.append(_start(
                [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--name", name, "--local-directory", str(folder / name)],
                folder / f"{name}.log",
            ))  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            workers = sorted(client.scheduler_info()["workers"])
        yield {"address": address, "workers": workers}
    finally:
        for process in reversed(processes):
            _stop(process)


def _pipeline(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "report-lib"), "pipeline", "--no-progress", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _manifest(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "runs.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_grid_on_external_workers_isolates_a_failing_run(
    cluster: dict[str, Any], sample_dir: dict[str, Any], sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    latest = sample_frame[sample_frame["month"] == sample_frame["month"].max()]
    top2 = list(latest.sort_values("rank")["cpo"].head(2))
    out = tmp_path / "site"
    common = ["--notebooks", "reports", "--scheduler", cluster["address"], "-p", "backend",
              "offline", "-p", "data_path", str(sample_dir["workbooks_dir"]), "--out", str(out)]
    done = _pipeline([*common, "--grid", "focus_cpo=top:2,없는사업자"])
    assert done.returncode == 1, done.stderr
    runs = _manifest(out)
    assert [r["parameters"]["focus_cpo"] for r in runs] == [*top2, "없는사업자"]
    assert [r["status"] for r in runs] == ["ok", "ok", "failed"]
    assert sorted({r["worker"] for r in runs}) == cluster["workers"]  # both workers ran some
    assert runs[0]["error"] is None and "unknown focus operator '없는사업자'" in runs[2]["error"]
    for run in runs:  # the failed run keeps its partial notebook and page
        assert (out / run["page"]).is_file() and (out / run["executed_notebook"]).is_file()
        assert run["page"] == f"runs/{run['slug']}/reports.html" and run["seconds"] > 0
    assert (out / "runs" / runs[0]["slug"] / "reports" / "result.json").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<h2>Runs</h2>" in index and "<h2>Pages</h2>" not in index  # nothing else ran
    assert all(f'href="{r["page"]}"' in index for r in runs)
    assert "3 runs of the grid: 2 ok, 1 failed" in index

    again = _pipeline([*common, "--grid", "focus_cpo=top:2,없는사업자", "--skip-unchanged"])
    assert again.returncode == 1, again.stderr
    assert [r["status"] for r in _manifest(out)] == ["skipped", "skipped", "failed"]
    good = _pipeline([*common, "--grid", "focus_cpo=top:2", "--skip-unchanged"])
    assert good.returncode == 0, good.stderr
    assert [r["status"] for r in _manifest(out)] == ["skipped", "skipped"]


@pytest.mark.slow
def test_a_worker_without_the_kernel_runs_its_own_interpreter_and_says_so(
    cluster: dict[str, Any], sample_dir: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    data = str(sample_dir["workbooks_dir"])
    done = _pipeline(["--notebooks", "reports", "--scheduler", cluster["address"],
                      "--kernel", "no-such-kernel", "--grid", "focus_cpo=top:1", "-p",
                      "backend", "offline", "-p", "data_path", data, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    (run,) = _manifest(out)
    assert run["status"] == "ok" and run["error"] is None
    assert "Jupyter kernel 'no-such-kernel' is not installed" in run["note"]


@pytest.mark.slow
def test_runs_share_a_local_worker_without_sharing_a_working_folder(
    sample_dir: dict[str, Any], tmp_path: Path
) -> None:
    """Two runs at once in one worker process (--runs-per-worker 2): each kernel starts in its
    own folder, none of them changes the process's working folder under the other."""
    out = tmp_path / "site"
    done = _pipeline(["--notebooks", "reports", "--workers", "1", "--runs-per-worker", "2",
                      "--grid", "focus_cpo=top:4", "-p", "backend", "offline", "-p",
                      "data_path", str(sample_dir["workbooks_dir"]), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    runs = _manifest(out)
    assert [r["status"] for r in runs] == ["ok"] * 4 and len({r["worker"] for r in runs}) == 1
    spans = []
    for run in runs:
        meta = json.loads((out / run["executed_notebook"]).read_text(encoding="utf-8"))
        papermill = meta["metadata"]["papermill"]
        spans.append((papermill["start_time"], papermill["end_time"]))
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in pairwise(spans))
