"""Pipeline grids: parsing, type checks, convenience values, planning, manifest, runs table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from report_lib.errors import ConfigError
from report_lib.pipeline.grid import GridOptions, Planned, _share_limits, plan_grid
from report_lib.pipeline.gridspec import Grid, check_types, expand, parse_grid, slug
from report_lib.pipeline.manifest import (
    RunEntry,
    read_manifest,
    reusable,
    runs_table,
    write_manifest,
)

DECLARED: dict[str, dict[str, Any]] = {
    "reports": {
        "data_path": {"inferred_type_name": "str"},
        "target_month": {"inferred_type_name": "str"},
        "focus_cpo": {"inferred_type_name": "str"},
        "window_months": {"inferred_type_name": "int"},
        "time_scale": {"inferred_type_name": "float"},
        "stream": {"inferred_type_name": "bool"},
    },
    "benchmark": {"scenarios": {"inferred_type_name": "list"}},
}


# ---------------------------------------------------------------- parsing


def test_grid_options_give_the_cartesian_product_in_order() -> None:
    grid = parse_grid(["focus_cpo=A, B", "window_months=6,12"])
    assert grid.names == ["focus_cpo", "window_months"]
    assert grid.combos == [
        {"focus_cpo": "A", "window_months": "6"},
        {"focus_cpo": "A", "window_months": "12"},
        {"focus_cpo": "B", "window_months": "6"},
        {"focus_cpo": "B", "window_months": "12"},
    ]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (["focus_cpo"], "expected NAME=V1,V2"),
        (["focus_cpo="], "expected NAME=V1,V2"),
        (["=A,B"], "expected NAME=V1,V2"),
        (["focus_cpo=A,,B"], "none empty"),
        (["focus_cpo=A", "focus_cpo=B"], "given twice"),
    ],
)
def test_bad_grid_options(options: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_grid(options)


def test_grid_file_entries_cross_the_grid_options(tmp_path: Path) -> None:
    path = tmp_path / "runs.yaml"
    path.write_text("- {focus_cpo: GS차지비, window_months: 6}\n- {focus_cpo: 에버온}\n", "utf-8")
    grid = parse_grid(["target_month=2025-10,2025-11"], path)
    assert grid.names == ["focus_cpo", "window_months", "target_month"]
    assert grid.combos == [
        {"focus_cpo": "GS차지비", "window_months": 6, "target_month": "2025-10"},
        {"focus_cpo": "GS차지비", "window_months": 6, "target_month": "2025-11"},
        {"focus_cpo": "에버온", "target_month": "2025-10"},
        {"focus_cpo": "에버온", "target_month": "2025-11"},
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("focus_cpo: A\n", "a YAML list of parameter mappings"),
        ("- A\n- B\n", "a YAML list of parameter mappings"),
        ("- {a: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_grid_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "runs.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        parse_grid([], path)
    with pytest.raises(ConfigError, match="cannot be read"):
        parse_grid([], tmp_path / "missing.yaml")


def test_a_parameter_in_both_grid_file_and_option_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.yaml"
    path.write_text("- {focus_cpo: A}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="focus_cpo is varied by both"):
        parse_grid(["focus_cpo=B"], path)


# ---------------------------------------------------------------- types


def test_values_take_the_declared_types() -> None:
    grid = parse_grid(
        ["window_months=6", "time_scale=0.5,1", "stream=true,False", "focus_cpo=123,top:3"]
    )
    combos = check_types(grid, DECLARED).combos
    assert combos[0] == {"window_months": 6, "time_scale": 0.5, "stream": True, "focus_cpo": "123"}
    assert {type(c["time_scale"]) for c in combos} == {float}
    assert [c["stream"] for c in combos[:4]] == [True, True, False, False]
    assert combos[1]["focus_cpo"] == "top:3"


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ("window_months=6,six", "value 'six' is not of the declared type int"),
        ("window_months=6.5", "value '6.5' is not of the declared type int"),
        ("time_scale=fast", "value 'fast' is not of the declared type float"),
        ("stream=maybe", "value 'maybe' is not of the declared type bool"),
        ("focus_cpo=top:0", "N must be at least 1"),
        ("target_month=last:x", "expected last:N with N a number"),
        ("colour=red", "no selected notebook declares it"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(option: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_types(parse_grid([option]), DECLARED)


def test_grid_file_values_are_checked_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "runs.yaml"
    path.write_text("- {window_months: true}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="value True is not of the declared type int"):
        check_types(parse_grid([], path), DECLARED)
    path.write_text("- {focus_cpo: 2025, window_months: 3}\n", encoding="utf-8")
    assert check_types(parse_grid([], path), DECLARED).combos == [
        {"focus_cpo": "2025", "window_months": 3}
    ]


# ---------------------------------------------------------------- convenience values


def test_last_n_and_top_n_resolve_against_the_data(tiny_frame: pd.DataFrame) -> None:
    # 2025-10: GS차지비 1st, 에버온 2nd; 2025-11: 에버온 1st, GS차지비 2nd (tests/helpers.py)
    grid = parse_grid(["target_month=last:2", "focus_cpo=top:2"])
    assert expand(grid, tiny_frame, {}) == [
        {"target_month": "2025-10", "focus_cpo": "GS차지비"},
        {"target_month": "2025-10", "focus_cpo": "에버온"},
        {"target_month": "2025-11", "focus_cpo": "에버온"},
        {"target_month": "2025-11", "focus_cpo": "GS차지비"},
    ]
    assert expand(parse_grid(["focus_cpo=top:3"]), tiny_frame, {"target_month": "2025-10"}) == [
        {"focus_cpo": "GS차지비"},
        {"focus_cpo": "에버온"},
        {"focus_cpo": "파워큐브"},
    ]
    assert expand(parse_grid(["target_month=last:5"]), tiny_frame, {}) == [
        {"target_month": "2025-10"},
        {"target_month": "2025-11"},
    ]


def test_top_n_of_a_month_not_in_the_data_is_refused(tiny_frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="focus_cpo=top:2: month '2024-01' is not in the data"):
        expand(parse_grid(["focus_cpo=top:2"]), tiny_frame, {"target_month": "2024-01"})


def test_duplicate_runs_collapse(tiny_frame: pd.DataFrame) -> None:
    grid = Grid(["focus_cpo"], [{"focus_cpo": "에버온"}, {"focus_cpo": "top:1"}])
    assert expand(grid, tiny_frame, {}) == [{"focus_cpo": "에버온"}]


def test_slugs_are_readable_stable_and_distinct() -> None:
    first = slug({"focus_cpo": "GS차지비", "target_month": "2025-11"})
    assert first.startswith("GS차지비_2025-11-") and len(first) == len("GS차지비_2025-11-") + 8
    assert first == slug({"focus_cpo": "GS차지비", "target_month": "2025-11"})
    assert slug({"focus_cpo": "a/b"}) != slug({"focus_cpo": "a b"})
    assert "/" not in slug({"focus_cpo": "../../etc"})


# ---------------------------------------------------------------- planning


def test_plan_grid_checks_types_before_anything_runs(tmp_path: Path) -> None:
    options = GridOptions(
        tmp_path / "site", {"backend": "offline"}, parse_grid(["window_months=six"]), ["reports"]
    )
    with pytest.raises(ConfigError, match="'six' is not of the declared type int"):
        plan_grid(options)
    assert not (tmp_path / "site").exists()


def test_plan_grid_loads_the_data_once_and_names_every_run(
    tmp_path: Path, tiny_frame: pd.DataFrame
) -> None:
    data = tmp_path / "cpo.csv"
    tiny_frame.to_csv(data, index=False)
    options = GridOptions(
        tmp_path / "site",
        {"backend": "offline", "data_path": str(data)},
        parse_grid(["focus_cpo=top:2", "target_month=last:2"]),
        ["reports"],
        tpm_limit=9000,
    )
    plan = plan_grid(options)
    assert [p.entry.grid for p in plan.runs] == [
        {"focus_cpo": "GS차지비", "target_month": "2025-10"},
        {"focus_cpo": "에버온", "target_month": "2025-10"},
        {"focus_cpo": "에버온", "target_month": "2025-11"},
        {"focus_cpo": "GS차지비", "target_month": "2025-11"},
    ]
    assert len({p.entry.slug for p in plan.runs}) == 4
    assert plan.runs[0].entry.parameters == {
        "backend": "offline",
        "data_path": str(data),
        "focus_cpo": "GS차지비",
        "target_month": "2025-10",
    }
    assert plan.snapshot is not None and plan.runs[0].spec.data_param == "data_path"
    assert {p.entry.data_fingerprint for p in plan.runs} == {plan.runs[0].entry.data_fingerprint}
    _share_limits(plan.runs, 2, options)  # two concurrent runs share the quota
    assert {p.spec.parameters["tpm_limit"] for p in plan.runs} == {"4500"}
    assert all("rpm_limit" not in p.spec.parameters for p in plan.runs)


def test_limits_need_a_notebook_that_takes_them(tmp_path: Path) -> None:
    options = GridOptions(tmp_path, {}, Grid(), ["comparison_report"], rpm_limit=10)
    with pytest.raises(ConfigError, match="declares the parameter rpm_limit"):
        plan_grid(options)


# ---------------------------------------------------------------- manifest


def _entry(slug_: str, status: str, page: str | None, **grid: Any) -> RunEntry:
    entry = RunEntry("reports", slug_, {"backend": "offline", **grid}, dict(grid), status=status)
    entry.page, entry.seconds, entry.worker = page, 1.25, "tcp://127.0.0.1:1"
    entry.data_fingerprint, entry.notebook_fingerprint = "d", "n"
    return entry


def test_manifest_round_trip_and_reusable_runs(tmp_path: Path) -> None:
    ok = _entry("a", "ok", "runs/a/reports.html", focus_cpo="A")
    failed = _entry("b", "failed", "runs/b/reports.html", focus_cpo="B")
    gone = _entry("c", "ok", "runs/c/reports.html", focus_cpo="C")
    for page in ("runs/a/reports.html", "runs/b/reports.html"):
        (tmp_path / page).parent.mkdir(parents=True)
        (tmp_path / page).write_text("<p>page</p>", encoding="utf-8")
    write_manifest(tmp_path, [ok, failed, gone])
    data = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    assert [(d["status"], d["page"], d["error"]) for d in data] == [
        ("ok", "runs/a/reports.html", None),
        ("failed", "runs/b/reports.html", None),
        ("ok", "runs/c/reports.html", None),
    ]
    back = read_manifest(tmp_path)
    assert back == [ok, failed, gone]
    assert list(reusable(back, tmp_path).values()) == [ok]  # failed: rerun; c: page deleted
    changed = _entry("a", "ok", "runs/a/reports.html", focus_cpo="A")
    changed.data_fingerprint = "other data"
    assert changed.key() not in reusable(back, tmp_path)


def test_unreadable_manifest_is_no_manifest(tmp_path: Path) -> None:
    (tmp_path / "runs.json").write_text("{not json", encoding="utf-8")
    assert read_manifest(tmp_path) == []


def test_runs_table_lists_values_status_time_worker_and_link() -> None:
    entries = [
        _entry("a", "ok", "runs/a/reports.html", focus_cpo="<b>A</b>"),
        _entry("b", "failed", None, focus_cpo="B"),
    ]
    entries[1].error = "DataError: unknown focus operator 'B'"
    table = runs_table(entries)
    assert "2 runs of the grid: 1 ok, 1 failed" in table
    assert "<td>&lt;b&gt;A&lt;/b&gt;</td>" in table and "<b>A</b>" not in table
    assert '<a href="runs/a/reports.html">page</a>' in table
    assert "unknown focus operator &#x27;B&#x27;" in table
    assert table.count("<td>1.2 s</td>") == 2 and "tcp://127.0.0.1:1" in table
    assert runs_table([]) == ""


def test_planned_runs_reuse_only_matching_successes(tmp_path: Path) -> None:
    from report_lib.pipeline.grid import _mark_reusable
    from report_lib.pipeline.tasks import TaskSpec

    earlier = _entry("a", "ok", "runs/a/reports.html", focus_cpo="A")
    (tmp_path / "runs/a").mkdir(parents=True)
    (tmp_path / "runs/a/reports.html").write_text("x", encoding="utf-8")
    write_manifest(tmp_path, [earlier])
    spec = TaskSpec("reports", "a", b"{}", {}, "python3", 60)
    same = Planned(_entry("a", "failed", None, focus_cpo="A"), spec)
    other = Planned(_entry("b", "failed", None, focus_cpo="B"), spec)
    _mark_reusable([same, other], tmp_path)
    assert same.reuse == earlier and other.reuse is None


def test_index_puts_the_runs_above_the_other_pages_and_reports_failures(tmp_path: Path) -> None:
    from report_lib.pipeline.grid import _write_index
    from report_lib.pipeline.siterescue import SiteRescue
    from report_lib.pipeline.tasks import TaskSpec

    spec = TaskSpec("reports", "a", b"{}", {}, "python3", 60)
    good = _entry("a", "ok", "runs/a/reports.html", focus_cpo="A")
    bad = _entry("b", "failed", "runs/b/reports.html", focus_cpo="B")
    once = RunEntry("benchmark", "", {"repeats": 1}, {}, status="ok", page="benchmark.html")
    for page in ("runs/a/reports.html", "runs/b/reports.html", "benchmark.html"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("x", encoding="utf-8")
    planned = [Planned(e, spec) for e in (good, bad, once)]
    index = _write_index(SiteRescue(tmp_path), planned, "2026-11-30T01:00:00+00:00", 12.0,
                         "report-lib")
    page = index.read_text(encoding="utf-8")
    assert page.index("<h2>Runs</h2>") < page.index("<h2>Pages</h2>")
    assert "FAILED: 1 of the grid's runs failed" in page
    assert '<a href="benchmark.html">benchmark.html</a>' in page
    assert page.count('href="runs/') == 2


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ("backend=offline,nope", "backend = 'nope': expected one of"),
        ("window_months=0", "at least 1"),
    ],
)
def test_plan_grid_checks_each_value_like_a_parameter(
    tmp_path: Path, option: str, match: str
) -> None:
    options = GridOptions(tmp_path / "site", {}, parse_grid([option]), ["reports"])
    with pytest.raises(ConfigError, match=match):
        plan_grid(options)


@pytest.mark.slow
def test_cli_refuses_a_wrong_type_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from report_lib.cli.main import main

    out = tmp_path / "site"
    code = main(["pipeline", "--notebooks", "reports", "--grid", "window_months=6,six",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 2 and not out.exists()
    assert "--grid window_months: value 'six' is not of the declared type int" in (
        capsys.readouterr().err
    )


def test_an_out_folder_that_is_a_file_is_refused_up_front(tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.write_text("not a folder", encoding="utf-8")
    options = GridOptions(out, {}, parse_grid(["focus_cpo=A"]), ["reports"])
    with pytest.raises(ConfigError, match=r"--out .*site is a file, not a folder"):
        plan_grid(options)
