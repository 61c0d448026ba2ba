"""`bench --scenario quota`: its cells and quotas, the bound/ratio/target computations on
hand-made rows, the page's table/sentences/chart, and a tiny real run against the emulator."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pandas as pd
import pytest

from report_lib.bench import comparison, figures, quota_report
from report_lib.bench.analysis import QUOTA_TARGETS, check_targets, quota_cells
from report_lib.bench.benchmark import plan_run, run_benchmark
from report_lib.bench.plan import (
    QUOTA,
    QUOTA_ACCOUNTINGS,
    QUOTA_CLIENTS,
    QUOTA_FAR_CLIENTS,
    QUOTA_MINUTE_KINDS,
    QUOTA_N,
    QUOTA_STRATEGIES,
    Case,
    plan_cases,
    quota_variant,
)
from report_lib.bench.quota_cells import (
    FAR_REPEATS,
    QUOTA_MINUTES,
    at_once,
    call_charges,
    cell_bound,
    cell_settings,
    cell_tpm,
    with_quota,
)
from report_lib.bench.summary import report_markdown
from report_lib.bench.workload import JobSource, estimate_job_tokens
from report_lib.errors import ConfigError
from report_lib.llm.quota import burndown_rate
from report_lib.llm.settings import BackendSettings
from tests.helpers import smallest_text_px

SETTINGS = BackendSettings()


# ----------------------------------------------------------------------------- planning


def test_the_matrix_has_every_cell_once() -> None:
    cases = plan_cases(QUOTA)
    clients = (*QUOTA_CLIENTS, *QUOTA_FAR_CLIENTS)
    expected = set(itertools.product(QUOTA_N, QUOTA_MINUTE_KINDS, QUOTA_ACCOUNTINGS, clients,
                                     QUOTA_STRATEGIES))
    seen = [(c.n_jobs, c.quota_minute, c.accounting, c.client, c.strategy) for c in cases]
    assert sorted(seen) == sorted(expected)  # each once
    for case in cases:
        assert case.concurrency == case.n_jobs
        assert case.variant == f"{case.client}/{case.quota_minute}/{case.accounting}"
        assert case.far == (case.client in QUOTA_FAR_CLIENTS)


def test_the_matrix_follows_n_and_strategies_and_variants_pick_cells() -> None:
    cases = plan_cases(QUOTA, n_values=[7], strategies=["asyncio"])
    assert {(c.n_jobs, c.strategy) for c in cases} == {(7, "asyncio")}
    wanted = ["known/fixed/bedrock", "none-far/bucket/actual"]
    picked = plan_run([QUOTA], n_values=[7], strategies="thread", variants=wanted)[QUOTA]
    assert sorted(c.variant for c in picked) == sorted(wanted)
    with pytest.raises(ConfigError, match="unknown variant known/daily/bedrock"):
        plan_run([QUOTA], n_values=[7], variants=["known/daily/bedrock"])


def test_the_quota_scenario_needs_the_emulator() -> None:
    with pytest.raises(ConfigError, match="quota scenario sets the emulator's token quota"):
        run_benchmark([QUOTA], endpoint_url="http://127.0.0.1:9", progress=False)


def _calls(n: int, seed: int = 3) -> list[tuple[int, int]]:
    """(input, output) tokens of ``n`` made-up calls."""
    return [(700 + (i * 37 + seed) % 300, 300 + (i * 53 + seed) % 500) for i in range(n)]


def _case(client: str, minute: str = "sliding", accounting: str = "bedrock",
          n: int = 40) -> Case:
    return Case(QUOTA, "thread", n, n, "fixed:1.0", variant=quota_variant(client, minute,
                                                                          accounting),
                quota_minute=minute, accounting=accounting, client=client)


@pytest.mark.parametrize("accounting", QUOTA_ACCOUNTINGS)
def test_a_cells_quota_is_its_charges_over_the_quota_minutes(accounting: str) -> None:
    calls = _calls(40)
    burndown = burndown_rate(SETTINGS.model_id) if accounting == "bedrock" else 1.0
    settled = sum(i + math.ceil(o * burndown) for i, o in calls)
    tpm = cell_tpm(_case("known", accounting=accounting), calls, SETTINGS.model_id,
                   SETTINGS.max_tokens)
    assert tpm == math.ceil(settled / QUOTA_MINUTES)
    far = cell_tpm(_case("auto-far", accounting=accounting), calls, SETTINGS.model_id,
                   SETTINGS.max_tokens)
    taken = [max(a, s) for a, s in call_charges(calls, accounting, SETTINGS.model_id,
                                                SETTINGS.max_tokens)]
    assert far >= sum(taken)  # the whole run fits in one quota minute


def test_bedrock_accounting_reserves_max_tokens_and_burns_output_five_times() -> None:
    calls = [(800, 400), (1000, 100)]
    assert call_charges(calls, "bedrock", SETTINGS.model_id, 2048) == [
        (800 + 2048, 800 + 5 * 400), (1000 + 2048, 1000 + 5 * 100)]
    assert call_charges(calls, "actual", SETTINGS.model_id, 2048) == [(1200, 1200), (1100, 1100)]


@pytest.mark.parametrize(("minute", "accounting"),
                         [("bucket", "actual"), ("sliding", "bedrock"), ("bucket", "bedrock")])
def test_a_quota_bound_cell_needs_about_three_quota_minutes(minute: str,
                                                             accounting: str) -> None:
    calls = _calls(40)
    case = with_quota(_case("known", minute, accounting), calls, SETTINGS.model_id,
                      SETTINGS.max_tokens)
    bound = cell_bound(case, calls, SETTINGS, time_scale=1.0)
    assert 2.5 * 60 <= bound <= 4.0 * 60, bound  # quota-bound, not call-bound (1 s)


def test_a_far_cells_bound_is_its_slowest_call_and_its_quota_admits_everything() -> None:
    calls = _calls(40)
    case = with_quota(_case("auto-far"), calls, SETTINGS.model_id, SETTINGS.max_tokens)
    assert cell_bound(case, calls, SETTINGS, time_scale=0.1) == pytest.approx(0.1)
    assert at_once(case, calls, SETTINGS.model_id, SETTINGS.max_tokens) == 40
    bound_case = with_quota(_case("known"), calls, SETTINGS.model_id, SETTINGS.max_tokens)
    first = at_once(bound_case, calls, SETTINGS.model_id, SETTINGS.max_tokens)
    reserved = [a for a, _ in call_charges(calls, "bedrock", SETTINGS.model_id,
                                           SETTINGS.max_tokens)]
    assert sum(reserved[:first]) <= bound_case.tpm < sum(reserved[:first + 1])


def test_each_client_gets_its_own_settings_with_a_scaled_minute() -> None:
    calls = _calls(10)
    made = {client: cell_settings(with_quota(_case(client, accounting="actual"), calls,
                                             SETTINGS.model_id, SETTINGS.max_tokens),
                                  SETTINGS, 0.1, calls)
            for client in (*QUOTA_CLIENTS, *QUOTA_FAR_CLIENTS)}
    assert made["known"].tpm_limit is not None and made["known"].burndown == 1.0
    assert made["auto"].tpm_auto and made["auto-far"].tpm_auto
    # both limiters are told how an end-charged service counts (--burndown 1), not the quota
    assert made["auto"].burndown == made["auto-far"].burndown == 1.0
    bedrock = cell_settings(with_quota(_case("auto", accounting="bedrock"), calls,
                                       SETTINGS.model_id, SETTINGS.max_tokens), SETTINGS, 0.1,
                            calls)
    assert bedrock.tpm_auto and bedrock.burndown is None  # the model's own rate: 5
    assert made["adaptive"].retry_mode == "adaptive"
    for client in ("retries", "none-far", "adaptive"):
        assert made[client].tpm_limit is None and not made[client].tpm_auto
    for settings in made.values():
        assert settings.limiter_window_s == pytest.approx(6.0)
        assert settings.backoff_max_s == pytest.approx(SETTINGS.backoff_max_s * 0.1)


# ------------------------------------------------------------- computed from hand-made rows


def quota_row(client: str, minute: str, accounting: str, strategy: str, n: int,
              makespan: float, bound: float, *, throttled: int = 0, failed: int = 0,
              repeat: int = 1, tpm: int = 50_000) -> dict[str, Any]:
    return {"scenario": QUOTA, "variant": quota_variant(client, minute, accounting),
            "strategy": strategy, "start_method": "", "n_jobs": n, "concurrency": n,
            "repeat": repeat, "makespan_s": makespan, "lower_bound_s": bound,
            "efficiency": bound / makespan, "requests": n - failed + throttled,
            "throttled": throttled, "failed": failed, "retries": throttled,
            "quota_tpm": tpm, "time_scale": 0.05, "latency_model": "fixed:1",
            "cpu_ms_per_call": 1.0, "peak_rss_mb": 100.0, "sum_latency_s": 0.05 * n,
            "quota_minute": minute, "accounting": accounting, "client": client}


@pytest.fixture
def quota_rows() -> pd.DataFrame:
    rows = [
        # known: one clean, one 6 % throttled, one 1.16x, one that lost a report
        quota_row("known", "bucket", "actual", "thread", 40, 9.9, 9.0, throttled=2),
        quota_row("known", "sliding", "bedrock", "thread", 40, 9.0, 9.0, throttled=3),
        quota_row("known", "fixed", "bedrock", "asyncio", 40, 11.6, 10.0),
        quota_row("known", "bucket", "bedrock", "thread", 200, 9.0, 9.0, failed=1),
        # auto: 1.29x and 20 % (met); 1.31x (missed)
        quota_row("auto", "bucket", "actual", "thread", 40, 12.9, 10.0, throttled=10),
        quota_row("auto", "sliding", "bedrock", "asyncio", 40, 13.1, 10.0),
        # far: auto 1.2x its no-limiter run (met), though 4x its slowest call
        *[quota_row("auto-far", "bucket", "actual", "thread", 40, 0.24 + 0.01 * r, 0.05,
                    repeat=r, tpm=900_000) for r in range(FAR_REPEATS)],
        *[quota_row("none-far", "bucket", "actual", "thread", 40, 0.2, 0.05, repeat=r,
                    tpm=900_000) for r in range(FAR_REPEATS)],
        # far, asyncio: 1.5x its own no-limiter run (missed); the thread one is 1.75x away
        quota_row("auto-far", "bucket", "actual", "asyncio", 40, 0.6, 0.05, tpm=900_000),
        quota_row("none-far", "bucket", "actual", "asyncio", 40, 0.4, 0.05, tpm=900_000),
        # no target: adaptive 1.5x; retries lost 7 of 200, and 2x where it lost nothing
        quota_row("adaptive", "bucket", "actual", "thread", 40, 15.0, 10.0, throttled=20),
        quota_row("retries", "bucket", "actual", "thread", 200, 8.0, 10.0, throttled=400,
                  failed=7),
        quota_row("retries", "sliding", "actual", "thread", 40, 20.0, 10.0, throttled=60),
    ]
    return pd.DataFrame(rows)


def _cell(cells: pd.DataFrame, variant: str, strategy: str, n: int = 40) -> dict[str, Any]:
    sel = cells[(cells["variant"] == variant) & (cells["strategy"] == strategy)
                & (cells["n_jobs"] == n)]
    assert len(sel) == 1
    return {str(k): v for k, v in sel.iloc[0].items()}


def test_ratio_share_and_the_run_without_a_limiter_beside_it(quota_rows: pd.DataFrame) -> None:
    cells = quota_cells(quota_rows)
    known = _cell(cells, "known/bucket/actual", "thread")
    assert known["ratio"] == pytest.approx(9.9 / 9.0)
    assert known["throttled_share"] == pytest.approx(2 / 42)
    far = _cell(cells, "auto-far/bucket/actual", "thread")
    assert far["runs"] == FAR_REPEATS
    assert far["makespan_s"] == pytest.approx(0.25)  # the median of 0.24, 0.25, 0.26
    assert far["unlimited_s"] == pytest.approx(0.2)  # its own strategy's no-limiter run
    assert far["vs_unlimited"] == pytest.approx(0.25 / 0.2)
    assert _cell(cells, "auto-far/bucket/actual", "asyncio")["vs_unlimited"] == \
        pytest.approx(0.6 / 0.4)
    assert math.isnan(known["vs_unlimited"])


def test_targets_name_exactly_the_cells_that_miss(quota_rows: pd.DataFrame) -> None:
    checks = [c for c in check_targets(quota_rows) if c.scenario == QUOTA]
    verdicts = {c.strategy: c.passed for c in checks}
    assert verdicts == {
        "known bucket/actual thread N=40": True,
        "known sliding/bedrock thread N=40": False,  # 3 of 43 = 7 % throttled
        "known fixed/bedrock asyncio N=40": False,  # 1.16x
        "known bucket/bedrock thread N=200": False,  # a report lost
        "auto bucket/actual thread N=40": True,  # 1.29x, 10 of 50 = 20 % throttled
        "auto sliding/bedrock asyncio N=40": False,  # 1.31x
        "auto-far bucket/actual thread N=40": True,  # 1.25x the run without a limiter
        "auto-far bucket/actual asyncio N=40": False,  # 1.5x
    }
    detail = {c.strategy: c.detail for c in checks}
    assert "missed: 7% throttled > 5%" in detail["known sliding/bedrock thread N=40"]
    assert "missed: 1.16x the bound > 1.15x" in detail["known fixed/bedrock asyncio N=40"]
    assert "missed: 1 lost" in detail["known bucket/bedrock thread N=200"]
    assert "without a limiter 0.40 s" in detail["auto-far bucket/actual asyncio N=40"]
    assert QUOTA_TARGETS["known"] == (0.05, 1.15) and QUOTA_TARGETS["auto"] == (0.20, 1.30)


def test_sentences_count_and_name_the_misses(quota_rows: pd.DataFrame) -> None:
    sentences = quota_report.quota_sentences(quota_rows)
    known = next(s for s in sentences if s.startswith("quota known"))
    assert "met in 1 of 4 cells (makespan 1.00x to 1.16x the bound)" in known
    assert "sliding/bedrock (1: up to 1.00x, up to 7% throttled)" in known
    assert "fixed/bedrock (1: up to 1.16x, up to 0% throttled)" in known
    assert "bucket/bedrock (1: up to 1.00x, up to 0% throttled, 1 report lost)" in known
    auto = next(s for s in sentences if s.startswith("--tpm-limit auto"))
    assert "met in 1 of 2 cells (makespan 1.29x to 1.31x the bound)" in auto
    far = next(s for s in sentences if s.startswith("auto, quota far away"))
    assert "met in 1 of 2 cells (makespan 1.25x to 1.50x the run without a limiter" in far
    retries = next(s for s in sentences if s.startswith("our retries alone"))
    assert "makespan 2.00x the bound (median 2.00x) in the 1 cell that lost nothing" in retries
    assert f"{460 / (193 + 400 + 100):.0%} of its requests throttled" in retries
    assert "7 reports lost in 1 of 2 cells (worst: retries bucket/actual thread N=200, " \
           "7 of 200)" in retries
    adaptive = next(s for s in sentences if s.startswith("botocore adaptive"))
    assert "makespan 1.50x the bound" in adaptive and "no report lost in 1 cell" in adaptive


def test_the_table_has_a_line_per_quota_model_and_a_column_per_client(
        quota_rows: pd.DataFrame) -> None:
    table = quota_report.quota_table(quota_rows)
    assert list(table.columns[:5]) == ["N", "minute", "accounting", "strategy", "tpm"]
    line = table[(table["N"] == 40) & (table["minute"] == "bucket")
                 & (table["accounting"] == "actual") & (table["strategy"] == "thread")]
    assert len(line) == 1
    got = line.iloc[0]
    assert got["known"] == "1.10x, 5% thr"
    assert got["auto"] == "1.29x, 20% thr"
    assert got["auto-far"] == "1.25x no-limiter, 0% thr"
    assert got["tpm"] == 50_000  # the quota-bound cells' quota, not the far one's
    lost = table[(table["N"] == 200) & (table["minute"] == "bucket")
                 & (table["accounting"] == "bedrock")].iloc[0]
    assert lost["known"] == "1.00x, 0% thr, 1 lost, MISS"


@pytest.mark.slow
def test_the_page_keeps_quota_cells_to_their_own_section(quota_rows: pd.DataFrame) -> None:
    other = pd.DataFrame([{**quota_row("retries", "bucket", "actual", "thread", 10, 2.0, 1.0),
                           "scenario": "scale", "variant": "", "quota_minute": "",
                           "accounting": "", "client": "", "quota_tpm": math.nan}])
    both = pd.concat([quota_rows, other], ignore_index=True)
    sentences = comparison.conclusions(both)
    assert all(s in sentences for s in quota_report.quota_sentences(quota_rows))
    assert not any("known/" in s for s in sentences)  # no quota variant in generic sentences
    assert not any(s.startswith("Not in these results") and "quota" in s for s in sentences)
    assert comparison.quota_table(both)[0].empty  # the throttled chart leaves them out
    assert quota_report.without_quota(both)["scenario"].tolist() == ["scale"]
    panels = [ax.get_title() for ax in figures.makespan_chart(both).axes if ax.get_title()]
    assert panels and all(t.startswith("scale") for t in panels)
    markdown = report_markdown(both, {})
    assert "### Quota models" in markdown and "| known" in markdown
    assert "known/bucket/actual" not in markdown.split("### Quota models")[0]


def test_the_quota_chart_draws_a_point_per_cell_and_is_readable(
        quota_rows: pd.DataFrame) -> None:
    fig = quota_report.quota_chart(quota_rows)
    assert fig is not None
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["N=40", "N=200"]
    cells = quota_cells(quota_rows)
    drawn = sum(len(c.get_offsets()) for ax in panels for c in ax.collections
                if c.get_facecolors().size)  # rings (lost reports) are unfilled
    shown = cells[cells["client"] != "none-far"]
    assert drawn == len(shown)
    px, text = smallest_text_px(fig, screen_px=400)
    assert px >= 10, (text, px)
    assert quota_report.quota_chart(quota_rows[quota_rows["n_jobs"] < 0]) is None


# ------------------------------------------------------------------------ a tiny real run


@pytest.mark.slow
def test_two_cells_run_against_the_emulator(tmp_path: Any) -> None:
    wanted = ["known/sliding/bedrock", "auto-far/bucket/actual"]
    rows = run_benchmark([QUOTA], strategies=["thread"], n_values=[6], variants=wanted,
                         time_scale=0.01, out_dir=tmp_path, progress=False)
    assert sorted(set(rows["variant"])) == sorted(wanted)
    assert (rows["variant"] == "auto-far/bucket/actual").sum() == FAR_REPEATS
    jobs = JobSource().jobs(QUOTA, 6)
    calls = estimate_job_tokens(jobs)
    for record in rows.to_dict("records"):
        case = _case(str(record["client"]), str(record["quota_minute"]),
                     str(record["accounting"]), n=6)
        assert record["quota_tpm"] == cell_tpm(case, calls, SETTINGS.model_id,
                                               SETTINGS.max_tokens)
        assert record["failed"] == 0
        assert record["requests"] >= 6  # the emulator counted this run only
    far = rows[rows["client"] == "auto-far"]
    assert far["lower_bound_s"].tolist() == pytest.approx([0.01] * FAR_REPEATS)  # slowest call
    assert (far["throttled"] == 0).all()
    known = rows[rows["client"] == "known"].iloc[0]
    assert known["lower_bound_kind"] == "quota model"
    assert known["lower_bound_s"] > 0.6  # more than one quota minute of 0.6 s
    assert known["makespan_s"] >= known["lower_bound_s"] * 0.9
    cells = quota_cells(rows)
    assert set(cells["client"]) == {"known", "auto-far"}


def test_an_unknown_variant_is_one_line_and_exit_2(tmp_path: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from report_lib.cli.main import main

    assert main(["bench", "--scenario", "quota", "--variants", "known/daily/bedrock",
                 "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown variant known/daily/bedrock" in err
    assert not (tmp_path / "x.csv").exists()


def test_a_page_of_quota_cells_alone_leads_with_their_chart(quota_rows: pd.DataFrame) -> None:
    from report_lib.bench import layout

    fig = layout.headline_chart(quota_rows)
    assert fig is not None
    assert fig.axes[0].get_ylabel() == "makespan / bound (log)"
    titles = [s.title for s in layout.sections(quota_rows)]
    assert titles[0] == layout.SECTIONS["quota"].title


def test_the_quota_verdict_line_is_computed_from_the_quota_cells(
        quota_rows: pd.DataFrame) -> None:
    from report_lib.bench import layout, recommend

    row = recommend.which_to_use(quota_rows).set_index("situation").loc["under a token quota"]
    # known lost a report (N=200): auto (median of 1.29x and 1.31x) beats adaptive (1.5x)
    assert row["use"] == "--tpm-limit auto"
    assert row["median"] == "1.30x the bound"
    assert row["runner-up"] == "botocore's adaptive retry mode (1.50x the bound)"
    assert row["margin"] == "15 % faster"
    assert row["note"] == (
        "--tpm-limit auto: 11% of requests throttled, no report lost in 2 cells; the limiter "
        "told the quota (--tpm-limit N) lost 1 report in 1 of 4 cells; our retries alone lost "
        "7 reports in 1 of 2 cells")
    assert row["measured at"].startswith("quota, 9 quota-bound cells, N=40, 200")
    assert layout.verdict(quota_rows)[-1] == (
        "Under a token quota: use --tpm-limit auto, 1.30x the bound median; 15 % faster than "
        "the runner-up, botocore's adaptive retry mode (1.50x the bound).")
    # the same rows without the lost report: the known limiter (median 1.05x) is chosen
    clean = quota_rows.assign(failed=0)
    again = recommend.which_to_use(clean).set_index("situation").loc["under a token quota"]
    assert again["use"] == "the limiter told the quota (--tpm-limit N)"
    assert again["median"] == "1.05x the bound"
