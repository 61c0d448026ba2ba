"""A parameter grid over a notebook: parse, check types, expand convenience values, name runs.

``--grid NAME=V1,V2`` (repeatable; the cartesian product) and ``--grid-file runs.yaml`` (a list
of parameter mappings, crossed with the ``--grid`` product) give the runs. Two values are
resolved against the data, loaded once: ``target_month=last:N`` (the N last months) and
``focus_cpo=top:N`` (the N largest operators of the run's target month). Every value is checked
against the type the notebook declares before anything runs; whether it exists in the data
is each run's business.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from report_lib.errors import ConfigError
from report_lib.reports.facts import resolve_month

# convenience values: parameter -> (prefix, what it means)
CONVENIENCE: dict[str, tuple[str, str]] = {
    "target_month": ("last", "the N last months of the data"),
    "focus_cpo": ("top", "the N largest operators of the target month"),
}
_TRUE, _FALSE = ("True", "true"), ("False", "false")
# Runs in one grid unless --max-runs says otherwise: each run is a notebook execution (seconds
# to minutes); 200 of them keep a 2-CPU machine busy for about half an hour.
MAX_GRID_RUNS = 200


def check_run_count(count: int, max_runs: int, what: str = "the grid") -> None:
    """A ConfigError when ``count`` runs exceed ``max_runs`` (before any of them is built)."""
    if count > max_runs:
        raise ConfigError(
            f"{what} makes {count:,} runs, more than --max-runs {max_runs:,} allows "
            f"(default {MAX_GRID_RUNS}); use fewer values or raise --max-runs"
        )


@dataclass
class Grid:
    """The runs' varying parameters: a list of mappings (one per run), before resolution."""

    names: list[str] = field(default_factory=list)  # the varying parameters, in given order
    combos: list[dict[str, Any]] = field(default_factory=lambda: [{}])

    def __bool__(self) -> bool:
        return bool(self.names)


def parse_grid(
    options: Sequence[str], grid_file: Path | None = None, max_runs: int = MAX_GRID_RUNS
) -> Grid:
    """``NAME=V1,V2`` options (cartesian product) crossed with a YAML list of mappings; more
    than ``max_runs`` combinations are refused before the product is built."""
    axes: dict[str, list[str]] = {}
    for text in options:
        name, sep, values = text.partition("=")
        name = name.strip()
        items = [v.strip() for v in values.split(",")] if sep else []
        if not name.isidentifier() or not items or any(not v for v in items):
            raise ConfigError(
                f"--grid {text!r}: expected NAME=V1,V2,... (a parameter name and one or more "
                "comma-separated values, none empty)"
            )
        if name in axes:
            raise ConfigError(f"--grid {name} is given twice; list all its values in one option")
        axes[name] = items
    entries = _grid_file(grid_file) if grid_file is not None else [{}]
    overlap = sorted({k for e in entries for k in e} & set(axes))
    if overlap:
        raise ConfigError(f"{', '.join(overlap)} is varied by both --grid and --grid-file")
    check_run_count(math.prod(len(v) for v in axes.values()) * len(entries), max_runs)
    product = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    combos = [{**entry, **point} for entry in entries for point in product]
    names = list(dict.fromkeys([*(k for e in entries for k in e), *axes]))
    return Grid(names, combos)


def _grid_file(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--grid-file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--grid-file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        raise ConfigError(
            f"--grid-file {path}: expected a YAML list of parameter mappings, e.g.\n"
            "- {focus_cpo: GS차지비, target_month: 2025-11}\n- {focus_cpo: 에버온}"
        )
    return [{str(k): v for k, v in entry.items()} for entry in data]


# ---------------------------------------------------------------- types


def check_names(grid: Grid, declared: Mapping[str, Mapping[str, Any]]) -> None:
    """Every varied parameter declared by one of the selected notebooks (``declared``: all of
    them), else a ConfigError naming the notebooks and their parameters."""
    known = sorted({p for info in declared.values() for p in info})
    for name in grid.names:
        if name not in known:
            raise ConfigError(
                f"--grid {name}: no selected notebook declares it "
                f"({', '.join(declared) or 'none selected'}); known parameters: "
                f"{', '.join(known) or 'none'}"
            )


def check_types(grid: Grid, declared: Mapping[str, Mapping[str, Any]]) -> Grid:
    """Each value converted to the type its notebook declares; ``ConfigError`` on a mismatch."""
    check_names(grid, declared)
    types = {}
    for name in grid.names:
        owners = [info[name] for info in declared.values() if name in info]
        types[name] = str(owners[0].get("inferred_type_name") or "None")
    combos = [
        {name: _typed(name, value, types[name]) for name, value in combo.items()}
        for combo in grid.combos
    ]
    return Grid(list(grid.names), combos)


def _typed(name: str, value: Any, kind: str) -> Any:
    kind = kind.replace("typing.", "").replace("Optional[", "").rstrip("]").split("|")[0].strip()
    if isinstance(value, str) and name in CONVENIENCE and _convenience(name, value) is not None:
        return value
    converters = {"int": _as_int, "float": _as_float, "bool": _as_bool, "str": _as_str}
    convert = converters.get(kind)
    if convert is None:  # undeclared or unusual type: take the value as given
        return value
    try:
        return convert(value)
    except (TypeError, ValueError):
        extra = ""
        if name in CONVENIENCE:
            extra = f" (or {CONVENIENCE[name][0]}:N, {CONVENIENCE[name][1]})"
        raise ConfigError(
            f"--grid {name}: value {value!r} is not of the declared type {kind}{extra}"
        ) from None


def _as_int(value: Any) -> int:
    if isinstance(value, bool | float):
        raise TypeError(value)
    return int(value)


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    return float(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError(value)


def _as_str(value: Any) -> str:
    if isinstance(value, bool | int | float):  # YAML made it a number; the notebook wants text
        return str(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _convenience(name: str, value: str) -> int | None:
    """N of 'top:N' / 'last:N' for the parameter that has it; None for any other value."""
    prefix = CONVENIENCE[name][0]
    match = re.fullmatch(rf"{prefix}:\s*(-?\d+)", value.strip())
    if match is None:
        if value.strip().startswith(f"{prefix}:"):
            raise ConfigError(f"--grid {name}={value}: expected {prefix}:N with N a number")
        return None
    count = int(match[1])
    if count < 1:
        raise ConfigError(f"--grid {name}={value}: N must be at least 1")
    return count


def needs_data(grid: Grid) -> bool:
    """True when a convenience value must be resolved against the data."""
    return any(
        isinstance(v, str) and k in CONVENIENCE and _convenience(k, v) is not None
        for combo in grid.combos
        for k, v in combo.items()
    )


# ---------------------------------------------------------------- expansion


def expand(grid: Grid, frame: pd.DataFrame | None, base: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One mapping per run with ``last:N`` and ``top:N`` replaced by values from the data."""
    runs: list[dict[str, Any]] = []
    for combo in grid.combos:
        points = [dict(combo)]
        for name in ("target_month", "focus_cpo"):  # the month first: top:N depends on it
            points = [p for point in points for p in _resolve(name, point, frame, base)]
        runs.extend(points)
    unique = list({json.dumps(r, sort_keys=True, default=str): r for r in runs}.values())
    return unique


def _resolve(
    name: str, point: dict[str, Any], frame: pd.DataFrame | None, base: Mapping[str, Any]
) -> list[dict[str, Any]]:
    value = point.get(name)
    count = _convenience(name, value) if isinstance(value, str) else None
    if count is None:
        return [point]
    if frame is None:
        raise ConfigError(f"--grid {name}={value} needs the data, but no notebook reads data_path")
    if name == "target_month":
        months = sorted(frame["month"].astype(str).unique())
        return [{**point, name: month} for month in months[-count:]]
    month_value = point.get("target_month", base.get("target_month", "latest"))
    try:
        month = resolve_month(frame, str(month_value))
    except ValueError as exc:
        raise ConfigError(f"--grid {name}={value}: {exc}") from None
    rows = frame[frame["month"] == month].sort_values(["rank", "cpo"], kind="stable")
    return [{**point, name: str(cpo)} for cpo in rows["cpo"].head(count)]


def slug(values: Mapping[str, Any]) -> str:
    """A stable, readable folder name for a run: its varying values and a short hash."""
    text = "_".join(str(v) for v in values.values()) or "run"
    readable = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-.")[:48] or "run"
    digest = hashlib.sha256(
        json.dumps(dict(values), sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    ).hexdigest()[:8]
    return f"{readable}-{digest}"
