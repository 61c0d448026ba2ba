"""The command in hostile surroundings: warnings once, any locale, a full disk, bounded inputs."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from report_lib.cli.common import Bounded, positive_float, positive_int
from report_lib.cli.main import build_parser, main
from tests.helpers import make_tiny_frame as tiny_frame
from tests.helpers import tiny_rows, write_ministry

CLI = [sys.executable, "-m", "report_lib.cli"]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd,
                          encoding="utf-8", errors="replace")


def _blocked_cache(root: Path) -> Path:
    """A cache folder where no entry can be read or stored (each shard folder is a file)."""
    cache = root / "cache"
    cache.mkdir()
    for shard in range(256):
        (cache / f"{shard:02x}").write_text("", encoding="utf-8")
    return cache


# --------------------------------------------------------------------------- warnings once
@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["thread", "process", "dask"])
def test_a_cache_warning_is_one_line_once(strategy: str, tmp_path: Path) -> None:
    proc = _cli("generate", "--strategy", strategy, "--cache", str(_blocked_cache(tmp_path)),
                "--time-scale", "0.01", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    about_cache = [line for line in proc.stderr.splitlines() if "cache" in line]
    assert len(about_cache) == 1, proc.stderr
    assert about_cache[0].startswith("report-lib: warning: response cache ")
    assert "CacheWarning" not in proc.stderr and "cache.py" not in proc.stderr


# --------------------------------------------------------------------------- any locale
POSIX = {"LC_ALL": "POSIX", "LANG": "POSIX", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}


@pytest.mark.slow
def test_korean_names_and_messages_survive_a_posix_locale(tmp_path: Path) -> None:
    data = write_ministry(tmp_path / "데이터" / "충전인프라 현황_2511.xlsx", tiny_rows())
    reports, result = tmp_path / "보고서", tmp_path / "결과.json"
    proc = _cli("generate", "--data", str(data), "--markdown-dir", str(reports),
                "--out", str(result), "--time-scale", "0.01", "--language", "ko",
                "--no-progress", env=POSIX)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "UnicodeEncodeError" not in proc.stderr
    assert f"wrote {result}" in proc.stdout and f"wrote {reports / 'kpi.md'}" in proc.stdout
    assert sorted(p.name for p in reports.iterdir()) == ["cpo.md", "kpi.md", "trend.md"]
    assert json.loads(result.read_text(encoding="utf-8"))["language"] == "ko"


@pytest.mark.slow
def test_a_korean_name_in_an_error_is_shown_as_itself_in_a_posix_locale(tmp_path: Path) -> None:
    missing = tmp_path / "없는 파일_2511.xlsx"
    proc = _cli("generate", "--backend", "offline", "--data", str(missing), env=POSIX)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"report-lib: error: {missing}: no such file")
    assert proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------- a full disk
def _can_mount_tmpfs(tmp_path: Path) -> str | None:
    """None when ``unshare -m`` may mount a tmpfs here, else why not (the test is skipped)."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    point = tmp_path / "probe"
    point.mkdir()
    probe = subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs",
                            str(point)], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a mount namespace: {probe.stderr.strip()}"
    return None


def _on_a_full_disk(full: Path, *args: str,
                    env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command run where ``full`` is a tiny tmpfs filled up (private to that command)."""
    script = ('mount -t tmpfs -o size=16k tmpfs "$1" && shift && '
              'dd if=/dev/zero of="$FULL/fill" bs=4k count=8 2>/dev/null; exec "$@"')
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(full), *CLI, *args],
        capture_output=True, text=True, timeout=240, encoding="utf-8",
        env={**os.environ, **env, "FULL": str(full)},
    )


@pytest.mark.slow
def test_a_full_disk_under_out_loses_no_answer(
    tmp_path: Path, dummy_credentials: None
) -> None:
    from report_lib.emulator import Emulator

    if (why := _can_mount_tmpfs(tmp_path)) is not None:
        pytest.skip(why)
    full, cache, rescue = tmp_path / "full", tmp_path / "cache", tmp_path / "rescue"
    for folder in (full, rescue):
        folder.mkdir()
    common = ["generate", "--cache", str(cache), "--no-progress"]
    with Emulator(latency_model="fixed:0.01") as emu:
        proc = _on_a_full_disk(full, *common, "--endpoint-url", emu.url,
                               "--out", str(full / "run.json"),
                               "--markdown-dir", str(full / "md"), env={"TMPDIR": str(rescue)})
        paid = emu.stats()["answered"]
        again = _cli(*common, "--endpoint-url", emu.url, "--out", str(tmp_path / "run.json"))
        after = emu.stats()["answered"]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    table = proc.stdout.splitlines()
    assert [line.split()[0] for line in table[1:4]] == ["kpi", "cpo", "trend"]  # still printed
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("report-lib: error: ")
    assert f"cannot write {full / 'run.json'}" in proc.stderr and "No space left" in proc.stderr
    (fallback,) = rescue.iterdir()
    assert str(fallback) in proc.stderr and f"--cache {cache}" in proc.stderr
    saved = json.loads(fallback.read_text(encoding="utf-8"))
    assert sorted(saved["reports"]) == ["cpo", "kpi", "trend"] and paid == 3
    assert all(saved["reports"][k]["content"] for k in saved["reports"])
    # the re-run is served from the cache: nothing new is paid, the same reports are written
    assert again.returncode == 0 and after == paid
    assert again.stdout.count("ok (cached)") == 3
    written = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert written["reports"] == saved["reports"]


# --------------------------------------------------------------------------- bounded inputs
BOUNDED_COMMANDS = ["generate", "sample-data", "bench", "pipeline"]  # demo has no number


def _numeric_options(command: str) -> list[argparse.Action]:
    parser = dict(next(a for a in build_parser()._actions
                       if isinstance(a, argparse._SubParsersAction)).choices)[command]
    unbounded = {int, float, positive_int, positive_float}
    actions = [a for a in parser._actions if a.option_strings]
    assert not [a.option_strings for a in actions if a.type in unbounded], command
    return [a for a in actions if isinstance(a.type, Bounded)]


@pytest.mark.parametrize("command", BOUNDED_COMMANDS)
def test_every_numeric_option_states_its_range_in_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = _numeric_options(command)
    assert options, command
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for action in options:
        entry = text[text.rindex(action.option_strings[-1] + " "):]
        assert action.type.range in entry[:400], (command, action.option_strings)
        if action.default is not None:  # the default is inside its own range
            assert action.type(str(action.default)) == action.default


@pytest.mark.parametrize("command", BOUNDED_COMMANDS)
def test_every_numeric_option_refuses_values_outside_its_range_in_one_line(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in _numeric_options(command):
        bound: Bounded = action.type  # type: ignore[assignment]
        too_big = int(bound.hi) * 10 + 1 if bound.kind is int else bound.hi * 10
        too_small = bound.lo if bound.above else bound.lo - 1
        for value in (too_big, too_small, "nan"):
            with pytest.raises(SystemExit) as exit_info:
                main([command, action.option_strings[-1], str(value)])
            err = capsys.readouterr().err
            assert exit_info.value.code == 2, (action.option_strings, value)
            assert err.count("\n") == 1 and action.option_strings[-1] in err, err
            assert "Traceback" not in err


@pytest.mark.slow
def test_bench_repeats_out_of_range_is_refused_before_anything_runs(tmp_path: Path) -> None:
    proc = _cli("bench", "--repeats", "100000000", "--out", str(tmp_path / "bench"))
    assert proc.returncode == 2
    assert proc.stderr == ("report-lib bench: error: argument --repeats: must be 1 to 100, got "
                           "100000000; see report-lib bench --help\n")
    assert not (tmp_path / "bench").exists()


@pytest.mark.slow
def test_a_report_named_twice_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from report_lib.app.generate import generate_reports

    assert list(generate_reports(tiny_frame(), backend="offline", kinds=["cpo", "cpo"]).reports) \
        == ["cpo"]  # the library too
    out = tmp_path / "run.json"
    code = main(["generate", "--backend", "offline", "--reports", "kpi,kpi, kpi", "--out",
                 str(out), "--no-progress"])
    assert code == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table if line.startswith("kpi")] == ["kpi"]
    assert list(json.loads(out.read_text(encoding="utf-8"))["reports"]) == ["kpi"]


def test_an_out_ending_in_a_slash_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--backend", "offline", "--out", f"{tmp_path / 'newdir'}/"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert "names a folder" in err and "newdir/run.json" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_full_disk_under_the_pipelines_reports_loses_no_answer(tmp_path: Path) -> None:
    if (why := _can_mount_tmpfs(tmp_path)) is not None:
        pytest.skip(why)
    full, rescue, site = tmp_path / "full", tmp_path / "rescue", tmp_path / "site"
    for folder in (full, rescue):
        folder.mkdir()
    proc = _on_a_full_disk(full, "pipeline", "--out", str(site), "--notebooks", "reports",
                           "-p", "backend", "offline", "-p", "output_dir", str(full / "reports"),
                           "--no-progress", env={"TMPDIR": str(rescue)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert f"cannot write {full / 'reports' / 'result.json'}" in first
    (fallback,) = rescue.iterdir()
    assert str(fallback) in first
    saved = json.loads(fallback.read_text(encoding="utf-8"))
    assert sorted(saved["reports"]) == ["cpo", "kpi", "trend"]
    assert (site / "index.html").is_file()  # the site itself says what happened


@pytest.mark.slow
def test_a_full_disk_under_the_pipelines_site_is_one_line(tmp_path: Path) -> None:
    if (why := _can_mount_tmpfs(tmp_path)) is not None:
        pytest.skip(why)
    full = tmp_path / "full"
    full.mkdir()
    proc = _on_a_full_disk(full, "pipeline", "--out", str(full / "site"), "--notebooks",
                           "reports", "-p", "backend", "offline", "--no-progress", env={})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "No space left on device" in proc.stderr
    assert f"cannot write {full / 'site'}" in proc.stderr


@pytest.mark.slow
def test_a_full_disk_under_a_grid_keeps_every_finished_run(
    tmp_path: Path, sample_dir: dict[str, Any]
) -> None:
    if (why := _can_mount_tmpfs(tmp_path)) is not None:
        pytest.skip(why)
    full, rescue = tmp_path / "full", tmp_path / "rescue"
    for folder in (full, rescue):
        folder.mkdir()
    site = full / "site"
    proc = _on_a_full_disk(full, "pipeline", "--out", str(site), "--notebooks", "reports",
                           "--grid", "focus_cpo=top:2", "--workers", "1", "-p", "backend",
                           "offline", "-p", "data_path", str(sample_dir["workbooks_dir"]),
                           "--no-progress", env={"TMPDIR": str(rescue)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("report-lib: error: "), \
        proc.stderr
    assert f"cannot write {site}" in proc.stderr and "No space left" in proc.stderr
    (fallback,) = rescue.glob("report-lib-rescued-grid-*")
    assert str(fallback) in proc.stderr and f"cp -r {fallback}/. {site}/" in proc.stderr
    runs = json.loads((fallback / "runs.json").read_text(encoding="utf-8"))
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert "2 of 2 grid runs finished (2 ok)" in proc.stderr
    for run in runs:  # every page and saved file of a finished run is kept, at its site path
        assert run["files"] and all((fallback / f).is_file() for f in run["files"])
        saved = json.loads(next((fallback / f) for f in run["files"]
                                if f.endswith("result.json")).read_text(encoding="utf-8"))
        assert sorted(saved["reports"]) == ["cpo", "kpi", "trend"]
    assert (fallback / "index.html").is_file()
