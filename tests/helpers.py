"""Helpers shared by the tests (fixtures that use them live in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore
import openpyxl
import pandas as pd
import psutil
import pytest
from botocore.config import Config

from report_lib.cli.main import main
from report_lib.data.schema import COLUMNS
from report_lib.emulator import Emulator
from report_lib.errors import BackendError
from report_lib.llm.backends import BedrockBackend
from report_lib.llm.settings import BackendSettings
from report_lib.records import CallOutcome, ReportJob
from report_lib.reports.offline.mistakes import HALLUCINATED

REPO = Path(__file__).resolve().parents[1]  # the clone the tests run from

SAMPLE_KWARGS: dict[str, Any] = {"months": 14, "operators": 30, "seed": 1}


MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def bedrock_test_settings(**kw: Any) -> BackendSettings:
    """Settings of the ``bedrock`` backend for client tests: a fixed model and region, small
    answers and millisecond backoff (4 attempts); ``kw`` overrides any field."""
    base: dict[str, Any] = {
        "backend": "bedrock",
        "model_id": MODEL,
        "region": "us-east-1",
        "max_tokens": 300,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.002,
        "max_attempts": 4,
    }
    return BackendSettings(**{**base, **kw})


def emulator_test_settings(url: str, **kw: Any) -> BackendSettings:
    """Settings of the ``emulator`` backend pointed at a running emulator's ``url``, with fast
    retries (2 attempts, 10–50 ms backoff); ``kw`` overrides any field."""
    base: dict[str, Any] = {"backend": "emulator", "endpoint_url": url, "max_attempts": 2,
                            "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    return BackendSettings(**{**base, **kw})


def make_jobs(n: int) -> list[ReportJob]:
    """n small ``kpi`` jobs, keys ``job0``…: for backends that never read the prompt's facts."""
    return [ReportJob(key=f"job{i}", kind="kpi", system="s", prompt=f"p{i}") for i in range(n)]


def call_once(mode: str, settings: BackendSettings, job: ReportJob) -> CallOutcome | BackendError:
    """``job`` through a fresh BedrockBackend of ``settings``, ``mode`` "sync" (``call``) or
    "async" (``acall`` in its own event loop): the outcome, or the BackendError it raised. The
    backend is closed either way."""
    backend = BedrockBackend(settings)

    async def acall() -> CallOutcome:
        try:
            return await backend.acall(job)
        finally:
            await backend.aclose()

    try:
        return backend.call(job) if mode == "sync" else asyncio.run(acall())
    except BackendError as exc:
        return exc
    finally:
        backend.close()


def bedrock_client(url: str, *, signed: bool = True, pool: int = 10) -> Any:
    """A real boto3 ``bedrock-runtime`` client for the endpoint ``url``: dummy credentials,
    us-east-1, one attempt (no retries), ``pool`` connections; unsigned when ``signed`` is
    false."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=pool,
        signature_version=None if signed else botocore.UNSIGNED,
    )
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client("bedrock-runtime", endpoint_url=url, config=config)


def load_script(path: Path, name: str, monkeypatch: pytest.MonkeyPatch | None = None
                ) -> ModuleType:
    """The Python file ``path`` (a script of benchmarks/ or scripts/, not a package module)
    imported as the module ``name``. With ``monkeypatch`` it is also in ``sys.modules`` while the
    test runs (dataclasses of the script look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if monkeypatch is not None:
        monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- emulator runs


def planted_figures(stats: dict[str, Any]) -> dict[str, set[tuple[int, str]]]:
    """Report key -> (line, wrong figure) the emulator planted, from its ``stats()``."""
    found: dict[str, set[tuple[int, str]]] = {}
    for change in stats["changed"]:
        if change["change"] == HALLUCINATED:
            found.setdefault(change["report"], set()).add((change["line"], change["now"]))
    return found


def repaired_figures(stats: dict[str, Any], how: str) -> dict[str, set[tuple[int, str]]]:
    """Report key -> (line, planted figure) a repair turn left as ``how`` ("corrected" or
    "kept"), from the emulator's ``stats()``."""
    found: dict[str, set[tuple[int, str]]] = {}
    for change in stats["changed"]:
        if change["change"] == how:
            found.setdefault(change["report"], set()).add((change["line"], change["was"]))
    return found


def generate_with_emulator(data_dir: Path, out: Path, args: list[str],
                           **emulator_options: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """``report-lib generate --data data_dir --out out --no-progress *args`` (through
    ``main``, in this process) against a new emulator of ``emulator_options``, stopped after:
    the exit code, the run file it wrote and the emulator's ``stats()`` at the end."""
    with Emulator(**emulator_options) as emu:
        code = main(["generate", "--data", str(data_dir), "--endpoint-url", emu.url,
                     "--out", str(out), "--no-progress", *args])
        stats = emu.stats()
    return code, json.loads(out.read_text(encoding="utf-8")), stats


# --------------------------------------------------------------------------- child processes


def aws_isolated_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment for a child process, with every AWS setting of the machine
    replaced: dummy keys, empty config and credentials files (in ``tmp_path``), no IMDS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    (tmp_path / "aws").write_text("", encoding="utf-8")
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_CONFIG_FILE=str(tmp_path / "aws"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


@contextlib.contextmanager
def own_group(cmd: list[str], env: dict[str, str] | None = None
              ) -> Iterator[subprocess.Popen[str]]:
    """``cmd`` started in a session (process group) of its own, stdout and stderr piped as text;
    on leaving the block, if it still runs, its whole group is killed (SIGKILL) and reaped."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_while_running(proc: subprocess.Popen[str], done: Callable[[], bool], timeout: float,
                       failure: str, interval: float = 0.1) -> None:
    """Poll ``done()`` every ``interval`` s until it is true. Fails with the output of ``proc``
    if it ends first, or with "``failure`` in ``timeout`` s" when the time is up."""
    deadline = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{failure} in {timeout:g} s"
        time.sleep(interval)


def process_family(pid: int) -> list[psutil.Process]:
    """Every descendant of the process ``pid`` now (children, theirs, …); [] if it is gone."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def still_running(procs: list[psutil.Process], timeout: float = 5.0) -> list[str]:
    """The command lines (first 100 characters) of the processes of ``procs`` still alive after
    waiting up to ``timeout`` s for them to end; zombies count as ended."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(" ".join(proc.cmdline())[:100])
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)

# 2 months × 4 operators. National totals: 2025-10 → 30 stations, 83 slow, 17 fast, 100 chargers;
# 2025-11 → 40 stations, 158 slow, 42 fast, 200 chargers. In 2025-11 에버온 overtakes GS차지비.
_TINY_ROWS: list[tuple[Any, ...]] = [
    # month, cpo, rank, stations, slow, fast, total, share, Δrank, Δstations, Δslow, Δfast, Δtotal
    ("2025-10", "GS차지비", 1, 10, 45, 5, 50, 50.0, None, None, None, None, None),
    ("2025-10", "에버온", 2, 10, 20, 10, 30, 30.0, None, None, None, None, None),
    ("2025-10", "파워큐브", 3, 5, 15, 0, 15, 15.0, None, None, None, None, None),
    ("2025-10", "차지인", 4, 5, 3, 2, 5, 5.0, None, None, None, None, None),
    ("2025-11", "에버온", 1, 14, 50, 20, 70, 35.0, 1, 4, 30, 10, 40),
    ("2025-11", "GS차지비", 2, 12, 54, 6, 60, 30.0, -1, 2, 9, 1, 10),
    ("2025-11", "파워큐브", 3, 8, 40, 10, 50, 25.0, 0, 3, 25, 10, 35),
    ("2025-11", "차지인", 4, 6, 14, 6, 20, 10.0, 0, 1, 11, 4, 15),
]


def make_tiny_frame() -> pd.DataFrame:
    """A canonical table small enough to check every number by hand (see _TINY_ROWS)."""
    frame = pd.DataFrame(_TINY_ROWS, columns=list(COLUMNS))
    frame["month"] = frame["month"].astype(str)
    frame["cpo"] = frame["cpo"].astype(str)
    for column in (
        "rank",
        "rank_change",
        "stations_change",
        "slow_change",
        "fast_change",
        "total_change",
    ):
        frame[column] = frame[column].astype("Int64")
    for column in ("stations", "slow_chargers", "fast_chargers", "total_chargers"):
        frame[column] = frame[column].astype("int64")
    frame["market_share"] = frame["market_share"].astype("float64")
    return frame


# --------------------------------------------------------------------------- ministry workbooks

HEADER = [
    "CPO명", "순위", "충전소수", "완속충전기", "급속충전기", "총충전기", "시장점유율",
    "순위변동", "충전소증감", "완속증감", "급속증감", "총증감",
]  # fmt: skip
TITLE = "전기차 충전인프라 현황 (25.11.30 기준)"
# National figures of the tiny table in 2025-11 (by hand: see conftest._TINY_ROWS).
NOV_SUMMARY = {
    "operators": 4,
    "stations": 40,
    "slow_chargers": 158,
    "fast_chargers": 42,
    "total_chargers": 200,
}
NOV_CHANGE = {
    "operators": 0,
    "stations": 10,
    "slow_chargers": 75,
    "fast_chargers": 25,
    "total_chargers": 100,
}


def tiny_month(month: str) -> pd.DataFrame:
    frame = make_tiny_frame()
    return frame[frame["month"] == month].reset_index(drop=True)


def tiny_rows(month: str = "2025-11") -> list[list[Any]]:
    """The tiny table's rows for one month in the workbook's column order (D..O)."""
    rows = []
    for record in tiny_month(month).to_dict("records"):
        values = [record[c] for c in COLUMNS[1:]]
        rows.append([None if pd.isna(v) else v for v in values])
    return rows


def write_ministry(
    path: Path,
    rows: list[list[Any]],
    *,
    title: str | None = TITLE,
    summary: dict[str, int] | None = None,
    summary_change: dict[str, int] | None = None,
    header: list[str] | None = None,
    first_column: int = 4,
    sheet_title: str = "Sheet1",
    notes: list[str | None] | None = None,
) -> Path:
    """A workbook in the ministry layout, cell by cell with openpyxl."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title
    if title is not None:
        sheet["C1"] = title
    if summary is not None:
        heads = ["구분", "운영기관수", "충전소수", "완속충전기", "급속충전기", "총충전기"]
        for k, head in enumerate(heads):
            sheet.cell(2, 11 + k, head)
        for row, label, values in ((3, "전체CPO", summary), (4, "당월증감량", summary_change)):
            if values is None:
                continue
            sheet.cell(row, 11, label)
            for k, name in enumerate(NOV_SUMMARY):
                sheet.cell(row, 12 + k, values[name])
    for k, head in enumerate([*(header or HEADER), "CH기준"]):
        sheet.cell(5, first_column + k, head)
    for r, values in enumerate(rows, start=6):
        for c, value in enumerate(values, start=first_column):
            if value is not None:
                sheet.cell(r, c, value)
        if notes and r - 6 < len(notes) and notes[r - 6]:
            sheet.cell(r, first_column + len(HEADER), notes[r - 6])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def nov_path(tmp_path: Path, name: str = "충전인프라 현황_2511.xlsx") -> Path:
    return tmp_path / name


def _style_sides(html: str) -> dict[str, str]:
    """Element id -> text-align, from rules of the <style> blocks that name ids (``#id``)."""
    sides: dict[str, str] = {}
    for block in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S):
        for rule in block.split("}"):
            selectors, _, body = rule.partition("{")
            align = re.fullmatch(r"\s*text-align:\s*(\w+);?\s*", body)
            for selector in selectors.split(",") if align else ():
                if re.fullmatch(r"#[\w-]+", selector.strip()):
                    sides[selector.strip()[1:]] = align.group(1)
    return sides


def aligned_cells(html: str, sides: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(text, text-align) of every header and data cell of the HTML, in order: the side
    comes from the cell's own style attribute, else from a rule of the <style> blocks naming the
    cell's id (``sides``, read from ``html`` when not given; "" when neither says)."""
    sides = _style_sides(html) if sides is None else sides
    cells = []
    for _, attrs, text in re.findall(r"<(th|td)(\s[^>]*)?>(.*?)</\1>", html, re.S):
        inline = re.search(r'style="text-align:\s*(\w+)', attrs)
        ident = re.search(r'id="([^"]+)"', attrs)
        side = inline.group(1) if inline else sides.get(ident.group(1) if ident else "", "")
        cells.append((re.sub(r"<[^>]+>", "", text).strip(), side))
    return cells


def column_sides(html: str) -> list[dict[str, set[str]]]:
    """Per <table> of the HTML: header text -> the text-align sides of its header and cells."""
    sides = _style_sides(html)
    tables = []
    for table in re.findall(r"<table.*?</table>", html, re.S):
        head, _, body = table.partition("</thead>")
        headers = aligned_cells(head, sides)
        columns: dict[str, set[str]] = {text: {side} for text, side in headers}
        names = [text for text, _ in headers]
        for row in re.findall(r"<tr.*?</tr>", body, re.S):
            for name, (_, side) in zip(names, aligned_cells(row, sides), strict=True):
                columns[name].add(side)
        tables.append(columns)
    return tables


def smallest_text_px(fig: Any, screen_px: int = 400) -> tuple[float, str]:
    """(height in px, text) of the smallest visible text of ``fig`` when its PNG, saved as a
    notebook shows it (``bbox_inches="tight"`` at the figure's dpi), is drawn ``screen_px``
    wide."""
    from matplotlib.text import Text

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
    width_px = struct.unpack(">I", buf.getvalue()[16:20])[0]  # the PNG header's IHDR width
    scale = screen_px / width_px
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min((float(t.get_fontsize()) * fig.dpi / 72 * scale, t.get_text()) for t in texts)
