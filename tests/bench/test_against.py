"""Our best against the best peer library, on peers-scenario rows whose values are chosen here."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from report_lib.bench import against, figures, layout, recommend
from report_lib.bench.peer_names import PEERS_SCENARIO
from report_lib.bench.summary import report_markdown


def peer_row(strategy: str, n: int, variant: str, makespan: float, *, repeat: int = 0,
             cpu_ms: float = 1.0, failed: int = 0, throttled: float = 0.0,
             first_call: float = math.nan) -> dict[str, Any]:
    return {"scenario": PEERS_SCENARIO, "variant": variant, "strategy": strategy,
            "start_method": "", "n_jobs": n, "concurrency": n, "repeat": repeat,
            "makespan_s": makespan, "lower_bound_s": 0.5, "efficiency": 0.5 / makespan,
            "speedup_vs_sequential": math.nan, "cpu_s": cpu_ms * n / 1000,
            "cpu_ms_per_call": cpu_ms, "peak_rss_mb": 100.0, "throttled": throttled,
            "retries": 0, "failed": failed, "tokens": 1000 * n, "throughput_tpm": math.nan,
            "sustained_tpm": math.nan, "quota_tpm": 50_000.0 if variant == "quota" else math.nan,
            "time_scale": 1.0, "requests": n + throttled, "sum_latency_s": 0.5 * n,
            "pool_full_warnings": 0, "first_call_s": first_call}


def runs(strategy: str, n: int, variant: str, makespans: list[float], **kw: Any
         ) -> list[dict[str, Any]]:
    """One row per repeat; ``failed`` may be a list (per repeat)."""
    failed = kw.pop("failed", 0)
    per = failed if isinstance(failed, list) else [failed] * len(makespans)
    return [peer_row(strategy, n, variant, m, repeat=i, failed=f, **kw)
            for i, (m, f) in enumerate(zip(makespans, per, strict=True))]


@pytest.fixture
def peers() -> pd.DataFrame:
    rows = [
        # N=3 warm: thread 0.500 (0.49..0.52) vs aioboto3 0.505: within thread's spread
        *runs("thread", 3, "warm", [0.49, 0.50, 0.52]),
        *runs("asyncio", 3, "warm", [0.55] * 3),
        *runs("aioboto3", 3, "warm", [0.50, 0.505, 0.51]),
        *runs("langchain-batch", 3, "warm", [0.60] * 3),
        # N=3 cold: thread 1.20 vs llamaindex 2.40: 2.0× as fast
        *runs("thread", 3, "cold", [1.2] * 3, first_call=0.9),
        *runs("llamaindex", 3, "cold", [2.4] * 3, first_call=2.1),
        # N=100 warm: asyncio 1.00 vs aioboto3 1.25: 25 % faster
        *runs("asyncio", 100, "warm", [0.98, 1.00, 1.02]),
        *runs("thread", 100, "warm", [1.1] * 3),
        *runs("aioboto3", 100, "warm", [1.2, 1.25, 1.3]),
        *runs("llamaindex", 100, "warm", [1.4] * 3),
        # N=100 under a quota: langchain-abatch is fastest but lost 5 reports
        *runs("thread", 100, "quota", [10.0] * 3),
        *runs("langchain-abatch", 100, "quota", [8.0] * 3, failed=[2, 2, 1], throttled=40),
        *runs("aioboto3", 100, "quota", [12.0] * 3, throttled=30),
        # N=300 warm: a peer wins, anthropic-sdk 1.50 vs asyncio 2.00
        *runs("asyncio", 300, "warm", [1.95, 2.00, 2.05], cpu_ms=0.9),
        *runs("thread", 300, "warm", [2.2] * 3, cpu_ms=1.2),
        *runs("anthropic-sdk", 300, "warm", [1.48, 1.50, 1.52], cpu_ms=0.6),
        *runs("aioboto3", 300, "warm", [1.7] * 3, cpu_ms=0.7),
    ]
    return pd.DataFrame(rows)


def test_every_situation_is_one_sentence_computed_from_the_rows(peers: pd.DataFrame) -> None:
    assert against.sentences(peers) == [
        # 0.500 / 0.505 = 0.990; range 0.49 / 0.51 = 0.961 .. 0.52 / 0.50 = 1.04
        "peers: at N=3, warm, our best, thread, finished in 0.500 s median against the best "
        "peer, aioboto3, in 0.505 s: ours / peer 0.99× (0.96× – 1.04× over 3 runs each), "
        "equivalent within the measured spread.",
        "peers: at N=3, cold start (fresh process), our best, thread, "
        "finished in 1.20 s median against the best peer, llamaindex, in 2.40 s: ours / peer "
        "0.50× (0.50× – 0.50× over 3 runs each), 2.0× as fast as the best peer.",
        # 1.00 / 1.25 = 0.80; 0.98 / 1.3 = 0.754; 1.02 / 1.2 = 0.85
        "peers: at N=100, warm, our best, asyncio, finished in 1.00 s median against the best "
        "peer, aioboto3, in 1.25 s: ours / peer 0.80× (0.75× – 0.85× over 3 runs each), 25 % "
        "faster than the best peer.",
        # the fastest peer lost reports: the best peer is the fastest that lost none
        "peers: at N=100, under a token quota, our best, thread, finished in 10.00 s median "
        "against the best peer, aioboto3, in 12.00 s: ours / peer 0.83× (0.83× – 0.83× over 3 "
        "runs each), 20 % faster than the best peer; langchain-abatch lost 5 of 300 reports "
        "and is not ranked.",
        # 2.00 / 1.50 = 1.33; 1.95 / 1.52 = 1.28; 2.05 / 1.48 = 1.39
        "peers: at N=300, warm, our best, asyncio, finished in 2.00 s median against the best "
        "peer, anthropic-sdk, in 1.50 s: ours / peer 1.33× (1.28× – 1.39× over 3 runs each); "
        "a peer wins here: anthropic-sdk is 33 % faster than asyncio (client CPU per call "
        "0.60 ms against our 0.90 ms).",
        "peers: client CPU per call at N=300, warm (median over runs): ours asyncio 0.90 ms, "
        "lowest peer anthropic-sdk 0.60 ms (1.50× the peer's).",
    ]


def test_the_against_table_has_ratios_ranges_and_says_where_a_peer_wins(
    peers: pd.DataFrame,
) -> None:
    table = against.against_table(peers).set_index("situation")
    assert list(table.index) == [
        "N=3, warm", "N=3, cold start (fresh process)", "N=100, warm",
        "N=100, under a token quota", "N=300, warm"]
    assert list(table.loc["N=3, warm"]) == [
        "thread, 0.500 s", "aioboto3, 0.505 s", "0.99×", "0.96× – 1.04×", "1.00 / 1.00",
        "0 / 0", "equivalent (within the measured spread)"]
    assert table.loc["N=100, warm", "verdict"] == "ours (asyncio) 25 % faster"
    assert table.loc["N=100, under a token quota", "lost, ours / peer"] == "0 / 5"
    assert table.loc["N=100, under a token quota", "best peer (median)"] == "aioboto3, 12.00 s"
    assert list(table.loc["N=300, warm", ["ours / peer", "CPU ms per call, ours / peer",
                                          "verdict"]]) == [
        "1.33×", "0.90 / 0.60", "peer (anthropic-sdk) 33 % faster"]


def test_a_cold_win_by_a_peer_cites_its_import_and_first_answer() -> None:
    rows = pd.DataFrame([*runs("thread", 3, "cold", [2.0] * 3, first_call=1.5),
                         *runs("aioboto3", 3, "cold", [1.0] * 3, first_call=0.6)])
    (sentence,) = against.sentences(rows)
    assert sentence.endswith(
        "a peer wins here: aioboto3 is 2.0× as fast as thread (import and first answer "
        "0.600 s against our 1.50 s; client CPU per call 1.00 ms against our 1.00 ms).")


def test_a_client_cpu_not_measured_is_shown_as_missing() -> None:
    rows = pd.DataFrame([*runs("thread", 3, "warm", [1.0] * 3, cpu_ms=math.nan),
                         *runs("aioboto3", 3, "warm", [2.0] * 3, cpu_ms=0.5)])
    table = against.against_table(rows)
    assert table["CPU ms per call, ours / peer"].tolist() == ["– / 0.50"]
    assert against.cpu_sentence(rows) is None  # nothing of ours to set beside the peer's


def test_when_every_client_of_one_side_lost_reports_the_other_wins() -> None:
    rows = pd.DataFrame([*runs("thread", 3, "quota", [1.0] * 3, failed=1),
                         *runs("aioboto3", 3, "quota", [2.0] * 3)])
    sit, = against.situations(rows)
    assert sit.best_ours is None and against.peer_wins(sit)
    assert against.verdict(sit.best_ours, sit.best_peer) == "peer (aioboto3): ours lost reports"
    assert against.situation_sentence(sit) == (
        "peers: at N=3, under a token quota, a peer wins: aioboto3 finished in 2.00 s median "
        "and neither of ours delivered every report; thread lost 3 of 9 reports and is not "
        "ranked.")


def test_which_to_use_ranks_the_peers_with_ours(peers: pd.DataFrame) -> None:
    table = recommend.which_to_use(peers).set_index("situation")
    assert list(table.loc["3 reports, any library", ["use", "runner-up", "margin", "note"]]) == [
        "thread (ours)", "aioboto3 (0.505 s)", "equivalent (within the measured spread)",
        "then asyncio (ours) 0.550 s, langchain-batch 0.600 s"]
    # 1.70 / 1.50 = 1.13: a peer is the one to use at N=300
    assert list(table.loc["300 reports, any library", ["use", "median", "runner-up",
                                                       "margin"]]) == [
        "anthropic-sdk", "1.50 s", "aioboto3 (1.70 s)", "13 % faster"]
    quota = table.loc["100 reports, any library, under a token quota"]
    assert (quota["use"], quota["note"]) == ("thread (ours)", "langchain-abatch lost 5")
    assert table.loc["hundreds of reports", "measured at"] == "not in these results"


def test_the_verdict_is_three_computed_lines(peers: pd.DataFrame) -> None:
    assert layout.verdict(peers) == [
        "3 reports, any library: use thread (ours), 0.500 s median; equivalent to the "
        "runner-up, aioboto3 (0.505 s), within the measured spread.",
        "300 reports, any library: use anthropic-sdk, 1.50 s median; 13 % faster than the "
        "runner-up, aioboto3 (1.70 s).",
        "Against the other libraries (LangChain, aioboto3, LlamaIndex, the Anthropic SDK): "
        "ours as fast or faster in 4 of 5 situations; a peer wins at N=300, warm: "
        "anthropic-sdk.",
    ]


def test_the_peers_section_holds_its_sentences_table_and_chart(peers: pd.DataFrame) -> None:
    sections = {s.scenario: s for s in layout.sections(peers)}
    assert list(sections) == [PEERS_SCENARIO, layout.ACROSS]
    section = sections[PEERS_SCENARIO]
    assert section.sentences == against.sentences(peers)
    assert [list(t.columns) for t in section.tables] == [list(against.AGAINST_COLUMNS)]
    assert "Not in these results: seed, realistic, scale, throttled, original" in " ".join(
        sections[layout.ACROSS].sentences)


def test_the_peers_chart_draws_each_ratio_with_its_range(peers: pd.DataFrame) -> None:
    fig = figures.peers_chart(peers)
    assert fig is not None
    ax = fig.axes[0]
    widths = [round(p.get_width(), 3) for p in ax.patches]
    assert widths == [0.99, 0.5, 0.8, 0.833, 1.333]
    colors = [p.get_facecolor()[:3] for p in ax.patches]
    assert colors.count(colors[-1]) == 1  # only the N=300 bar (a peer wins) is red
    assert layout.headline_chart(peers) is not None


def test_peer_versions_are_shown_as_recorded(peers: pd.DataFrame) -> None:
    meta = {"peer_versions": {"aioboto3": "15.5.0", "langchain-aws": "1.1.0"}}
    assert against.peer_versions(meta) == "aioboto3 15.5.0, langchain-aws 1.1.0"
    assert against.peer_versions({}) == "not recorded"
    text = report_markdown(peers, meta)
    assert "peers: aioboto3 15.5.0, langchain-aws 1.1.0" in text
    assert "### Against what you'd use instead" in text
    assert "| N=300, warm " in text and "peer (anthropic-sdk) 33 % faster" in text


def test_without_peers_rows_nothing_is_said_about_them() -> None:
    rows = pd.DataFrame([dict(peer_row("thread", 3, "warm", 1.0), scenario="seed")])
    assert against.situations(rows) == [] and against.sentences(rows) == []
    assert against.against_table(rows).empty and against.summary_line(rows) is None
    assert figures.peers_chart(rows) is None
