"""The comparison report's layout: the answer first, then one section per scenario.

The lead is a three-line verdict (``verdict``), the "which to use" table and one headline chart
(``headline_chart``); then the computed sentences grouped by scenario (``sections``), each with
its own tables and charts, then what holds across scenarios. The notebook and the benchmark
summary Markdown both read this layout.

Adding a scenario's section is one entry in ``SECTIONS`` (title, what it measures, its tables
and charts); a scenario without an entry still gets a section with its sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from report_lib.bench import against, comparison, figures, recommend
from report_lib.bench.analysis import summarize
from report_lib.bench.peer_names import PEERS_SCENARIO
from report_lib.bench.plan import ORIGINAL, QUOTA, SCENARIO_NAMES
from report_lib.bench.quota_report import quota_chart, quota_sentences, quota_table

Table = Callable[[pd.DataFrame, Mapping[str, Any]], pd.DataFrame | None]
Chart = Callable[[pd.DataFrame, list[dict[str, Any]]], Figure | None]


def _scenario_rows(results: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """A scenario's rows, with the original design's beside them (drawn at the same N)."""
    return results[results["scenario"].isin([scenario, ORIGINAL])]


def _makespan(scenario: str) -> Chart:
    return lambda results, _: figures.makespan_chart(_scenario_rows(results, scenario))


def _gantt(scenario: str) -> Chart:
    return lambda _, timelines: figures.gantt_chart(timelines, scenario)


@dataclass(frozen=True)
class SectionSpec:
    """What a scenario's section shows besides its sentences."""

    title: str
    intro: str = ""
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


SECTIONS: dict[str, SectionSpec] = {
    "seed": SectionSpec(
        "3 reports: the original experiment",
        "Three calls of a fixed 2 s latency (scaled), as the original timed with time.sleep(2); "
        "`per_latency` is the makespan in units of one call.",
        tables=(lambda results, meta: comparison.published_table(results, dict(meta)),),
        charts=(_makespan("seed"), _gantt("seed"))),
    "realistic": SectionSpec("3 reports on the Sonnet latency model",
                             charts=(_makespan("realistic"),)),
    "scale": SectionSpec(
        "Many reports: N from 3 to 300",
        "Speedup over sequential and efficiency against N; solid lines at concurrency N.",
        charts=(lambda results, _: figures.scaling_chart(results), _makespan("scale"),
                _gantt("scale"))),
    "throttled": SectionSpec(
        "Under a token quota",
        "Each client against its own quota: throughput after the initial burst, throttled "
        "requests, reports lost.",
        charts=(lambda results, _: figures.throttle_chart(results), _gantt("throttled"))),
    "original": SectionSpec("The original design",
                            "A new boto3 client per call in ThreadPoolExecutor(3); drawn beside "
                            "the other scenarios at the same N."),
    PEERS_SCENARIO: SectionSpec(
        "Against what you'd use instead",
        "Our thread and asyncio strategies beside LangChain (batch, abatch), aioboto3, "
        "LlamaIndex and the Anthropic SDK, each run the way its documentation runs parallel "
        "calls, against the same endpoint: ours / peer is of the median makespans, its range "
        "over repeats pairs the slowest and fastest runs.",
        tables=(lambda results, _: against.against_table(results),),
        charts=(lambda results, _: figures.peers_chart(results),)),
    QUOTA: SectionSpec(
        "Quota models: every client against every way a quota is counted",
        "Each cell: a quota minute (bucket, sliding, wall-clock) × accounting (Bedrock's "
        "reservation + 5× burndown, or 1×) × client, its makespan against the best its quota "
        "allows, the share of requests throttled and the reports lost.",
        tables=(lambda results, _: quota_table(results),),
        charts=(lambda results, _: quota_chart(results),)),
}
SCENARIO_ORDER: tuple[str, ...] = tuple(dict.fromkeys((*SCENARIO_NAMES, PEERS_SCENARIO)))
ACROSS = "Across scenarios"


@dataclass
class Section:
    """One part of the page: a heading, what it measures, sentences, tables, charts."""

    scenario: str
    title: str
    intro: str = ""
    sentences: list[str] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    def markdown(self) -> str:
        """The intro and the sentences as Markdown (a bullet per sentence)."""
        parts = [self.intro] if self.intro else []
        if self.sentences:
            parts.append("\n".join(f"- {s}" for s in self.sentences))
        return "\n\n".join(parts)


def _sentences(cases: pd.DataFrame, results: pd.DataFrame, scenario: str,
               metadata: dict[str, Any] | None) -> list[str]:
    if scenario == PEERS_SCENARIO:
        return against.sentences(results)
    if scenario == QUOTA:
        return quota_sentences(results)
    return comparison.scenario_sentences(cases, scenario, metadata)


def sections(results: pd.DataFrame, metadata: Mapping[str, Any] | None = None,
             expected: Sequence[str] = SCENARIO_NAMES) -> list[Section]:
    """A section per scenario present (in ``SCENARIO_ORDER``), then "Across scenarios"."""
    meta = dict(metadata or {})
    if results is None or results.empty:
        return [Section(ACROSS, ACROSS, sentences=[comparison.NO_RESULTS])]
    cases = summarize(results)
    out = []
    for scenario in comparison.order(cases["scenario"], SCENARIO_ORDER):
        spec = SECTIONS.get(scenario, SectionSpec(scenario))
        tables = [t for t in (table(results, meta) for table in spec.tables)
                  if t is not None and not t.empty]
        out.append(Section(scenario, spec.title, spec.intro,
                           _sentences(cases, results, scenario, meta), tables,
                           list(spec.charts)))
    out.append(Section(ACROSS, ACROSS, sentences=comparison.general_sentences(
        results, cases, expected)))
    return out


# ---------------------------------------------------------------- the lead


def _versus_runner_up(margin: str, runner_up: str) -> str:
    """The margin column of "which to use" as a phrase about the runner-up."""
    if margin.startswith("equivalent"):
        return f"equivalent to the runner-up, {runner_up}, within the measured spread"
    if margin.endswith(("faster", "slower")):
        return f"{margin} than the runner-up, {runner_up}"
    return f"{margin} as the runner-up, {runner_up}"


def _line(row: Mapping[str, Any]) -> str:
    """One verdict line from a "which to use" row."""
    situation = str(row["situation"])
    label = situation[0].upper() + situation[1:]
    if row["measured at"] == "not in these results":
        return f"{label}: not in these results."
    if row["median"] == "–":
        return f"{label}: no client delivered every report ({row['measured at']})."
    text = f"{label}: use {row['use']}, {row['median']} median"
    if row["runner-up"] == "–":
        return text + ", the only one measured."
    return f"{text}; {_versus_runner_up(str(row['margin']), str(row['runner-up']))}."


def _pick(which: pd.DataFrame, *situations: str) -> Mapping[str, Any] | None:
    """The first of ``situations`` that was measured (else the first that exists)."""
    rows = {str(r["situation"]): {str(k): v for k, v in r.items()}
            for r in which.to_dict("records")}
    found = [rows[s] for s in situations if s in rows]
    measured = [r for r in found if r["measured at"] != "not in these results"]
    chosen = measured or found
    return chosen[0] if chosen else None


def verdict(results: pd.DataFrame) -> list[str]:
    """Three lines, each computed from the "which to use" rows: 3 reports, many reports, and
    the other libraries (or, without their rows, a token quota)."""
    if results is None or results.empty:
        return [comparison.NO_RESULTS]
    which = recommend.which_to_use(results)
    sits = against.situations(results)
    warm = [s for s in sits if s.variant == "warm"]
    few = [f"{s.n} reports, any library" for s in warm if s.n <= 3]
    many = [f"{s.n} reports, any library" for s in sorted(warm, key=lambda s: -s.n) if s.n > 3]
    lines = []
    for choices in ((*few, "3 reports"), (*many, "hundreds of reports", "tens of reports")):
        row = _pick(which, *choices)
        if row is not None:
            lines.append(_line(row))
    peers = against.summary_line(results)
    if peers:
        lines.append(peers)
    else:
        row = _pick(which, "under a token quota")
        if row is not None:
            lines.append(_line(row))
    return lines


def headline_chart(results: pd.DataFrame) -> Figure | None:
    """The one chart under the verdict: ours / the best peer per situation when the peers
    scenario ran, else the makespans of the largest scenario (scale, else the first present)."""
    if results is None or results.empty:
        return None
    if not against.peer_rows(results).empty:
        return figures.peers_chart(results)
    present = comparison.order(results["scenario"], SCENARIO_ORDER)
    chosen = "scale" if "scale" in present else next(
        (s for s in present if s not in (ORIGINAL, PEERS_SCENARIO, QUOTA)), None)
    if chosen is None:  # only quota cells (and the baseline): their own chart
        return quota_chart(results) if QUOTA in present else None
    return figures.makespan_chart(_scenario_rows(results, chosen))
