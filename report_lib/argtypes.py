"""Argparse building blocks shared by the CLI and the emulator's own parser: a parser whose
errors are one line (exit 2), a help formatter that shows defaults and ranges, and ``Bounded``,
the type of every numeric option (a documented range, checked on parsing)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: ...; see PROG --help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in ``--help`` (flags and unset options say nothing), and the range
    of every bounded number (a ``type`` with a ``range`` text, as ``Bounded``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        allowed = getattr(action.type, "range", None)
        if allowed and allowed not in text:
            head, sep, tail = text.partition(" (default")  # the range before the default
            text = f"{head} ({allowed}){sep}{tail}" if text else allowed
        default = action.default
        unset = default is None or default is False or default == [] or default == argparse.SUPPRESS
        if unset or "default" in text:
            return text
        return text if "%(default)" in text else text + " (default: %(default)s)"


@dataclass(frozen=True)
class Bounded:
    """An argparse type: a whole number (``kind=int``) or a finite number from ``lo`` to ``hi``;
    ``above=True`` excludes ``lo`` itself. Its ``range`` text goes into ``--help``."""

    kind: type
    lo: float
    hi: float
    above: bool = False

    @property
    def range(self) -> str:
        lo, hi = (f"{v:g}" if self.kind is float else f"{int(v):,}" for v in (self.lo, self.hi))
        return f"above {lo}, at most {hi}" if self.above else f"{lo} to {hi}"

    def __call__(self, text: str) -> Any:
        try:
            value = self.kind(text.strip())
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise argparse.ArgumentTypeError(
                f"expected {what} ({self.range}), got {text!r}"
            ) from None
        low_ok = value > self.lo if self.above else value >= self.lo
        if not (low_ok and value <= self.hi and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {self.range}, got {text}")
        return value


# ranges shared by the commands and the emulator (documented in --help by HelpFormatter)
SECONDS = Bounded(float, 0, 86_400, above=True)  # a time limit: above 0, at most a day
TIME_SCALE = Bounded(float, 0, 100, above=True)
TPM = Bounded(int, 1, 1_000_000_000)
RPM = Bounded(int, 1, 10_000_000)
