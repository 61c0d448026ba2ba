"""The notebooks as committed, and executed headless with small parameters (papermill).

`pytest --nbval-lax notebooks/` runs them with their defaults and compares the cells marked
``# NBVAL_CHECK_OUTPUT``; here they run with tiny inputs and their outputs are inspected.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from report_lib import config
from report_lib.bench import layout
from report_lib.bench import metrics as bench_rows
from report_lib.bench.result_files import load_results
from report_lib.data.sample import synthesize
from report_lib.pipeline.page import SUMMARY_MIME
from report_lib.pipeline.parameters import NOTEBOOKS


def run_notebook(name: str, out: Path, **parameters: object) -> nbformat.NotebookNode:
    output = out / f"{name}.ipynb"
    papermill.execute_notebook(
        str(config.NOTEBOOKS_DIR / f"{name}.ipynb"), str(output), parameters=parameters,
        kernel_name=config.KERNEL_NAME, progress_bar=False, execution_timeout=300,
        cwd=str(config.NOTEBOOKS_DIR),
    )
    return nbformat.read(output, as_version=4)


def outputs_of(nb: nbformat.NotebookNode, marker: str) -> list[dict]:
    """Outputs of the code cell whose source contains ``marker``."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    return cell.outputs


def all_outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def images(nb: nbformat.NotebookNode) -> int:
    return sum(1 for o in all_outputs(nb) if "image/png" in o.get("data", {}))


# ---------------------------------------------------------------- as committed
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_shape(name: str) -> None:
    nb = nbformat.read(config.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == config.KERNEL_NAME
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    for cell in code:  # committed without outputs; the checked cell's reference is "silent"
        assert not cell.outputs and cell.execution_count is None, cell.source[:60]
    checked = [c for c in code if c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert len(checked) == 1 and "assert" in checked[0].source


# ---------------------------------------------------------------- reports
@pytest.fixture(scope="module")
def tidy_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "cpo.csv"
    synthesize(months=13, operators=25, seed=5).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_reports_notebook_offline_asyncio_small_operator(tidy_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(tidy_csv)
    last = df[df["month"] == df["month"].max()].sort_values("total_chargers", ascending=False)
    focus = last["cpo"].iloc[20]  # rank 21: outside the top 15
    out = tmp_path / "reports"
    nb = run_notebook("reports", tmp_path, data_path=str(tidy_csv), focus_cpo=focus,
                      language="en", backend="offline", strategy="asyncio", window_months=6,
                      output_dir=str(out))
    assert not [o for o in all_outputs(nb) if o.output_type == "error"]
    shown = [o["data"]["text/html"] for o in outputs_of(nb, "generate.generate_reports(")]
    assert len(shown) == 3
    for kind in config.REPORT_KINDS:
        md = (out / f"{kind}.md").read_text("utf-8")
        heading = next(line[2:].strip() for line in md.splitlines() if line.startswith("# "))
        assert sum(f"<h1>{heading}</h1>" in html for html in shown) == 1, kind
    assert images(nb) == 4  # top operators, mix, national trend, focus vs market
    result = json.loads((out / "result.json").read_text("utf-8"))
    assert result["success"] is True and result["strategy"] == "asyncio"
    assert result["focus_cpo"] == focus
    assert outputs_of(nb, "# NBVAL_CHECK_OUTPUT") == []  # silent: all three delivered


# ---------------------------------------------------------------- comparison
def _results_dir(folder: Path) -> None:
    """A hand-made benchmark result: seed, scale (two N) and a throttled pair."""
    rows = []

    def add(scenario: str, strategy: str, n: int, c: int, makespan: float, **kw: object) -> None:
        row = dict.fromkeys(bench_rows.COLUMNS, math.nan)
        row.update(scenario=scenario, variant=kw.get("variant", ""), strategy=strategy,
                   start_method="", n_jobs=n, concurrency=c, repeat=1, makespan_s=makespan,
                   lower_bound_s=kw.get("lb", 1.0), efficiency=kw.get("lb", 1.0) / makespan,
                   speedup_vs_sequential=kw.get("speedup", math.nan), cpu_s=0.001 * n,
                   cpu_ms_per_call=1.0, peak_rss_mb=100.0, throttled=kw.get("throttled", 0),
                   retries=0, failed=0, tokens=1000 * n, quota_tpm=kw.get("quota", math.nan),
                   sustained_tpm=kw.get("sustained", math.nan), time_scale=1.0,
                   lower_bound_kind="latency", latency_model="fixed:1.0", backend="emulator")
        rows.append(row)

    add("seed", "sequential", 3, 1, 6.0, lb=2.0)
    add("seed", "thread", 3, 3, 2.0, lb=2.0)
    add("scale", "thread", 10, 10, 1.1, speedup=9.0)
    add("scale", "thread", 100, 100, 1.3, speedup=77.0)
    add("throttled", "thread", 30, 30, 100.0, variant="limiter", quota=10_000, sustained=9_500)
    add("throttled", "thread", 30, 30, 120.0, variant="retries", quota=10_000, sustained=8_000,
        throttled=9)
    folder.mkdir(parents=True)
    pd.DataFrame(rows, columns=list(bench_rows.COLUMNS)).to_csv(folder / "results.csv", index=False)
    timelines = [{"scenario": "seed", "variant": "", "strategy": s, "start_method": "",
                  "n_jobs": 3, "concurrency": c, "repeat": 1, "makespan_s": m,
                  "jobs": [{"key": k, "start_s": st, "end_s": st + 2.0, "attempts": 1,
                            "worker": "w", "error_type": None}
                           for k, st in zip(("kpi", "cpo", "trend"), starts, strict=True)]}
                 for s, c, m, starts in (("sequential", 1, 6.0, (0.0, 2.0, 4.0)),
                                         ("thread", 3, 2.0, (0.0, 0.0, 0.0)))]
    (folder / "timelines.json").write_text(json.dumps(timelines), "utf-8")
    (folder / "metadata.json").write_text(json.dumps({
        "created": "2025-12-01T00:00:00+00:00", "time_scale": 1.0, "repeats": 1,
        "published": {"sequential_s": 6.01, "parallel_s": 2.01}}), "utf-8")


@pytest.mark.slow
def test_comparison_notebook_leads_with_the_answer_then_sections(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    _results_dir(results_dir)
    nb = run_notebook("comparison_report", tmp_path, results_dir=str(results_dir),
                      run_if_missing=False)
    assert not [o for o in all_outputs(nb) if o.output_type == "error"]
    results, _, metadata = load_results(results_dir)
    code = [c for c in nb.cells if c.cell_type == "code"]
    where = {marker: next(i for i, c in enumerate(code) if marker in c.source)
             for marker in ("layout.verdict(", "recommend.which_to_use(",
                            "layout.headline_chart(", "layout.sections(")}
    # the verdict, the table, the chart, and only then the sentences
    assert list(where.values()) == sorted(where.values())
    verdict = outputs_of(nb, "layout.verdict(")[0]["data"][SUMMARY_MIME]
    assert verdict["lines"] == layout.verdict(results)
    assert any("image/png" in o.get("data", {}) for o in outputs_of(nb, "headline_chart("))
    shown = " ".join(o["data"]["text/html"] for o in outputs_of(nb, "layout.sections(")
                     if "text/html" in o.get("data", {}))
    sections = layout.sections(results, metadata)
    headings = re.findall(r"<h3>(.*?)</h3>", shown)
    assert headings == [s.title for s in sections]
    items = [re.sub(r"\s+", " ", item).strip()
             for item in re.findall(r"<li>(.*?)</li>", shown, flags=re.S)]
    assert items == [s.replace("&", "&amp;") for section in sections for s in section.sentences]
    assert any(s.startswith("seed: at N=3 with concurrency 3, thread") for s in items)
    # headline (scale), seed: makespan + timeline, scale: scaling + makespan, throttle,
    # resources
    assert images(nb) == 7


@pytest.mark.slow
def test_comparison_notebook_without_results_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_notebook("comparison_report", tmp_path, results_dir=str(tmp_path / "empty"),
                     run_if_missing=False)
    assert info.value.ename == "FileNotFoundError"
    assert "benchmark.ipynb" in info.value.evalue
