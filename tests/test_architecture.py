"""docs/ARCHITECTURE.md's generated parts match the package, and module names say one thing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "architecture.py"
# cli's modules are named after the commands they implement; the per-kind modules of the
# reports (facts/ and offline/) are named after the report kind they hold.
SHARED_BASENAMES = {"__init__", "__main__", "kpi", "cpo", "trend"}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_architecture_doc_is_what_the_script_writes() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_block_is_rewritten_from_the_code() -> None:
    script = _script()
    key = "signature report_lib.execution.base:run_jobs"
    stale = f"<!-- generated: {key} -->\ndef run_jobs(old)\n<!-- end generated: {key} -->"
    new = script.generate(stale)
    assert "def run_jobs(old)" not in new
    assert "    strategy: str = 'thread',\n" in new
    modules = script.generate("<!-- generated: modules -->\n<!-- end generated: modules -->")
    for path in (ROOT / "report_lib").rglob("*.py"):
        if path.stem not in {"__init__", "__main__"}:
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            assert f"| `{dotted}` |" in modules


def test_module_names_are_unique_across_the_package() -> None:
    rooms: dict[str, list[str]] = defaultdict(list)
    for path in (ROOT / "report_lib").rglob("*.py"):
        rel = path.relative_to(ROOT / "report_lib")
        if rel.parts[0] != "cli" and path.stem not in SHARED_BASENAMES:
            rooms[path.stem].append(str(rel))
    assert {name: where for name, where in rooms.items() if len(where) > 1} == {}


def test_the_readme_gives_the_layers_of_the_contract() -> None:
    chain = _script().layer_chain()
    assert chain.startswith("`cli` > ") and "`emulator`" in chain
    assert chain in (ROOT / "README.md").read_text(encoding="utf-8")
