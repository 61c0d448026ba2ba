"""Against what you'd use instead: our best strategy beside the best peer library, per situation.

Reads the ``peers`` scenario's rows (``bench.peer_names``): our strategies (thread, asyncio) and
the libraries a user would reach for instead (LangChain, aioboto3, LlamaIndex, the Anthropic
SDK), run side by side at N calls, warm, cold and under a token quota, repeated. A situation is
one (N, variant). In each, the fastest of ours that lost no report is set beside the fastest
peer that lost none; the ratio ours / peer is of their median makespans and its range over the
repeats is ``[min ours / max peer, max ours / min peer]`` (every pairing of two runs falls
inside it). "equivalent" is the rest of the report's rule (``analysis.equivalent``: within the
larger of the two spreads, or 2 %). Where a peer is faster the table and the sentences say so,
with the measured differences that go with it (client CPU per call; for cold runs the time to
import and get a first answer; under a quota the requests throttled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from report_lib.bench.analysis import equivalent, summarize
from report_lib.bench.comparison import fmt_ratio, fmt_seconds, speed_phrase
from report_lib.bench.peer_names import (
    OUR_PEER_STRATEGIES,
    PEER_NAMES,
    PEER_VARIANTS,
    PEERS_SCENARIO,
)

VARIANT_WORDS: dict[str, str] = {
    "warm": "warm",
    "cold": "cold start (fresh process)",
    "quota": "under a token quota",
}
AGAINST_COLUMNS = ("situation", "ours (median)", "best peer (median)", "ours / peer",
                   "range over repeats", "CPU ms per call, ours / peer", "lost, ours / peer",
                   "verdict")


@dataclass
class Situation:
    """One (N, variant) of the peers scenario: every case of it, ours and the peers'."""

    n: int
    variant: str
    ours: list[dict[str, Any]]
    peers: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return f"N={self.n}, {VARIANT_WORDS.get(self.variant, self.variant)}"

    def best(self, side: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The fastest case of ``side`` that lost no report (None when every one lost some)."""
        ok = [c for c in side if int(c["failed"]) == 0]
        return min(ok, key=lambda c: float(c["makespan_s"])) if ok else None

    @property
    def best_ours(self) -> dict[str, Any] | None:
        return self.best(self.ours)

    @property
    def best_peer(self) -> dict[str, Any] | None:
        return self.best(self.peers)

    def ranked(self) -> list[dict[str, Any]]:
        """Every case that lost nothing, ours and the peers', fastest first."""
        return sorted((c for c in self.ours + self.peers if int(c["failed"]) == 0),
                      key=lambda c: float(c["makespan_s"]))

    def lost(self) -> list[dict[str, Any]]:
        return [c for c in self.ours + self.peers if int(c["failed"]) > 0]


def peer_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the peers scenario (empty when it was not run)."""
    if results is None or results.empty or "scenario" not in results.columns:
        return pd.DataFrame()
    return results[results["scenario"] == PEERS_SCENARIO]


def _first_call(rows: pd.DataFrame) -> dict[tuple[str, str, int], float]:
    """Median import + first answer per (strategy, variant, N), where recorded."""
    if "first_call_s" not in rows.columns:
        return {}
    values = pd.to_numeric(rows["first_call_s"], errors="coerce")
    keyed = rows.assign(first_call_s=values).dropna(subset=["first_call_s"])
    medians = keyed.groupby(["strategy", "variant", "n_jobs"])["first_call_s"].median()
    out: dict[tuple[str, str, int], float] = {}
    for key, value in medians.items():
        parts: tuple[Any, ...] = tuple(key)  # type: ignore[arg-type]
        out[(str(parts[0]), str(parts[1]), int(parts[2]))] = float(value)
    return out


def situations(results: pd.DataFrame) -> list[Situation]:
    """Every (N, variant) of the peers scenario, by N then variant (warm, cold, quota)."""
    rows = peer_rows(results)
    if rows.empty:
        return []
    cases = summarize(rows)
    first = _first_call(rows)
    records = [{str(k): v for k, v in r.items()} for r in cases.to_dict("records")]
    for case in records:
        case["first_call_s"] = first.get(
            (str(case["strategy"]), str(case["variant"]), int(case["n_jobs"])), math.nan)
    rank = {v: i for i, v in enumerate(PEER_VARIANTS)}
    keys = sorted({(int(c["n_jobs"]), str(c["variant"])) for c in records},
                  key=lambda k: (k[0], rank.get(k[1], len(rank)), k[1]))
    out = []
    for n, variant in keys:
        mine = [c for c in records if int(c["n_jobs"]) == n and c["variant"] == variant]
        out.append(Situation(
            n, variant,
            ours=[c for c in mine if c["strategy"] in OUR_PEER_STRATEGIES],
            peers=[c for c in mine if c["strategy"] in PEER_NAMES],
        ))
    return out


def ratio_range(ours: Mapping[str, Any], peer: Mapping[str, Any]) -> tuple[float, float, float]:
    """(median ours / median peer, lowest, highest ratio any two of their runs can have)."""
    ratio = float(ours["makespan_s"]) / float(peer["makespan_s"])
    low = float(ours["makespan_min_s"]) / float(peer["makespan_max_s"])
    high = float(ours["makespan_max_s"]) / float(peer["makespan_min_s"])
    return ratio, low, high


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ms(value: Any) -> str:
    """Milliseconds with 2 decimals, "–" when not measured."""
    number = _num(value)
    return f"{number:.2f}" if math.isfinite(number) else "–"


def verdict(ours: Mapping[str, Any] | None, peer: Mapping[str, Any] | None) -> str:
    """Who is faster, in words: "ours (thread) 12 % faster", "equivalent (within the measured
    spread)", "peer (aioboto3) 8 % faster"; or who delivered every report when only one did."""
    if ours is None and peer is None:
        return "neither delivered every report"
    if peer is None:
        return "ours: the only ones that delivered every report"
    if ours is None:
        return f"peer ({peer['strategy']}): ours lost reports"
    if equivalent(ours, peer):
        return "equivalent (within the measured spread)"
    t_ours, t_peer = float(ours["makespan_s"]), float(peer["makespan_s"])
    if t_ours < t_peer:
        return f"ours ({ours['strategy']}) {_short(speed_phrase(t_ours, t_peer))}"
    return f"peer ({peer['strategy']}) {_short(speed_phrase(t_peer, t_ours))}"


def _short(phrase: str) -> str:
    return phrase.removesuffix(" than").removesuffix(" as")


def peer_wins(situation: Situation) -> bool:
    """True when the best peer finished faster than our best beyond the measured spread (or
    delivered every report where ours did not)."""
    ours, peer = situation.best_ours, situation.best_peer
    if peer is None:
        return False
    if ours is None:
        return True
    return not equivalent(ours, peer) and float(peer["makespan_s"]) < float(ours["makespan_s"])


def _named(case: Mapping[str, Any] | None) -> str:
    """"thread, 0.500 s": a case by strategy and median makespan ("–" for none)."""
    if case is None:
        return "–"
    return f"{case['strategy']}, {fmt_seconds(float(case['makespan_s']))}"


def _lost(cases: list[dict[str, Any]]) -> int:
    return sum(int(c["failed"]) for c in cases)


def against_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per situation: our best and the best peer with their medians, ours / peer with
    its range, CPU per call, reports lost on each side (summed over runs and clients) and the
    verdict."""
    rows = []
    for sit in situations(results):
        ours, peer = sit.best_ours, sit.best_peer
        row: dict[str, Any] = {
            "situation": sit.name, "ours (median)": _named(ours),
            "best peer (median)": _named(peer), "ours / peer": "–", "range over repeats": "–",
            "CPU ms per call, ours / peer": "–",
            "lost, ours / peer": f"{_lost(sit.ours)} / {_lost(sit.peers)}",
            "verdict": verdict(ours, peer),
        }
        if ours is not None and peer is not None:
            ratio, low, high = ratio_range(ours, peer)
            row["ours / peer"] = fmt_ratio(ratio)
            row["range over repeats"] = f"{fmt_ratio(low)} – {fmt_ratio(high)}"
            row["CPU ms per call, ours / peer"] = (
                f"{_ms(ours.get('cpu_ms_per_call'))} / {_ms(peer.get('cpu_ms_per_call'))}")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(AGAINST_COLUMNS))


def _why(ours: Mapping[str, Any], peer: Mapping[str, Any], variant: str) -> str:
    """What the rows show beside a peer's win: the measured difference that goes with it."""
    parts = []
    f_ours, f_peer = _num(ours.get("first_call_s")), _num(peer.get("first_call_s"))
    if variant == "cold" and math.isfinite(f_ours) and math.isfinite(f_peer):
        parts.append(f"import and first answer {fmt_seconds(f_peer)} against our "
                     f"{fmt_seconds(f_ours)}")
    c_ours, c_peer = _num(ours.get("cpu_ms_per_call")), _num(peer.get("cpu_ms_per_call"))
    if math.isfinite(c_ours) and math.isfinite(c_peer):
        parts.append(f"client CPU per call {c_peer:.2f} ms against our {c_ours:.2f} ms")
    t_ours, t_peer = _num(ours.get("throttled")), _num(peer.get("throttled"))
    if variant == "quota" and math.isfinite(t_ours) and math.isfinite(t_peer):
        parts.append(f"{t_peer:.0f} requests throttled per run against our {t_ours:.0f}")
    return "; ".join(parts)


def situation_sentence(sit: Situation) -> str:
    """Our best against the best peer in one situation, with the ratio and its range; who
    lost reports; where a peer wins, that it does and the measured differences beside it."""
    head = f"{PEERS_SCENARIO}: at {sit.name}"
    ours, peer = sit.best_ours, sit.best_peer
    lost = "; ".join(f"{c['strategy']} lost {int(c['failed'])} of "
                     f"{int(c['n_jobs']) * int(c['repeats'])} reports and is not ranked"
                     for c in sit.lost())
    tail = f"; {lost}." if lost else "."
    if ours is None and peer is None:
        return f"{head}, no client delivered every report{tail}"
    if peer is None:
        assert ours is not None
        return (f"{head}, our best, {ours['strategy']}, finished in "
                f"{fmt_seconds(float(ours['makespan_s']))} median; no peer delivered every "
                f"report{tail}")
    if ours is None:
        return (f"{head}, a peer wins: {peer['strategy']} finished in "
                f"{fmt_seconds(float(peer['makespan_s']))} median and neither of ours delivered "
                f"every report{tail}")
    ratio, low, high = ratio_range(ours, peer)
    runs = int(min(int(ours["repeats"]), int(peer["repeats"])))
    text = (f"{head}, our best, {ours['strategy']}, finished in "
            f"{fmt_seconds(float(ours['makespan_s']))} median against the best peer, "
            f"{peer['strategy']}, in {fmt_seconds(float(peer['makespan_s']))}: ours / peer "
            f"{fmt_ratio(ratio)} ({fmt_ratio(low)} – {fmt_ratio(high)} over "
            f"{runs} run{'s' if runs != 1 else ''} each)")
    if peer_wins(sit):
        why = _why(ours, peer, sit.variant)
        text += (f"; a peer wins here: {peer['strategy']} is "
                 f"{speed_phrase(float(peer['makespan_s']), float(ours['makespan_s']))} "
                 f"{ours['strategy']}" + (f" ({why})" if why else ""))
    elif equivalent(ours, peer):
        text += ", equivalent within the measured spread"
    else:
        text += (f", {speed_phrase(float(ours['makespan_s']), float(peer['makespan_s']))} "
                 "the best peer")
    return text + tail


def cpu_sentence(results: pd.DataFrame) -> str | None:
    """Client CPU per call at the largest warm N: our lowest against the lowest peer's."""
    warm = [s for s in situations(results) if s.variant == "warm"]
    if not warm:
        return None
    sit = max(warm, key=lambda s: s.n)

    def lowest(side: list[dict[str, Any]]) -> dict[str, Any] | None:
        known = [c for c in side if math.isfinite(_num(c.get("cpu_ms_per_call")))]
        return min(known, key=lambda c: _num(c["cpu_ms_per_call"])) if known else None

    ours, peer = lowest(sit.ours), lowest(sit.peers)
    if ours is None or peer is None:
        return None
    a, b = _num(ours["cpu_ms_per_call"]), _num(peer["cpu_ms_per_call"])
    ratio = f"{a / b:.2f}× the peer's" if b > 0 else "the peer's is 0"
    return (f"{PEERS_SCENARIO}: client CPU per call at {sit.name} (median over runs): ours "
            f"{ours['strategy']} {a:.2f} ms, lowest peer {peer['strategy']} {b:.2f} ms "
            f"({ratio}).")


def sentences(results: pd.DataFrame) -> list[str]:
    """The peers scenario in sentences: one per situation, then client CPU per call."""
    out = [situation_sentence(s) for s in situations(results)]
    cpu = cpu_sentence(results)
    return out + ([cpu] if cpu else [])


def summary_line(results: pd.DataFrame) -> str | None:
    """One line for the verdict: in how many situations ours was at least as fast as the best
    peer, and where a peer won (None without peers rows)."""
    sits = [s for s in situations(results) if s.best_peer is not None or s.best_ours is not None]
    if not sits:
        return None
    won = [s for s in sits if peer_wins(s)]
    held = len(sits) - len(won)
    text = (f"Against the other libraries (LangChain, aioboto3, LlamaIndex, the Anthropic SDK): "
            f"ours as fast or faster in {held} of {len(sits)} situations")
    if won:
        names = "; ".join(f"{s.name}: {s.best_peer['strategy'] if s.best_peer else '?'}"
                          for s in won)
        text += f"; a peer wins at {names}"
    return text + "."


def peer_versions(metadata: Mapping[str, Any] | None) -> str:
    """The peers' package versions as recorded with the run ("not recorded" without them)."""
    versions = (metadata or {}).get("peer_versions") or {}
    if not isinstance(versions, Mapping) or not versions:
        return "not recorded"
    return ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
