"""Output paths checked before any work; result files written atomically; bounds on options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from report_lib.app.generate import generate_reports
from report_lib.app.outputs import (
    check_output_dir,
    check_output_file,
    check_outputs,
    markdown_name,
    write_outputs,
    write_text_atomic,
)
from report_lib.cli.main import main
from report_lib.errors import ConfigError
from report_lib.execution import MAX_CONCURRENCY, MAX_JOBS


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --------------------------------------------------------------------------- the checks


def test_a_file_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--out .* is a folder; give a file name such as"):
        check_output_file(tmp_path)


def test_a_file_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plain is a file, so no folder can be created"):
        check_output_file(tmp_path / "plain" / "deeper" / "run.json")


def test_a_path_the_system_refuses_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--out /proc/x.json: cannot write in /proc"):
        check_output_file("/proc/x.json")


def test_a_folder_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--markdown-dir .*notes.md is a file, not a folder"):
        check_output_dir(tmp_path / "notes.md")


def test_the_same_path_for_json_and_markdown_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="are the same path"):
        check_outputs(tmp_path / "x", tmp_path / "x")


def test_good_paths_pass_and_nothing_is_left_behind(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{}", encoding="utf-8")
    assert check_output_file(tmp_path / "old.json") == tmp_path / "old.json"
    assert check_output_file(tmp_path / "a" / "b" / "run.json") == tmp_path / "a/b/run.json"
    assert check_output_dir(tmp_path / "md" / "deep") == tmp_path / "md" / "deep"
    assert check_output_dir(tmp_path) == tmp_path
    assert _tree(tmp_path) == ["old.json"]  # no folder created, no probe file left


# --------------------------------------------------------------------------- atomic writes


def test_outputs_are_written_whole_with_the_usual_mode(
    sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    run = generate_reports(sample_frame, backend="offline", strategy="sequential",
                           kinds=("kpi", "cpo"))
    paths = write_outputs(run, out_json=tmp_path / "out" / "run.json",
                          markdown_dir=tmp_path / "md")
    assert paths == [tmp_path / "out" / "run.json", tmp_path / "md" / "kpi.md",
                     tmp_path / "md" / "cpo.md"]
    assert json.loads(paths[0].read_text(encoding="utf-8")) == json.loads(
        json.dumps(run.to_dict(), ensure_ascii=False)
    )
    assert paths[1].read_text(encoding="utf-8") == run.reports["kpi"]
    assert _tree(tmp_path) == ["md", "md/cpo.md", "md/kpi.md", "out", "out/run.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in paths} == {0o666 & ~umask}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    target.write_text("old", encoding="utf-8")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert _tree(tmp_path) == ["run.json"]


@pytest.mark.parametrize(
    ("key", "name"),
    [("kpi", "kpi.md"), ("cpo@GS차지비@2025-11", "cpo@GS차지비@2025-11.md"), ("a/b c", "a_b_c.md")],
)
def test_markdown_file_names(key: str, name: str) -> None:
    assert markdown_name(key) == name


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "/proc/x.json"], "cannot write in /proc"),
        (["--markdown-dir", "{tmp}/file.txt"], "is a file, not a folder"),
        (["--out", "{tmp}/file.txt/run.json"], "is a file, so no folder"),
    ],
)
def test_bad_output_paths_exit_2_before_any_work(
    args: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("keep", encoding="utf-8")
    md = tmp_path / "md"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    extra = [] if "--markdown-dir" in args else ["--markdown-dir", str(md)]
    code = main(["generate", "--backend", "offline", "--no-progress", *args, *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and err.startswith("report-lib: error: ")
    assert _tree(tmp_path) == ["file.txt"]  # nothing written, not even the markdown folder


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["generate", "--max-concurrency", str(MAX_CONCURRENCY + 1)],
         f"--max-concurrency must be from 1 to {MAX_CONCURRENCY}"),
        (["bench", "--n", f"3,{MAX_JOBS + 1}"], f"--n must be from 1 to {MAX_JOBS}"),
        (["bench", "--max-concurrency", "0"], "expected positive integers"),
    ],
)
def test_counts_past_their_maximum_are_refused(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "option", "maximum"),
    [("generate", "--max-concurrency", MAX_CONCURRENCY), ("bench", "--n", MAX_JOBS),
     ("bench", "--max-concurrency", MAX_CONCURRENCY)],
)
def test_help_states_the_maxima(
    command: str, option: str, maximum: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    entry = text[text.rindex(option + " "):]  # the option's entry (after the usage line)
    assert f"1 to {maximum}" in entry[:200]
