"""The emulator's own flags: every numeric option has a range in ``--help`` and a value outside
it (or not a number) ends in one line and exit 2, for ``report-lib emulator`` and for
``python -m report_lib.emulator``. The flags are read from the parser, so a new numeric flag
without bounds fails here."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from report_lib.argtypes import Bounded, HelpFormatter, Parser
from report_lib.emulator.options import add_arguments

# options that take a value but are not numbers (checked by their own parsers)
NOT_NUMERIC = {"--host", "--latency-model"}


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="emulator", formatter_class=HelpFormatter)
    add_arguments(parser)
    return parser


def _valued(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every option that takes a value and has no fixed choices."""
    return [a for a in parser._actions
            if a.option_strings and a.nargs != 0 and not a.choices]


def _bad_values(kind: Bounded) -> list[str]:
    """A word, a value just below the range and one just above it."""
    step = 1 if kind.kind is int else kind.hi * 1e-6 or 1e-6
    below = kind.lo if kind.above else kind.lo - step
    above = kind.hi + step
    text = (lambda v: str(int(v))) if kind.kind is int else repr
    return ["nope", text(below), text(above)]


def _numeric() -> list[tuple[str, Bounded]]:
    return [(a.option_strings[-1], a.type) for a in _valued(_parser())
            if a.option_strings[-1] not in NOT_NUMERIC]  # type: ignore[misc]


def test_every_numeric_option_is_bounded() -> None:
    numeric = _numeric()
    assert len(numeric) >= 20  # the quotas, faults, mistakes, port, seed ...
    unbounded = [flag for flag, kind in numeric if not isinstance(kind, Bounded)]
    assert unbounded == [], f"numeric emulator options without a Bounded type: {unbounded}"


def test_every_numeric_option_states_its_range_in_help() -> None:
    parser = _parser()
    formatter = parser._get_formatter()
    shown = {a.option_strings[-1]: formatter._expand_help(a) for a in _valued(parser)}
    for flag, kind in _numeric():
        assert isinstance(kind, Bounded)
        assert kind.range in shown[flag], (flag, shown[flag])
    assert all(text in parser.format_help() for text in ("(0 to 1)", "(0 to 65,535)"))


@pytest.mark.parametrize(("flag", "kind"), _numeric(), ids=[f for f, _ in _numeric()])
def test_a_value_out_of_range_is_one_line_and_exit_2(
    flag: str, kind: Bounded, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(kind, Bounded)
    for value in _bad_values(kind):
        with pytest.raises(SystemExit) as stop:
            _parser().parse_args([f"{flag}={value}"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert flag in err and value in err and kind.range in err, err
    # the ends of the range are taken
    ends = [kind.hi] if kind.above else [kind.lo, kind.hi]
    for end in ends:
        value = str(int(end)) if kind.kind is int else repr(float(end))
        assert getattr(_parser().parse_args([flag, value]), flag[2:].replace("-", "_")) == end


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "report_lib.emulator"],
    [sys.executable, "-m", "report_lib", "emulator"],
])
def test_both_entry_points_refuse_a_bad_number_in_one_line(command: list[str]) -> None:
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True,
                               timeout=60).stdout
    assert "(0 to 1)" in help_text and "(1 to 1,000,000,000)" in help_text
    bad = subprocess.run([*command, "--tpm", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "must be 1 to 1,000,000,000, got 0" in bad.stderr
