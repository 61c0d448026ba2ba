"""Paths and defaults shared by the package, the CLI and the notebooks."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

HOME_ENV = "REPORT_LIB_HOME"


def home() -> Path:
    """The folder that holds ``data/`` and ``outputs/``: ``$REPORT_LIB_HOME`` when set, else the
    current working directory. Never the package's own location, which may be site-packages."""
    value = os.environ.get(HOME_ENV, "").strip()
    try:
        return Path(value).expanduser().resolve() if value else Path.cwd()
    except OSError:  # the working directory was removed under us
        return Path.home()


# Read once, when the package is first imported.
HOME = home()


def export_home() -> None:
    """Hand ``HOME`` to child processes (notebook kernels start in the notebooks' folder, Dask
    workers wherever they were started) unless the environment already names one."""
    os.environ.setdefault(HOME_ENV, str(HOME))

# The code: report_lib/ in a clone or in site-packages; its notebooks ship inside it
# (report_lib/notebooks is a link to the clone's notebooks/, copied into the wheel).
PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = (PACKAGE_DIR / "notebooks").resolve()
DATA_DIR = HOME / "data"
SAMPLE_DIR = DATA_DIR / "sample"
OUTPUT_DIR = HOME / "outputs"
# The one default results folder of the benchmark (CLI, notebooks, make bench, comparison).
BENCHMARK_DIR = OUTPUT_DIR / "benchmark"

REPORT_KINDS: tuple[str, ...] = ("kpi", "cpo", "trend")
LANGUAGES: tuple[str, ...] = ("ko", "en")

DEFAULT_FOCUS_CPO = "GS차지비"
DEFAULT_WINDOW_MONTHS = 12
DEFAULT_LANGUAGE = "ko"
DEFAULT_BACKEND = "emulator"  # the main job's: a local Bedrock emulator (or offline, bedrock)

# A current Claude Sonnet cross-region inference profile; override with --model-id.
DEFAULT_MODEL_ID = os.environ.get(
    "REPORT_LIB_MODEL_ID", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
)
DEFAULT_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
DEFAULT_MAX_TOKENS = 2048
DEFAULT_TEMPERATURE = 0.2

# Jupyter kernel registered by `make setup` (see Makefile); papermill uses it explicitly.
KERNEL_NAME = "report-lib"


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Python's and each package's installed version ("not installed" when missing)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
