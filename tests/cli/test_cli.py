"""The report-lib command: exit codes, messages and the files it writes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from report_lib import config
from report_lib.cli.main import build_parser, main


def _workbook_figures(workbook: Path, cpo: str) -> tuple[list[int], dict[str, int]]:
    """Read the national totals (K3:P3) and one operator's row straight from the sheet."""
    ws = openpyxl.load_workbook(workbook, data_only=True)["Sheet1"]

    def num(v: object) -> int:
        return 0 if v in (None, "-", "") else int(str(v).replace(",", ""))

    totals = [num(ws.cell(row=3, column=c).value) for c in range(12, 17)]
    header = [ws.cell(row=5, column=c).value for c in range(4, 16)]
    for row in ws.iter_rows(min_row=6, min_col=4, max_col=15, values_only=True):
        if row[0] is not None and str(row[0]).strip() == cpo:
            rec = dict(zip(header, row, strict=True))
            return totals, {k: num(rec[k]) for k in ("충전소수", "급속충전기", "총충전기")}
    raise AssertionError(f"{cpo} not in {workbook}")


def _fmt(n: int) -> str:
    return f"{n:,}"


def test_generate_offline_matches_the_workbook(sample_dir: dict, tmp_path: Path) -> None:
    wb_dir = Path(sample_dir["workbooks_dir"])
    workbook = sorted(wb_dir.glob("*.xlsx"))[-1]  # the latest month
    yymm = workbook.stem.rsplit("_", 1)[1]
    month = f"20{yymm[:2]}-{yymm[2:]}"
    out = tmp_path / "run.json"
    md = tmp_path / "md"
    code = main(["generate", "--data", str(wb_dir), "--month", month, "--focus-cpo", "GS차지비",
                 "--backend", "offline", "--out", str(out), "--markdown-dir", str(md),
                 "--no-progress"])
    assert code == 0
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["success"] is True
    assert run["target_month"] == month
    assert set(run["reports"]) == {"kpi", "cpo", "trend"}
    assert run["errors"] == {}
    assert sorted(p.name for p in md.glob("*.md")) == ["cpo.md", "kpi.md", "trend.md"]
    totals, gs = _workbook_figures(workbook, "GS차지비")
    kpi = run["reports"]["kpi"]["content"]
    _, stations, slow, fast, total = totals
    for value in (stations, slow, fast, total, gs["총충전기"], gs["급속충전기"], gs["충전소수"]):
        assert _fmt(value) in kpi, f"{_fmt(value)} missing from the KPI report"
    assert _fmt(gs["총충전기"]) in run["reports"]["cpo"]["content"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--data", "{tmp}/nowhere"], ["nowhere"]),
        (["--data", "{wb}", "--month", "1999-01"], ["1999-01", "months"]),
        (["--data", "{wb}", "--focus-cpo", "GS차지"], ["GS차지", "GS차지비"]),
        (["--data", "{tmp}/notes.txt"], ["notes.txt"]),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    sample_dir: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    args: list[str], needles: list[str],
) -> None:
    (tmp_path / "notes.txt").write_text("not a workbook", encoding="utf-8")
    wb = str(sample_dir["workbooks_dir"])
    argv = ["generate", "--backend", "offline", "--no-progress"]
    argv += [a.format(tmp=tmp_path, wb=wb) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("report-lib: error:")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


@pytest.mark.slow
def test_cli_process_exit_status_and_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "report_lib.cli", "generate", "--data", str(tmp_path / "x.xlsx"),
         "--backend", "offline"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "x.xlsx" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_rejected_report_keeps_the_others(sample_dir: dict, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--backend", "emulator",
                 "--time-scale", "0.01", "--emulator-reject", "trend", "--max-attempts", "2",
                 "--out", str(out), "--no-progress"])
    assert code == 1
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["success"] is False
    assert set(run["reports"]) == {"kpi", "cpo"}
    assert all(r["content"] for r in run["reports"].values())
    assert run["errors"]["trend"]["type"] == "ValidationException"
    assert run["errors"]["trend"]["attempts"] == 1
    assert run["usage_total"]["output_tokens"] > 0


def test_sample_data_command_writes_workbooks(tmp_path: Path) -> None:
    assert main(["sample-data", "--out", str(tmp_path), "--months", "3", "--operators", "12"]) == 0
    assert len(list((tmp_path / "workbooks").glob("*.xlsx"))) == 3
    assert (tmp_path / "cpo_monthly.csv").exists()


@pytest.mark.parametrize("command", ["generate", "sample-data", "emulator", "bench", "pipeline",
                                     "demo"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: report-lib " + command in capsys.readouterr().out


@pytest.mark.slow
def test_generate_against_an_external_endpoint_that_throttles_at_first(
    sample_dir: dict, tmp_path: Path, dummy_credentials: None
) -> None:
    from report_lib.emulator import Emulator

    out = tmp_path / "run.json"
    with Emulator(latency_model="fixed:0.05", throttle_first=2) as emu:
        code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--endpoint-url",
                     emu.url, "--out", str(out), "--no-progress", "--stream"])
        stats = emu.stats()
    assert code == 0
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["success"] is True and run["backend"] == "bedrock"
    assert stats["throttled"] == 2
    assert sum(t["attempts"] for t in run["timeline"].values()) == 3 + 2
    assert run["usage_total"]["cost_usd"] > 0


def test_bedrock_without_credentials_says_what_to_do(
    sample_dir: dict, no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["generate", "--data", str(sample_dir["workbooks_dir"]), "--backend", "bedrock",
                 "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "credentials" in err.lower()
    assert "--backend emulator" in err or "--backend offline" in err


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", ["generate", "sample-data", "bench", "pipeline", "demo"])
def test_help_shows_every_default(command: str) -> None:
    parser = _subparsers()[command]
    for action in parser._actions:
        default = action.default
        if default is None or default is False or default == [] or default == argparse.SUPPRESS:
            continue
        entry = " ".join(parser._get_formatter()._format_action(action).split())
        assert "default" in entry, f"{command} {action.option_strings}: {entry}"


@pytest.mark.parametrize(("reports", "says"), [("", "names no report"), ("kpi,nope", "nope")])
def test_bad_report_list_exits_2_before_any_work(
    reports: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run.json"
    code = main(["generate", "--backend", "offline", "--reports", reports, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "--reports" in err
    assert not out.exists()


@pytest.mark.slow
def test_generate_without_data_uses_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "SAMPLE_DIR", tmp_path / "sample")
    out = tmp_path / "run.json"
    code = main(["generate", "--backend", "offline", "--no-progress", "--out", str(out)])
    assert code == 0
    workbooks = sorted((tmp_path / "sample" / "workbooks").glob("*.xlsx"))
    assert len(workbooks) == 24
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["success"] is True and run["target_month"] == "2025-11"


# -- --transport picks how Converse is sent ----------------------------------------------------
def test_transport_option_reaches_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    from report_lib.cli.common import settings_from_args

    parse = build_parser().parse_args
    assert settings_from_args(parse(["generate"])).transport == "direct"
    assert settings_from_args(parse(["generate", "--transport", "botocore"])).transport == (
        "botocore")
    with pytest.raises(SystemExit) as info:
        main(["generate", "--transport", "http2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --transport: invalid choice: 'http2'" in err and "Traceback" not in err
