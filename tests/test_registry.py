"""The generic name registry behind BACKENDS and STRATEGIES."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from report_lib.errors import ConfigError
from report_lib.execution import STRATEGIES
from report_lib.execution.base import StrategyRegistry
from report_lib.llm.backends import BACKENDS
from report_lib.registry import Registry


def _write_module(folder: Path, value: int) -> str:
    """A fresh importable module (unique name) holding ``VALUE = value``; returns its name."""
    name = f"registry_probe_{uuid.uuid4().hex}"
    (folder / f"{name}.py").write_text(f"VALUE = {value!r}\n", encoding="utf-8")
    return name


def test_a_path_entry_is_imported_on_first_load_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = _write_module(tmp_path, 41)
    registry: Registry[int] = Registry("widget")
    registry.register("lazy", f"{module}:VALUE")

    assert registry.names() == ("lazy",)
    assert registry.validate("lazy") == "lazy"
    assert module not in sys.modules  # listing and validating import nothing

    assert registry.load("lazy") == 41
    assert module in sys.modules
    del sys.modules[module]
    (tmp_path / f"{module}.py").unlink()
    assert registry.load("lazy") == 41  # kept, not imported again


def test_an_unknown_name_is_a_config_error_listing_the_choices() -> None:
    registry: Registry[int] = Registry("widget")
    registry.register("one", 1)
    registry.register("two", 2)
    with pytest.raises(ConfigError, match=r"unknown widget 'three'; choose one of one, two$"):
        registry.load("three")
    with pytest.raises(ValueError, match="choose one of one, two"):  # ConfigError is a ValueError
        registry.validate("three")


def test_registering_a_name_again_replaces_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry[int] = Registry("widget")
    registry.register("a", 1)
    registry.register("b", "module_b:VALUE")
    registry.register("a", f"{_write_module(tmp_path, 2)}:VALUE")
    assert registry.names() == ("a", "b")  # the name keeps its place
    assert registry.load("a") == 2
    registry.register("a", 3)  # also after a path entry was loaded
    assert registry.load("a") == 3


@pytest.mark.parametrize("path", ["no_colon", ":attr", "module:", ""])
def test_a_malformed_path_is_refused_when_registered(path: str) -> None:
    registry: Registry[object] = Registry("widget")
    with pytest.raises(ConfigError, match=r"package\.module:attribute"):
        registry.register("bad", path)
    assert registry.names() == ()


def test_backends_and_strategies_keep_their_messages() -> None:
    with pytest.raises(ConfigError) as backend_error:
        BACKENDS.validate("openai")
    assert str(backend_error.value) == (
        f"unknown backend 'openai'; choose one of {', '.join(BACKENDS.names())}"
    )
    with pytest.raises(ConfigError) as strategy_error:
        STRATEGIES.get("fibers")
    assert str(strategy_error.value) == (
        f"unknown strategy 'fibers'; choose one of {', '.join(STRATEGIES.names())}"
    )


def test_a_strategy_entry_that_is_not_a_strategy_is_refused() -> None:
    registry = StrategyRegistry()
    registry.register("region", "report_lib.config:DEFAULT_REGION")
    with pytest.raises(ConfigError, match=r"strategy 'region' is registered as .*not a Strategy"):
        registry.get("region")
