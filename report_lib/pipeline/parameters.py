"""The notebooks of the pipeline and their parameters: which notebook, which names, which values.

Parameters go only to the notebooks that declare them (papermill's parameter inspection); the
benchmark's output folder becomes the comparison notebook's ``results_dir``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from report_lib import config
from report_lib.errors import PipelineError

NOTEBOOKS: tuple[str, ...] = ("reports", "benchmark", "comparison_report")
# Where a notebook's output_dir goes when the caller does not set one (relative to out_dir).
OUTPUT_SUBDIRS: dict[str, str] = {"reports": "reports", "benchmark": "benchmark"}
# A notebook parameter fed from another notebook's output_dir.
FED_BY: dict[tuple[str, str], str] = {("comparison_report", "results_dir"): "benchmark"}
# Parameters that name files: made absolute against the caller's folder, because the
# notebooks run with their own folder (notebooks/) as the working directory.
PATH_PARAMETERS: tuple[str, ...] = ("data_path", "output_dir", "results_dir")


def resolve_notebooks(names: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """(name, path) for names in config.NOTEBOOKS_DIR ("reports" or "reports.ipynb") or paths."""
    resolved = []
    for item in names or NOTEBOOKS:
        path = Path(item)
        if path.suffix != ".ipynb" or not path.is_file():
            path = config.NOTEBOOKS_DIR / f"{Path(item).stem}.ipynb"
        if not path.is_file():
            known = ", ".join(p.stem for p in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")))
            raise PipelineError(
                f"notebook '{item}' not found in {config.NOTEBOOKS_DIR}; choose from: {known}",
                notebook=str(item),
            )
        resolved.append((path.stem, path.resolve()))
    return resolved


def declared_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell (papermill inspection)."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def route_parameters(
    parameters: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
) -> dict[str, dict[str, Any]]:
    """Each notebook gets the given parameters it declares, plus its output folder under
    ``out_dir`` and (comparison) the benchmark's output folder; unknown names are an error."""
    known = set().union(*(set(d) for d in declared.values())) if declared else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise PipelineError(
            f"parameter(s) {', '.join(unknown)} are declared by none of the notebooks "
            f"({', '.join(declared)}); known parameters: {', '.join(sorted(known))}"
        )
    routed: dict[str, dict[str, Any]] = {}
    for name, names in declared.items():
        params = {k: v for k, v in parameters.items() if k in names}
        if "output_dir" in names and "output_dir" not in parameters:
            params["output_dir"] = str(out_dir / OUTPUT_SUBDIRS.get(name, name))
        routed[name] = params
    for (name, param), source in FED_BY.items():
        if (name in routed and param in declared[name] and param not in parameters
                and source in routed and "output_dir" in routed[source]):
            routed[name][param] = routed[source]["output_dir"]
    return routed


def absolute_paths(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with the file parameters (PATH_PARAMETERS) made absolute, in place."""
    for name in PATH_PARAMETERS:
        value = parameters.get(name)
        if isinstance(value, str) and value and "://" not in value:
            parameters[name] = str(Path(value).expanduser().resolve())
    return parameters


def parse_value(text: str) -> Any:
    """A ``-p`` value the way papermill reads it: True/False/None, int, float, else str."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_yaml(text: str) -> dict[str, Any]:
    """``-y`` value: a YAML mapping given inline or as a file path."""
    path = Path(text)
    source = path.read_text(encoding="utf-8") if len(text) < 4096 and path.is_file() else text
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise PipelineError(f"-y {text!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PipelineError(
            f"-y {text!r} must be a YAML mapping (NAME: VALUE), got {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}
