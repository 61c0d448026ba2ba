"""The notebooks of the pipeline and their parameters: which notebook, which names, which values.

Parameters go only to the notebooks that declare them (papermill's parameter inspection); the
benchmark's output folder becomes the comparison notebook's ``results_dir``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from report_lib import config
from report_lib.errors import ConfigError
from report_lib.execution.base import STRATEGIES
from report_lib.llm.backends import BACKENDS
from report_lib.reports.factcheck.reviewer import MAX_ROUNDS

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
            raise ConfigError(
                f"notebook '{item}' not found in {config.NOTEBOOKS_DIR}; choose from: {known}"
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
        raise ConfigError(
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


def as_text(parameters: dict[str, Any],
            declared: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``parameters`` with numbers given to text parameters written as text, in place: ``-p
    tpm_limit 1000`` is read as the number 1000, but every notebook declaring ``tpm_limit``
    declares ``str``."""
    for name, value in parameters.items():
        types = {str(d[name].get("inferred_type_name")) for d in declared.values() if name in d}
        if types == {"str"} and isinstance(value, int | float) and not isinstance(value, bool):
            parameters[name] = str(value)
    return parameters


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
        raise ConfigError(f"-y {text!r} is not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"-y {text!r} must be a YAML mapping (NAME: VALUE), got {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}


# ---------------------------------------------------------------- validation
@dataclass(frozen=True)
class Rule:
    """What a parameter's value (or each item of a list) must be beyond its type."""

    choices: Callable[[], Sequence[str]] | None = None  # read when checked (registries)
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive lower bound
    pattern: str | None = None
    expect: str = ""  # what the pattern means, for the message


RULES: dict[str, Rule] = {
    "language": Rule(choices=lambda: config.LANGUAGES),
    "backend": Rule(choices=BACKENDS.names),
    "strategy": Rule(choices=STRATEGIES.names),
    "strategies": Rule(choices=STRATEGIES.names),
    "window_months": Rule(minimum=1, maximum=120),
    "time_scale": Rule(above=0, maximum=100),
    "deadline_s": Rule(above=0, maximum=86400),
    "repeats": Rule(minimum=1, maximum=100),
    "n_values": Rule(minimum=1, maximum=100_000),
    "target_month": Rule(pattern=r"latest|\d{4}-(0[1-9]|1[0-2])", expect='"latest" or YYYY-MM'),
    "repair": Rule(pattern=rf"off|once|[0-{MAX_ROUNDS}]", minimum=0, maximum=MAX_ROUNDS,
                   expect=f"off, once or a number of repair rounds from 0 to {MAX_ROUNDS}"),
}

_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "text", "bool": "True or False",
               "list": "a list (-y 'NAME: [a, b]')"}


def _type_name(annotation: Any) -> str:
    """"int", "list[str]"... from a papermill type name or an annotation object."""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").strip()


def _is_type(value: Any, type_name: str) -> bool:
    base, _, inner = type_name.partition("[")
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base == "str":  # -p NAME 1000 arrives as a number (papermill reads it so); text is meant
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if base == "list":
        inner = inner.rstrip("]")
        return isinstance(value, list | tuple) and all(_is_type(v, inner) for v in value)
    return True  # a type this check does not know: papermill's own behaviour


def _rule_problem(value: Any, rule: Rule) -> str | None:
    """What ``value`` (one scalar) should be instead, or None when it passes ``rule``."""
    if rule.choices is not None and value not in (choices := tuple(rule.choices())):
        return f"one of {', '.join(choices)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        low = f"at least {rule.minimum:g}" if rule.minimum is not None else ""
        low = f"above {rule.above:g}" if rule.above is not None else low
        bounds = " and ".join(b for b in (low, f"at most {rule.maximum:g}"
                                          if rule.maximum is not None else "") if b)
        if ((rule.minimum is not None and value < rule.minimum)
                or (rule.above is not None and value <= rule.above)
                or (rule.maximum is not None and value > rule.maximum)):
            return f"a number {bounds}"
    if rule.pattern and isinstance(value, str) and not re.fullmatch(rule.pattern, value):
        return rule.expect or f"text matching {rule.pattern}"
    return None


def _scalars(value: Any) -> Iterator[Any]:
    """The plain values inside ``value``: list items and mapping values, at any depth (a
    mapping's keys are names such as scenarios, not values of the parameter)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    else:
        yield value


def check_parameter(name: str, value: Any, type_name: str = "", meaning: str = "") -> None:
    """ConfigError naming the parameter, its value and what is expected, unless ``value`` has the
    declared type and passes the parameter's rule (RULES)."""
    expected = None
    type_name = _type_name(type_name) if type_name else ""
    if type_name and not _is_type(value, type_name):
        base, _, inner = type_name.partition("[")
        expected = _TYPE_WORDS.get(base, type_name)
        if base == "list" and inner:
            expected = f"a list of {inner.rstrip(']')} values"
    elif name in RULES:
        expected = next((p for v in _scalars(value) if (p := _rule_problem(v, RULES[name]))),
                        None)
    if expected is not None:
        what = f" ({meaning})" if meaning else ""
        raise ConfigError(f"parameter {name} = {value!r}: expected {expected}{what}")


def validate_parameters(values: Mapping[str, Any],
                        declared: Mapping[str, Mapping[str, Any]]) -> None:
    """Check each given value against the type its notebook declares (papermill's
    ``inferred_type_name``) and the parameter's rule; the first problem is a ConfigError."""
    for name, value in values.items():
        info = declared.get(name, {})
        check_parameter(name, value, str(info.get("inferred_type_name") or ""),
                        str(info.get("help") or ""))


def check_notebook_parameters(namespace: Mapping[str, Any]) -> None:
    """In a notebook, right after the parameters cell: ``check_notebook_parameters(globals())``
    checks every annotated parameter (``name: type = value``) the way the pipeline does before
    it starts a kernel, so a plain papermill run fails at once with the same message."""
    for name, annotation in dict(namespace.get("__annotations__", {})).items():
        if name in namespace:
            check_parameter(name, namespace[name], _type_name(annotation))
