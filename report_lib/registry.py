"""Named entries registered by object or by ``"module:attribute"`` path, imported on first use.

papermill's engine registry and entry points are the model: ``names()`` lists what can be
chosen without importing anything heavy, ``validate(name)`` refuses an unknown name with a
ConfigError listing the choices, and ``load(name)`` gives the registered object, importing a
path entry once and keeping what it found. The backend registry (llm.backends.BACKENDS) and the
strategy registry (execution.base.STRATEGIES) are built on it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Generic, TypeVar, cast

from report_lib.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind (``kind`` names it in error messages: "backend", "strategy")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, entry: T | str) -> None:
        """Add ``name`` (or replace its entry): an object, or a ``"module:attribute"`` path."""
        if isinstance(entry, str):
            module, sep, attr = entry.partition(":")
            if not (module and sep and attr):
                raise ConfigError(
                    f"{self.kind} {name!r}: {entry!r} is not an import path; "
                    "write it as 'package.module:attribute'"
                )
        self._entries[name] = entry

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (nothing is imported)."""
        return tuple(self._entries)

    def validate(self, name: str) -> str:
        """``name`` if registered, else a ConfigError listing the choices."""
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}"
            )
        return name

    def load(self, name: str) -> T:
        """The entry for ``name``; a path is imported on first use and then kept."""
        entry = self._entries[self.validate(name)]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = cast(T, getattr(import_module(module), attr))
            self._entries[name] = entry
        return entry
