"""environment.yml and pyproject.toml must declare the same dependencies."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.helpers import REPO

# conda-forge splits dask[distributed] into two packages
CONDA_EXPANSIONS = {"dask": {"dask", "distributed"}}


def _pyproject_requirements() -> dict[str, SpecifierSet]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in meta["dependencies"]]
    reqs += [Requirement(r) for r in meta["optional-dependencies"]["test"]]
    wanted: dict[str, SpecifierSet] = {}
    for req in reqs:
        for name in CONDA_EXPANSIONS.get(req.name.lower(), {req.name.lower()}):
            wanted[name] = req.specifier
    return wanted


def _conda_requirements() -> tuple[dict[str, SpecifierSet], list[object]]:
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    found: dict[str, SpecifierSet] = {}
    pip_section: list[object] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep.get("pip", [])
            for line in pip_section:  # packages conda-forge lacks come from PyPI
                if not str(line).startswith("-"):
                    req = Requirement(str(line))
                    found[req.name.lower()] = req.specifier
            continue
        req = Requirement(dep)
        found[req.name.lower()] = req.specifier
    return found, pip_section


def test_environment_yml_uses_conda_forge_and_installs_the_project() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    found, pip_section = _conda_requirements()
    assert "pip" in found
    assert "python" in found and found["python"].contains("3.11")
    assert "-e ." in pip_section


def test_environment_yml_matches_pyproject() -> None:
    wanted = _pyproject_requirements()
    found, _ = _conda_requirements()
    found.pop("python")
    found.pop("pip")
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    differing = {n: (str(wanted[n]), str(found[n])) for n in wanted if wanted[n] != found[n]}
    assert not differing, f"version ranges differ (pyproject, conda): {differing}"


def test_the_peers_group_is_optional_constrained_and_documented() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    peers = [Requirement(r) for r in meta["optional-dependencies"]["peers"]]
    base = {Requirement(r).name.lower() for r in meta["dependencies"]}
    assert peers and not base & {r.name.lower() for r in peers}  # the default install is lean
    for req in peers:  # a lower and an upper bound each, so pip never backtracks for long
        operators = {spec.operator for spec in req.specifier}
        assert operators & {">=", "=="} and operators & {"<", "=="}, req
    aioboto3 = next(r for r in peers if r.name == "aioboto3")
    assert not aioboto3.specifier.contains("14.3.0")  # never the old releases without Bedrock
    assert "pip install -e '.[peers]'" in (REPO / "environment.yml").read_text("utf-8")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert '-e ".[test,peers]"' in makefile  # make setup (and so CI) installs the group
