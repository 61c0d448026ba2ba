"""The command in hostile surroundings: warnings once, any locale, a full disk, bounded inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
