"""Every error raised on purpose is a ReportLabError; warnings live in errors.py; library code
logs instead of printing, and the command shows those lines as it always printed them."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pandas as pd
import pytest

import report_lib
from report_lib import errors
from report_lib.app.generate import generate_reports
from report_lib.cli.main import show_progress_logs
from report_lib.errors import ReportLabError, UnknownChoiceError
from report_lib.reports.facts import compute_facts
from report_lib.reports.prompts import build_prompt

PACKAGE = Path(report_lib.__file__).parent
# modules whose stdout is a protocol a parent process reads (not messages to a user)
STDOUT_PROTOCOLS = {
    "emulator/server.py": "the READY line the parent Emulator waits for",
    "bench/cold.py": "the JSON result line the benchmark reads from its child",
}


def test_an_unknown_language_through_the_python_api_is_a_report_lab_error(
    sample_frame: pd.DataFrame,
) -> None:
    with pytest.raises(UnknownChoiceError, match=r"unknown language 'fr'; choose one of ko, en"
                       ) as caught:
        generate_reports(sample_frame, backend="offline", language="fr")
    assert isinstance(caught.value, ReportLabError) and isinstance(caught.value, ValueError)
    assert caught.value.value == "fr" and caught.value.choices == ("ko", "en")


def test_an_unknown_report_kind_in_facts_is_a_report_lab_error(
    sample_frame: pd.DataFrame,
) -> None:
    facts = compute_facts(sample_frame, "kpi")
    facts.kind = "weekly"
    with pytest.raises(UnknownChoiceError, match=r"unknown report kind 'weekly'"):
        build_prompt(facts)


def test_the_warnings_live_in_errors() -> None:
    for name in ("CacheWarning", "PriceWarning"):
        warning = getattr(errors, name)
        assert warning.__module__ == "report_lib.errors"
        assert issubclass(warning, errors.ReportLabWarning)


def _print_calls(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "print"]


def test_library_code_does_not_print() -> None:
    printing = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith("cli/"):
            continue
        lines = _print_calls(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            printing[name] = lines
    assert set(printing) <= set(STDOUT_PROTOCOLS), printing
    assert _print_calls(ast.parse("def f():\n    print('x')\n")) == [2]


def test_the_command_shows_progress_lines_and_hides_retry_details(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show_progress_logs()
    show_progress_logs()  # once per process: no second handler
    logging.getLogger("report_lib.pipeline.run").info("pipeline: running %s.ipynb", "reports")
    logging.getLogger("report_lib.llm.retry").info("attempt 1/8 failed; retrying")
    logging.getLogger("report_lib.pipeline.run").warning("pipeline: a note")
    assert capsys.readouterr().err == "pipeline: running reports.ipynb\npipeline: a note\n"
