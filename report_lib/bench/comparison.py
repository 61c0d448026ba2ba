"""The comparison report: tables and sentences computed from benchmark results.

Input is what ``bench.result_files.load_results(out_dir)`` returns: the results DataFrame (one row
per run), the per-job timelines and the metadata. Every number in the conclusions comes from
those rows; a scenario that was not run is named as missing, never described. The charts are
in ``bench.figures``.

A strategy is shown with its variant and start method when it has them (``process/spawn``,
``thread/limiter``). The ``original`` strategy is the original design (a new client per task,
``ThreadPoolExecutor(3)``): it is a baseline, never a winner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from report_lib.bench.analysis import (
    CPU_SHARE_MAX,
    efficiency_concludable,
    equivalent,
    summarize,
    with_labels,
)
from report_lib.bench.peer_names import PEERS_SCENARIO
from report_lib.bench.plan import (
    BENCH_STRATEGIES,
    ORIGINAL,
    PUBLISHED,
    QUOTA,
    SCENARIO_NAMES,
    SEQUENTIAL,
)
from report_lib.bench.quota_report import quota_sentences, without_quota


def fmt_seconds(t: float) -> str:
    """3 decimals under 1 s, 2 under 100 s, none above: 0.041 s, 1.07 s, 281 s."""
    if t < 1:
        return f"{t:.3f} s"
    return f"{t:.2f} s" if t < 100 else f"{t:,.0f} s"


def fmt_ratio(x: float) -> str:
    """2 decimals under 10, 1 under 100, none above: 1.02×, 28.5×, 281×."""
    if x < 10:
        return f"{x:.2f}×"
    return f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def order(values: Iterable[Any], order: Sequence[str]) -> list[str]:
    """Distinct values, known ones in ``order`` (by their base name), the rest sorted."""
    values = list(dict.fromkeys(str(v) for v in values))
    rank = {name: i for i, name in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v.split("/")[0], len(order)), v))


def published_table(results: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
    """The original's published 6.01 s / 2.01 s beside our 3-call measurements (seed scenario
    and the original design). ``per_latency`` = makespan / one call's latency, so runs at any
    time scale compare with the published numbers (whose calls slept 2 s)."""
    published = {**PUBLISHED, **((metadata or {}).get("published") or {})}
    claim = "original, published (time.sleep(2))"
    rows: list[dict[str, Any]] = [
        {"source": claim, "strategy": name, "n_jobs": 3, "median_s": value, "min_s": None,
         "max_s": None, "time_scale": 1.0, "call_latency_s": 2.0, "per_latency": value / 2.0}
        for name, value in (("sequential", published["sequential_s"]),
                            ("ThreadPoolExecutor(3)", published["parallel_s"]))
    ]
    table = summarize(results)
    three = table[(table["n_jobs"] == 3) & ((table["scenario"] == "seed")
                                            | (table["strategy"] == ORIGINAL))]
    for scenario in order(three["scenario"], SCENARIO_NAMES):
        part = three[three["scenario"] == scenario]
        for label in order(part["label"], BENCH_STRATEGIES):
            row = part[part["label"] == label].sort_values("makespan_s").iloc[0]
            latency = float(row.get("lower_bound_s", np.nan))
            rows.append({
                "source": f"measured, {scenario} scenario", "strategy": label, "n_jobs": 3,
                "median_s": round(float(row["makespan_s"]), 4),
                "min_s": round(float(row["makespan_min_s"]), 4),
                "max_s": round(float(row["makespan_max_s"]), 4),
                "time_scale": float(row["time_scale"]),
                "call_latency_s": round(latency, 4),
                "per_latency": round(float(row["makespan_s"]) / latency, 3)
                if latency > 0 else np.nan,
            })
    return pd.DataFrame(rows)


def quota_table(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per-label medians of the quota-bound rows and the throughput column to use."""
    if "quota_tpm" not in results.columns:
        return results.iloc[0:0], ""
    results = without_quota(results)  # bench.quota_report shows those
    rows = results[pd.to_numeric(results["quota_tpm"], errors="coerce") > 0]
    column = next((c for c in ("sustained_tpm", "throughput_tpm")
                   if c in rows.columns and rows[c].notna().any()), "")
    if rows.empty or not column:
        return results.iloc[0:0], ""
    return summarize(rows), column


def speed_phrase(t: float, other: float) -> str:
    """How a makespan ``t`` compares with ``other``, in plain words: "12 % faster than",
    "3.0× as fast as", "12 % slower than", "takes 3.0× as long as". Speed is 1 / makespan,
    so "12 % slower" means 0.88 × the other's speed."""
    speed = other / t
    if speed >= 2:
        return f"{speed:.1f}× as fast as"
    if speed >= 1:
        return f"{(speed - 1) * 100:.0f} % faster than"
    if speed > 0.5:
        return f"{(1 - speed) * 100:.0f} % slower than"
    return f"takes {1 / speed:.1f}× as long as"


def _reports(n: int) -> str:
    return f"{n} report{'s' if n != 1 else ''}"


def _is_baseline(case: Mapping[str, Any]) -> bool:
    return case["strategy"] in (SEQUENTIAL, ORIGINAL)


def _no_quota(case: Mapping[str, Any]) -> bool:
    return not float(case.get("quota_tpm", np.nan)) > 0


def same_condition(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Cases that ran the same calls under the same conditions: N, time scale, latency model and
    quota (the original design's scenario counts as the same when all of these match)."""
    keys = ["n_jobs", "time_scale", *(["latency_model"] if "latency_model" in a else [])]
    if any(a[k] != b[k] for k in keys):
        return False
    if _no_quota(a) != _no_quota(b):
        return False
    return _no_quota(a) or float(a["quota_tpm"]) == float(b["quota_tpm"])


def case_groups(cases: pd.DataFrame) -> list[tuple[str, int, int, list[dict[str, Any]]]]:
    """(scenario, N, concurrency, cases) compared together: the parallel strategies of one
    scenario, N, concurrency and time scale, with the baselines of the same condition."""
    records = [{str(k): v for k, v in r.items()} for r in cases.to_dict("records")]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for case in records:
        if case["scenario"] == PEERS_SCENARIO:  # its own table: bench.against
            continue
        if not _is_baseline(case) and case["variant"] != "bare":
            key = (case["scenario"], int(case["n_jobs"]), int(case["concurrency"]),
                   float(case["time_scale"]), case["variant"] == "cold")
            groups.setdefault(key, []).append(case)
    out = []
    for (scenario, n, conc, _, cold), members in groups.items():
        base = [c for c in records if _is_baseline(c) and same_condition(c, members[0])
                and (c["scenario"] == scenario or c["strategy"] == ORIGINAL) and not cold]
        out.append((str(scenario), n, conc, members + base))
    return out


def is_cold(group: list[dict[str, Any]]) -> bool:
    """A group of cold runs (a fresh process per run), compared among themselves only."""
    return all(c["variant"] == "cold" for c in group)


def cold_sentences(cases: pd.DataFrame) -> list[str]:
    """Each cold case beside its warm twin: what a fresh process adds to the first run."""
    out = []
    for cold in cases[cases["variant"] == "cold"].to_dict("records"):
        warm = cases[(cases["variant"] == "") & (cases["scenario"] == cold["scenario"])
                     & (cases["strategy"] == cold["strategy"])
                     & (cases["n_jobs"] == cold["n_jobs"])
                     & (cases["concurrency"] == cold["concurrency"])
                     & (cases["time_scale"] == cold["time_scale"])]
        if warm.empty:
            continue
        t_cold, t_warm = float(cold["makespan_s"]), float(warm["makespan_s"].iloc[0])
        call = float(cold["lower_bound_s"])
        out.append(
            f"{cold['scenario']}: {cold['strategy']} from a cold start (generate_reports in a "
            f"fresh process) took {fmt_seconds(t_cold)} ({t_cold / call:.2f}× "
            f"one call's {fmt_seconds(call)}), warm {fmt_seconds(t_warm)} "
            f"({t_warm / call:.2f}×): the first run costs {fmt_seconds(t_cold - t_warm)} more.")
    return out


def _ranked(group: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(candidates that lost nothing by makespan, those that lost reports)."""
    ok = sorted((c for c in group if not _is_baseline(c) and int(c["failed"]) == 0),
                key=lambda c: float(c["makespan_s"]))
    lost = [c for c in group if not _is_baseline(c) and int(c["failed"]) > 0]
    return ok, lost


def _against(best: dict[str, Any], other: dict[str, Any], name: str) -> str:
    t, o = float(best["makespan_s"]), float(other["makespan_s"])
    if equivalent(best, other):
        return f"equivalent to {name} ({fmt_seconds(o)}, within the measured spread)"
    return f"{speed_phrase(t, o)} {name} ({fmt_seconds(o)})"


def winner_sentence(scenario: str, n: int, conc: int, group: list[dict[str, Any]]) -> str:
    """Who was fastest among the cases that lost nothing, by how much, against what."""
    ok, lost = _ranked(group)
    head = f"{scenario}: at N={n} with concurrency {conc}"
    if is_cold(group):
        head += " from a cold start (a fresh process per run)"
    lost_text = "; ".join(f"{c['label']} lost {_reports(int(c['failed']))} and is not ranked"
                          for c in lost)
    if not ok:
        return f"{head}, no strategy delivered every report ({lost_text})."
    best = ok[0]
    parts = [_against(best, c, str(c["label"])) for c in ok[1:2]]
    for name in (SEQUENTIAL, ORIGINAL):
        base = next((c for c in group if c["strategy"] == name), None)
        if base is not None:
            parts.append(_against(best, base, "the original design" if name == ORIGINAL
                                  else "sequential"))
    text = f"{head}, {best['label']} finished in {fmt_seconds(float(best['makespan_s']))} median"
    if parts:
        text += ", " + (parts[0] if len(parts) == 1
                        else f"{', '.join(parts[:-1])} and {parts[-1]}")
    elif len(ok) == 1 and not lost:
        text += " (the only strategy run)"
    return text + (f"; {lost_text}." if lost else ".")


def scaling_sentence(cases: pd.DataFrame, scenario: str) -> str | None:
    """Efficiency from the smallest to the largest N at concurrency N, for the strategies whose
    client CPU per call stays within CPU_SHARE_MAX of the call latency; the others are named
    with the share that rules them out."""
    rows = cases[(cases["scenario"] == scenario) & ~cases["strategy"].isin([SEQUENTIAL, ORIGINAL])
                 & (cases["concurrency"] >= cases["n_jobs"]) & (cases["variant"] != "bare")]
    if rows["n_jobs"].nunique() < 2:
        return None
    lo, hi = int(rows["n_jobs"].min()), int(rows["n_jobs"].max())
    shown, refused = [], []
    for label in order(rows["label"], BENCH_STRATEGIES):
        mine = {int(r["n_jobs"]): r for r in rows[rows["label"] == label].to_dict("records")}
        if lo not in mine or hi not in mine:
            continue
        bad = [r for r in (mine[lo], mine[hi]) if not efficiency_concludable(r)]
        if bad:
            worst = max(bad, key=lambda r: float(r["cpu_share"]))
            refused.append(f"{label} (client CPU per call {worst['cpu_share']:.0%} of the "
                           f"{fmt_seconds(float(worst['call_latency_s']))} call at "
                           f"N={int(worst['n_jobs'])})")
        else:
            shown.append(f"{label} {float(mine[lo]['efficiency']):.2f} → "
                         f"{float(mine[hi]['efficiency']):.2f}")
    text = ""
    if shown:
        text = (f"{scenario}: from N={lo} to N={hi} at concurrency N, efficiency (lower bound / "
                f"makespan) went {'; '.join(shown)}.")
    if refused:
        text += (" " if text else "") + (
            f"{scenario}: no efficiency conclusion for {', '.join(refused)}: above "
            f"{CPU_SHARE_MAX:.0%} the client's own work, not the strategy, sets it.")
    return text or None


def seed_sentence(cases: pd.DataFrame, metadata: dict[str, Any] | None) -> str | None:
    seed = cases[(cases["scenario"] == "seed") & (cases["n_jobs"] == 3)
                 & (cases["strategy"] != ORIGINAL) & (cases["failed"] == 0)]
    if seed.empty:
        return None
    published = {**PUBLISHED, **((metadata or {}).get("published") or {})}
    p_seq, p_par = published["sequential_s"], published["parallel_s"]
    best = seed.sort_values("makespan_s", kind="stable").iloc[0]
    latency = float(best["lower_bound_s"])

    def measured(row: pd.Series) -> str:
        t = float(row["makespan_s"])
        return f"{fmt_seconds(t)} ({t / latency:.2f}×)"

    text = (f"The original published {p_seq:.2f} s sequential vs {p_par:.2f} s parallel for 3 "
            f"calls faked with time.sleep(2) ({p_seq / 2:.2f}× and {p_par / 2:.2f}× one call's "
            f"latency); through the real client stack at time scale {float(best['time_scale']):g}"
            f" (calls of {fmt_seconds(latency)})")
    seq = seed[seed["strategy"] == SEQUENTIAL]
    if not seq.empty and best["strategy"] != SEQUENTIAL:
        text += f" sequential took {measured(seq.iloc[0])} and {best['label']} {measured(best)}"
    else:
        text += f" {best['label']} took {measured(best)}"
    return text + " median."


def throttle_sentences(cases: pd.DataFrame) -> list[str]:
    """One sentence per quota-bound case: throughput against its own quota, what it lost."""
    out = []
    for c in cases[cases["quota_tpm"] > 0].to_dict("records"):
        quota, tpm = float(c["quota_tpm"]), float(c["sustained_tpm"])
        out.append(
            f"Under a quota of {quota:,.0f} tokens/min, {c['label']} (N={int(c['n_jobs'])}) "
            f"sustained {tpm:,.0f} tokens/min ({tpm / quota:.0%} of its quota) in "
            f"{fmt_seconds(float(c['makespan_s']))}; per run {float(c['throttled']):.0f} of "
            f"{float(c['requests']):.0f} requests throttled, {_reports(int(c['failed']))} lost "
            f"over {int(c['repeats'])} run{'s' if int(c['repeats']) != 1 else ''}.")
    return out


def _spread(values: pd.Series, unit: str) -> str:
    low, high = unit.format(values.min()), unit.format(values.max())
    if low == high:
        return f"{low} for every strategy"
    return f"lowest {values.idxmin()} {low}, highest {values.idxmax()} {high}"


def resources_sentence(results: pd.DataFrame) -> str | None:
    frame = with_labels(results)
    if "cpu_ms_per_call" not in frame.columns:
        return None
    cpu = frame.groupby("label")["cpu_ms_per_call"].median().dropna()
    if len(cpu) < 2:
        return None
    text = "Client CPU per call (median over runs): " + _spread(cpu, "{:.2f} ms")
    if "peak_rss_mb" in frame.columns:
        mem = frame.groupby("label")["peak_rss_mb"].median().dropna()
        if len(mem) >= 2:
            text += "; peak memory: " + _spread(mem, "{:.0f} MB")
    return text + "."


def failures_sentence(cases: pd.DataFrame) -> str:
    lost = cases[cases["failed"] > 0]
    if lost.empty:
        return "No report failed in any run."
    listed = ", ".join(f"{c['scenario']} {c['label']} N={int(c['n_jobs'])}: "
                       f"{int(c['failed'])} of {int(c['n_jobs']) * int(c['repeats'])}"
                       for c in lost.to_dict("records"))
    return f"Failed reports (summed over runs): {listed}."


def scale_sentence(cases: pd.DataFrame) -> str | None:
    """Which scenarios ran at a compressed time scale, with their calls' real length."""
    scaled = cases[cases["time_scale"] != 1]
    if scaled.empty:
        return None
    parts = []
    for scenario in order(scaled["scenario"], SCENARIO_NAMES):
        mine = scaled[scaled["scenario"] == scenario]
        scale = float(mine["time_scale"].iloc[0])
        call = float(mine["call_latency_s"].median()) if "call_latency_s" in mine else np.nan
        what = (f"quota minute {60 * scale:g} s" if (mine["quota_tpm"] > 0).any()
                else "latencies")
        parts.append(f"{scenario} ×{scale:g} ({what}; calls of {fmt_seconds(call)})")
    return (f"Time was compressed in {', '.join(parts)}; figures are as measured at that "
            "scale.")


def scenario_sentences(cases: pd.DataFrame, scenario: str,
                       metadata: dict[str, Any] | None = None) -> list[str]:
    """The sentences about one scenario: (seed) the published numbers beside ours, who won each
    N and concurrency, efficiency against N, cold starts beside warm runs, quota throughput."""
    out = [s for s in [seed_sentence(cases, metadata)] if s] if scenario == "seed" else []
    for name, n, conc, group in case_groups(cases):
        if name == scenario:
            out.append(winner_sentence(name, n, conc, group))
    sentence = scaling_sentence(cases, scenario) if scenario != PEERS_SCENARIO else None
    if sentence:
        out.append(sentence)
    mine = cases[cases["scenario"] == scenario]
    out += cold_sentences(mine) if scenario != PEERS_SCENARIO else []
    out += throttle_sentences(mine) if scenario != PEERS_SCENARIO else []
    return out


def general_sentences(results: pd.DataFrame, cases: pd.DataFrame,
                      expected: Sequence[str] = SCENARIO_NAMES) -> list[str]:
    """The sentences across scenarios: client resources, lost reports, compressed time, and the
    scenarios these results lack (the quota cells have their own: bench.quota_report)."""
    present = set(cases["scenario"])
    results, cases = without_quota(results), cases[cases["scenario"] != QUOTA]
    out = [s for s in (resources_sentence(results), failures_sentence(cases),
                       scale_sentence(cases)) if s] if not cases.empty else []
    missing = [s for s in expected if s not in present]
    if missing:
        out.append(f"Not in these results: {', '.join(missing)}; run the benchmark with "
                   f"scenarios {', '.join(missing)} to cover them.")
    return out


def present_scenarios(cases: pd.DataFrame) -> list[str]:
    """The scenarios of these results in the report's order (the peers scenario last)."""
    return order(cases["scenario"], (*SCENARIO_NAMES, PEERS_SCENARIO))


def conclusions(
    results: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    expected: Sequence[str] = SCENARIO_NAMES,
) -> list[str]:
    """Sentences computed from the results: who wins where and by how much, what is missing
    (the peers scenario's are in ``bench.against``; ``bench.layout`` groups them all)."""
    if results is None or results.empty:
        return [NO_RESULTS]
    cases = summarize(results)
    out = []
    for scenario in present_scenarios(cases):
        out += (quota_sentences(results) if scenario == QUOTA
                else scenario_sentences(cases, scenario, metadata))
    return out + general_sentences(results, cases, expected)


NO_RESULTS = "No benchmark results: run the benchmark notebook (or `report-lib bench`) first."
