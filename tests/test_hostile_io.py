"""The command in hostile surroundings: warnings once, any locale, a full disk, bounded inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
@pytest.mark.parametrize("strategy", ["thread", "process"])
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
