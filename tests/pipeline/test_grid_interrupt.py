"""Grids that stop cleanly: Ctrl-C, checked options, a bound on runs.

End to end: ``report-lib pipeline --grid ...`` as a real process on a local Dask cluster, sent
SIGINT (to its whole process group, as a terminal's Ctrl-C is) once its first run is in
``runs.json``. It must cancel what has not finished, write ``runs.json`` and the index with each
run ``ok``, ``failed`` (with its error) or ``cancelled``, exit 130 with one line, no traceback,
and leave no process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from report_lib.cli.main import main
from report_lib.errors import ConfigError
from report_lib.execution.base import check_scheduler_address
from report_lib.pipeline.gridspec import MAX_GRID_RUNS, parse_grid
from tests.helpers import own_group, process_family, still_running, wait_while_running

BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- checked before anything runs


@pytest.mark.parametrize("address", ["not a url", "tcp://", "http://10.0.0.1:8786", "host:0",
                                     "tcp://host:99999", "tcp://host"])
def test_a_scheduler_address_is_checked_up_front(address: str) -> None:
    with pytest.raises(ConfigError, match="is not a Dask scheduler address"):
        check_scheduler_address(address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "10.0.0.5:8786",
                                     "tls://scheduler.example:8786", "tcp://[::1]:8786"])
def test_scheduler_addresses_that_are_addresses_pass(address: str) -> None:
    assert check_scheduler_address(address) == address


def test_a_bad_scheduler_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["pipeline", "--no-progress", "--notebooks", "reports", "--scheduler",
                 "not a url", "--grid", "focus_cpo=top:1", "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "report-lib: error: --scheduler 'not a url' is not a Dask scheduler address; expected "
        "PROTOCOL://HOST:PORT with PROTOCOL one of tcp, tls, ws, wss, ucx (e.g. "
        "tcp://127.0.0.1:8786, as `dask scheduler` prints it)"
    ]
    assert not (tmp_path / "site").exists()


@pytest.mark.slow
def test_an_unknown_grid_parameter_names_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["pipeline", "--no-progress", "--notebooks", "reports", "--grid", "nope=1,2",
                 "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("report-lib: error: --grid nope: no selected notebook declares it "
                          "(reports); known parameters: ")
    known = err.split("known parameters: ")[1].split(", ")
    assert {"focus_cpo", "target_month", "window_months"} <= set(known)


def test_a_grid_larger_than_its_bound_is_refused_before_the_product_is_built() -> None:
    values = ",".join(str(i) for i in range(1000))
    with pytest.raises(ConfigError, match=r"makes 1,000,000 runs, more than --max-runs 200"):
        parse_grid([f"a={values}", f"b={values}"])
    assert MAX_GRID_RUNS == 200
    grid = parse_grid([f"a={values}"], max_runs=1000)  # the option raises the bound
    assert len(grid.combos) == 1000


@pytest.mark.slow
def test_max_runs_bounds_the_expanded_grid(
    tmp_path: Path, sample_dir: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["pipeline", "--no-progress", "--notebooks", "reports", "--grid",
                 "focus_cpo=top:5", "--max-runs", "3", "-p", "data_path",
                 str(sample_dir["workbooks_dir"]), "--out", str(tmp_path / "site")])
    assert code == 2
    assert "the grid, expanded, makes 5 runs, more than --max-runs 3" in capsys.readouterr().err


# ---------------------------------------------------------------- Ctrl-C


@pytest.mark.slow
def test_ctrl_c_cancels_the_rest_and_writes_manifest_and_index(
    sample_dir: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "site"
    cmd = [str(BIN / "report-lib"), "pipeline", "--no-progress", "--notebooks", "reports",
           "--workers", "1", "--grid", "focus_cpo=top:6", "-p", "backend", "offline",
           "-p", "data_path", str(sample_dir["workbooks_dir"]), "--out", str(out)]
    with own_group(cmd) as proc:
        wait_while_running(proc, lambda: any(r.get("status") == "ok" for r in _runs(out)), 240,
                           "no grid run finished", interval=0.2)
        family = process_family(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):  # and a second one, impatient
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    runs = _runs(out)
    statuses = [r["status"] for r in runs]
    assert len(runs) == 6 and set(statuses) <= {"ok", "failed", "cancelled"}, statuses
    assert statuses.count("ok") >= 1 and statuses.count("cancelled") >= 1, statuses
    assert all(r["error"] for r in runs if r["status"] == "failed")
    assert lines[0] == (
        f"report-lib: stopped by SIGINT: {statuses.count('ok')} of 6 grid runs had finished, "
        f"{statuses.count('cancelled')} cancelled; open {out.resolve() / 'index.html'}"
    )
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "cancelled" in index
    assert still_running(family, timeout=10.0) == []


def _runs(out: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((out / "runs.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []
