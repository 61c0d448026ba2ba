"""Where the package reads and writes: the home (``REPORT_LIB_HOME``, else the working folder),
never the package's own location; the notebooks ship inside the package."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from report_lib import config
from tests.helpers import REPO


def _home_in(cwd: Path, env: dict[str, str]) -> str:
    """config.HOME as a fresh interpreter started in ``cwd`` with ``env`` sees it."""
    code = "from report_lib import config; print(config.HOME, config.OUTPUT_DIR, config.SAMPLE_DIR)"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()


def test_the_home_is_the_working_folder_unless_report_lib_home_names_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != config.HOME_ENV}
    env["PYTHONPATH"] = str(REPO)  # the package from this clone, whatever the working folder
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    assert _home_in(work, env).split() == [
        str(work.resolve()), str(work.resolve() / "outputs"), str(work.resolve() / "data/sample")]
    named = _home_in(work, {**env, config.HOME_ENV: str(elsewhere)})
    assert named.split()[0] == str(elsewhere.resolve())
    assert str(REPO) not in _home_in(work, env)  # not the package's location


def test_the_notebooks_ship_inside_the_package() -> None:
    assert (config.PACKAGE_DIR / "notebooks").resolve() == config.NOTEBOOKS_DIR
    # in a clone, the package's notebooks are the repository's notebooks/ (one copy)
    assert config.NOTEBOOKS_DIR == REPO / "notebooks"
    names = sorted(p.name for p in config.NOTEBOOKS_DIR.glob("*.ipynb"))
    assert names == ["benchmark.ipynb", "comparison_report.ipynb", "reports.ipynb"]


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_wheel_installed_elsewhere_writes_into_the_working_folder_only(tmp_path: Path) -> None:
    # the source as a clone holds it (the notebooks link kept as a link), built into a wheel
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "notebooks", source / "notebooks")
    shutil.copytree(REPO / "report_lib", source / "report_lib", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                    "-w", str(dist), str(source)], check=True, timeout=300)
    (wheel,) = dist.glob("report_lib-*.whl")
    # a fresh environment of its own (no system site-packages); the dependencies are resolved
    # by pip from the configured index and cache, as a user's install would be
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "report-lib"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   timeout=900)
    site = Path(subprocess.run(
        [str(python), "-c", "import report_lib, pathlib; "
         "print(pathlib.Path(report_lib.__file__).parent.parent)"],
        capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip())
    assert site.is_relative_to(env_dir) and (site / "report_lib/notebooks/reports.ipynb").is_file()
    before = _files(env_dir)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in (config.HOME_ENV, "PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(command), "generate", "--backend", "offline", "--no-progress",
                           "--out", "run.json", "--markdown-dir", "md"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (work / "run.json").is_file() and sorted(p.name for p in (work / "md").iterdir()) == [
        "cpo.md", "kpi.md", "trend.md"]
    assert any((work / "data" / "sample").rglob("*.xlsx"))  # the sample data, made here
    assert _files(env_dir) == before  # nothing written beside the installed package
