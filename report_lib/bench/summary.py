"""The summary of a benchmark run as Markdown: a table of cases and a table of targets."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from report_lib.bench import against, layout, recommend
from report_lib.bench.analysis import TargetCheck, check_targets, summarize
from report_lib.bench.peer_names import PEERS_SCENARIO
from report_lib.bench.plan import PUBLISHED
from report_lib.bench.quota_report import quota_section, without_quota

SUMMARY_COLUMNS = ("scenario", "variant", "strategy", "start_method", "n_jobs", "concurrency",
                   "time_scale", "repeats", "makespan_s", "spread_pct", "lower_bound_s",
                   "efficiency", "speedup_vs_sequential", "cpu_ms_per_call", "peak_rss_mb",
                   "requests", "throttled", "retries", "failed", "max_in_flight",
                   "pool_full_warnings", "sustained_tpm", "quota_tpm")
SUMMARY_FORMATS = {
    "makespan_s": ".3f", "spread_pct": ".1f", "lower_bound_s": ".3f", "efficiency": ".3f",
    "speedup_vs_sequential": ".1f", "cpu_ms_per_call": ".2f", "peak_rss_mb": ".0f",
    "requests": ".0f", "throttled": ".0f", "retries": ".0f", "max_in_flight": ".0f",
    "pool_full_warnings": ".0f", "sustained_tpm": ",.0f", "quota_tpm": ",.0f",
    "time_scale": "g",
}
TARGET_COLUMNS = ("target", "scenario", "strategy", "measured", "result", "detail")


def _cell(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if fmt and isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, fmt)
    return str(value)


def _is_number(value: Any) -> bool:
    """A number, or an estimate written "~12.3" (see _summary_rows)."""
    if isinstance(value, str) and value.startswith("~"):
        with contextlib.suppress(ValueError):
            return math.isfinite(float(value[1:]))
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(values: Sequence[Any]) -> bool:
    """A column of numbers (missing values aside)."""
    shown = [v for v in values if _cell(v, None) != "–"]
    return bool(shown) and all(_is_number(v) for v in shown)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                   formats: Mapping[str, str] | None = None) -> str:
    """A plain Markdown table (numbers formatted per column; NaN shown as '–'); columns of
    numbers are aligned right, the others left."""
    formats = formats or {}
    body = [[_cell(row.get(c), formats.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if _numeric([row.get(c) for row in rows]) else ":" + "-" * (w + 1)
        for c, w in zip(columns, widths, strict=True)) + "|"
    return "\n".join([line(columns), rule, *(line(r) for r in body)])


def _summary_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rec in summary.to_dict("records"):
        row = {str(k): v for k, v in rec.items()}
        speedup = row.get("speedup_vs_sequential")
        if row.get("speedup_estimated") and isinstance(speedup, float) and not math.isnan(speedup):
            row["speedup_vs_sequential"] = f"~{speedup:.1f}"
        rows.append(row)
    return rows


def target_rows(checks: Sequence[TargetCheck]) -> list[dict[str, Any]]:
    """The targets as table rows: PASS, FAIL or info."""
    return [
        {"target": c.target, "scenario": c.scenario, "strategy": c.strategy,
         "measured": c.measured, "result": "info" if c.passed is None
         else ("PASS" if c.passed else "FAIL"), "detail": c.detail}
        for c in checks
    ]


def format_summary(summary: pd.DataFrame, checks: Sequence[TargetCheck] | None = None) -> str:
    """The summary table and the targets as Markdown, ready to print or paste."""
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns
               and not summary[c].isna().all() and not (summary[c].astype(str) == "").all()]
    parts = [markdown_table(_summary_rows(summary), columns, SUMMARY_FORMATS)]
    if "seed" in set(summary["scenario"]):
        parts.append(
            f"Published original (time.sleep(2)): sequential {PUBLISHED['sequential_s']} s, "
            f"parallel {PUBLISHED['parallel_s']} s. `~` marks a speedup estimated as "
            "Σ latencies / makespan."
        )
    if checks:
        parts.append(markdown_table(target_rows(checks), TARGET_COLUMNS, {"measured": ".3f"}))
    return "\n\n".join(parts)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _measured(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def load_phrase(load: object) -> str | None:
    """The run's 1-minute load average as measured (``{"start": x, "end": y}``), e.g.
    "load average 1.2 → 3.4"; only the ends that were measured; None when neither was."""
    if not isinstance(load, Mapping):
        return None
    start, end = load.get("start"), load.get("end")
    if _measured(start) and _measured(end):
        return f"load average {start:.1f} → {end:.1f}"
    if _measured(start):
        return f"load average {start:.1f} at the start"
    if _measured(end):
        return f"load average {end:.1f} at the end"
    return None


def report_markdown(results: pd.DataFrame, metadata: Mapping[str, Any] | None = None) -> str:
    """The whole written report of a run as Markdown, the answer first: conditions (with the
    peers' versions), the verdict, which to use, against the other libraries, the original
    claims checked, the conclusions by scenario, every case and the targets
    (benchmarks/README.md pastes it)."""
    meta = dict(metadata or {})
    load = load_phrase(meta.get("load_avg_1m"))
    peers = against.peer_rows(results)
    versions = (f"; peers: {against.peer_versions(meta)}"
                if not peers.empty or meta.get("peer_versions") else "")
    ended = meta.get("finished") or ("stopped before the end" if meta.get("complete") is False
                                     else "?")
    head = (f"Run {meta.get('created', '?')} → {ended}, "
            f"`{meta.get('command', '?')}`; {meta.get('cpu_count', '?')} CPUs"
            f"{', ' + load if load else ''}; python {meta.get('python', '?')}{versions}.")
    which = recommend.which_to_use(results)
    claims = recommend.claims(results, meta)
    parts = [head, "### Verdict\n\n" + "\n".join(f"- {line}" for line in layout.verdict(results)),
             "### Which to use\n\n" + markdown_table(_records(which), list(which.columns))]
    if not peers.empty:
        table = against.against_table(results)
        parts.append(f"### {layout.SECTIONS[PEERS_SCENARIO].title}\n\n"
                     + markdown_table(_records(table), list(table.columns)))
    parts.append("### The original analysis's claims\n\n"
                 + markdown_table(_records(claims), list(claims.columns)))
    parts.append("### Conclusions\n\n" + "\n\n".join(
        f"#### {section.title}\n\n" + "\n".join(f"- {s}" for s in section.sentences)
        for section in layout.sections(results, meta) if section.sentences))
    parts.append("### Every case (medians) and the targets\n\n"
                 + format_summary(summarize(without_quota(results)), check_targets(results)))
    parts += quota_section(results, meta)
    return "\n\n".join(parts)
