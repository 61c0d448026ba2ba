"""What to use, computed from the rows: a "which to use" table and the original analysis's
claims, each confirmed or refuted with this run's numbers.

For each situation the table names the fastest strategy that lost nothing, its margin over the
runner-up, and "equivalent" when the two are within the measured spread (``equivalent``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from report_lib.bench import against
from report_lib.bench.analysis import equivalent, quota_cells, quota_records, summarize
from report_lib.bench.comparison import case_groups, fmt_seconds, is_cold, speed_phrase
from report_lib.bench.peer_names import OUR_PEER_STRATEGIES, PEERS_SCENARIO
from report_lib.bench.plan import ORIGINAL, QUOTA, QUOTA_CLIENTS, SEQUENTIAL
from report_lib.bench.quota_report import without_quota

WHICH_COLUMNS = ("situation", "measured at", "use", "median", "runner-up", "margin", "note")
# the quota scenario's clients as the "which to use" table names them
QUOTA_USE_NAMES = {"known": "the limiter told the quota (--tpm-limit N)",
                   "auto": "--tpm-limit auto", "adaptive": "botocore's adaptive retry mode",
                   "retries": "our retries alone"}


def _ranked(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((c for c in group if c["strategy"] not in (SEQUENTIAL, ORIGINAL)
                   and int(c["failed"]) == 0), key=lambda c: float(c["makespan_s"]))


def _margin(best: dict[str, Any], second: dict[str, Any] | None) -> str:
    if second is None:
        return "–"
    if equivalent(best, second):
        return "equivalent (within the measured spread)"
    phrase = speed_phrase(float(best["makespan_s"]), float(second["makespan_s"]))
    return phrase.removesuffix(" than").removesuffix(" as")


def _row(situation: str, group: tuple[str, int, int, list[dict[str, Any]]] | None,
         note: str = "") -> dict[str, Any]:
    if group is None:
        return {"situation": situation, "measured at": "not in these results", "use": "–",
                "median": "–", "runner-up": "–", "margin": "–", "note": note}
    scenario, n, conc, members = group
    ranked = _ranked(members)
    lost = [f"{c['label']} lost {int(c['failed'])}" for c in members if int(c["failed"]) > 0]
    note = "; ".join(x for x in (note, *lost) if x)
    where = f"{scenario}, N={n}, concurrency {conc}"
    if not ranked:
        return {"situation": situation, "measured at": where, "use": "none lost nothing",
                "median": "–", "runner-up": "–", "margin": "–", "note": note}
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return {"situation": situation, "measured at": where, "use": best["label"],
            "median": fmt_seconds(float(best["makespan_s"])),
            "runner-up": "–" if second is None else
            f"{second['label']} ({fmt_seconds(float(second['makespan_s']))})",
            "margin": _margin(best, second), "note": note}


def _find(groups: list[tuple[str, int, int, list[dict[str, Any]]]], scenario: str,
          lo: int, hi: int) -> tuple[str, int, int, list[dict[str, Any]]] | None:
    """The group of ``scenario`` with the largest N in [lo, hi] at concurrency N (else the
    largest concurrency)."""
    mine = [g for g in groups if g[0] == scenario and lo <= g[1] <= hi]
    if not mine:
        return None
    return max(mine, key=lambda g: (g[1], g[2] == g[1], g[2]))


def which_to_use(results: pd.DataFrame) -> pd.DataFrame:
    """Situation → the fastest strategy that lost nothing, its margin, computed from the rows."""
    cases = summarize(without_quota(results))
    groups = [g for g in case_groups(cases) if not is_cold(g[3])]  # warm: steady state
    rows = [
        _row("3 reports", _find(groups, "seed", 3, 3)),
        _row("tens of reports", _find(groups, "scale", 10, 99)),
        _row("hundreds of reports", _find(groups, "scale", 100, 10**6)),
        _quota_row(results) or
        _row("under a token quota", _find(groups, "throttled", 1, 10**6),
             "only clients that delivered every report are ranked"),
    ]
    rows.append(_across_machines(groups))
    rows += [_peer_row(sit) for sit in against.situations(results)]
    return pd.DataFrame(rows, columns=list(WHICH_COLUMNS))


def _quota_row(results: pd.DataFrame) -> dict[str, Any] | None:
    """"Under a token quota" from the quota scenario's cells (None when it did not run): of
    the clients that lost no report in any of their quota-bound cells, the one with the lowest
    median makespan / bound, against the runner-up's median."""
    cells = [c for c in quota_records(quota_cells(results))
             if not c["far"] and c["client"] in QUOTA_USE_NAMES]
    if not cells:
        return None
    stats: list[dict[str, Any]] = []
    for client in QUOTA_CLIENTS:
        mine = [c for c in cells if c["client"] == client]
        if not mine:
            continue
        ratios = sorted(float(c["ratio"]) for c in mine)
        stats.append({
            "client": client, "cells": len(mine), "median": float(pd.Series(ratios).median()),
            "lost": sum(int(c["lost"]) for c in mine),
            "lost_cells": sum(1 for c in mine if int(c["lost"]) > 0),
            "throttled": sum(float(c["throttled"]) for c in mine) /
            max(1.0, sum(float(c["requests"]) for c in mine))})
    ranked = sorted((s for s in stats if s["lost"] == 0), key=lambda s: s["median"])
    ns = sorted({int(c["n_jobs"]) for c in cells})
    where = (f"{QUOTA}, {len(cells)} quota-bound cells, N={', '.join(map(str, ns))}, "
             "makespan / the cell's bound")
    lost = [f"{QUOTA_USE_NAMES[s['client']]} lost {s['lost']} report{'s' * (s['lost'] != 1)} "
            f"in {s['lost_cells']} of {s['cells']} cells" for s in stats if s["lost"]]
    row = {"situation": "under a token quota", "measured at": where, "use": "none lost nothing",
           "median": "–", "runner-up": "–", "margin": "–", "note": "; ".join(lost)}
    if not ranked:
        return row
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    note = (f"{QUOTA_USE_NAMES[best['client']]}: {best['throttled']:.0%} of requests "
            f"throttled, no report lost in {best['cells']} cells")
    return {**row, "use": QUOTA_USE_NAMES[best["client"]],
            "median": f"{best['median']:.2f}x the bound",
            "runner-up": "–" if second is None else
            f"{QUOTA_USE_NAMES[second['client']]} ({second['median']:.2f}x the bound)",
            "margin": "–" if second is None else
            speed_phrase(best["median"], second["median"]).removesuffix(" than")
            .removesuffix(" as"),
            "note": "; ".join([note, *lost])}


def _named(case: dict[str, Any]) -> str:
    """A peers-scenario case by name, ours marked: "asyncio (ours)", "aioboto3"."""
    ours = case["strategy"] in OUR_PEER_STRATEGIES
    return f"{case['strategy']} (ours)" if ours else str(case["strategy"])


def _peer_row(sit: against.Situation) -> dict[str, Any]:
    """One situation of the peers scenario: ours and the other libraries ranked together."""
    ranked = sit.ranked()
    lost = [f"{c['strategy']} lost {int(c['failed'])}" for c in sit.lost()]
    rest = ", ".join(f"{_named(c)} {fmt_seconds(float(c['makespan_s']))}" for c in ranked[2:])
    note = "; ".join(x for x in (f"then {rest}" if rest else "", *lost) if x)
    words = against.VARIANT_WORDS.get(sit.variant, sit.variant)
    row = {"situation": f"{sit.n} reports, any library"
           + ("" if sit.variant == "warm" else f", {words}"),
           "measured at": f"{PEERS_SCENARIO}, N={sit.n}, {sit.variant}", "use": "–",
           "median": "–", "runner-up": "–", "margin": "–", "note": note}
    if not ranked:
        return {**row, "use": "none lost nothing"}
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return {**row, "use": _named(best), "median": fmt_seconds(float(best["makespan_s"])),
            "runner-up": "–" if second is None else
            f"{_named(second)} ({fmt_seconds(float(second['makespan_s']))})",
            "margin": _margin(best, second)}


def _across_machines(groups: list[tuple[str, int, int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """dask, the one strategy that spreads calls over machines, against the best on one."""
    dask = [g for g in groups if any(c["strategy"] == "dask" and int(c["failed"]) == 0
                                     for c in g[3])]
    if not dask:
        return _row("across machines", None, "no dask rows")
    scenario, n, conc, members = max(dask, key=lambda g: g[1])
    mine = next(c for c in members if c["strategy"] == "dask")
    best = next((c for c in _ranked(members) if c["strategy"] != "dask"), None)
    return {"situation": "across machines", "measured at": f"{scenario}, N={n}, concurrency "
            f"{conc} (one machine)", "use": "dask",
            "median": fmt_seconds(float(mine["makespan_s"])),
            "runner-up": "–" if best is None else
            f"{best['label']} ({fmt_seconds(float(best['makespan_s']))})",
            "margin": _margin(mine, best),
            "note": "the only strategy here that can spread calls over several machines"}


def _pairs(cases: pd.DataFrame, a: str, b: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(case of strategy a, case of strategy b) run side by side (same scenario, N,
    concurrency, warm), both without lost reports."""
    out = []
    for _, n, conc, members in case_groups(cases):
        if conc != n or any(c["variant"] for c in members):  # warm, unthrottled runs only
            continue
        x = next((c for c in members if c["label"].startswith(a) and int(c["failed"]) == 0),
                 None)
        y = next((c for c in members if c["label"] == b and int(c["failed"]) == 0), None)
        if x is not None and y is not None:
            out.append((x, y))
    return out


def _versus(x: dict[str, Any], y: dict[str, Any]) -> str:
    where = f"{x['scenario']} N={int(x['n_jobs'])}"
    if equivalent(x, y):
        return (f"{where}: {x['label']} {fmt_seconds(float(x['makespan_s']))} ≈ {y['label']} "
                f"{fmt_seconds(float(y['makespan_s']))}")
    return (f"{where}: {x['label']} {fmt_seconds(float(x['makespan_s']))}, "
            f"{speed_phrase(float(x['makespan_s']), float(y['makespan_s']))} {y['label']}")


def _thread_claim(cases: pd.DataFrame) -> dict[str, str]:
    pairs = _pairs(cases, "asyncio", "thread")
    if not pairs:
        return {"verdict": "not measured", "evidence": "no thread and asyncio side by side"}
    beaten = [(x, y) for x, y in pairs
              if not equivalent(x, y) and float(x["makespan_s"]) < float(y["makespan_s"])]
    evidence = "; ".join(_versus(x, y) for x, y in pairs)
    if beaten:
        return {"verdict": "refuted" if len(beaten) == len(pairs) else "partly refuted",
                "evidence": evidence}
    return {"verdict": "confirmed", "evidence": evidence}


def _process_claim(cases: pd.DataFrame) -> dict[str, str]:
    pairs = _pairs(cases, "process", "thread")
    if not pairs:
        return {"verdict": "not measured", "evidence": "no process and thread side by side"}
    slower = [(x, y) for x, y in pairs
              if not equivalent(x, y) and float(x["makespan_s"]) > float(y["makespan_s"])]
    evidence = "; ".join(
        f"{_versus(x, y)} (peak memory {float(x['peak_rss_mb']):.0f} vs "
        f"{float(y['peak_rss_mb']):.0f} MB)" for x, y in pairs)
    verdict = ("confirmed" if len(slower) == len(pairs)
               else "partly confirmed" if slower else "refuted")
    return {"verdict": verdict, "evidence": evidence}


def _asyncio_claim(cases: pd.DataFrame, metadata: dict[str, Any] | None) -> dict[str, str]:
    packages = (metadata or {}).get("packages") or {}
    used = packages.get("aiobotocore", "not recorded")
    aioboto3 = packages.get("aioboto3", "not recorded")
    pairs = _pairs(cases, "asyncio", "thread")
    numbers = "; ".join(_versus(x, y) for x, y in pairs) or "no asyncio rows"
    return {"verdict": "refuted (dependency); complexity not measured",
            "evidence": f"asyncio ran on aiobotocore {used} (aioboto3: {aioboto3}); "
                        f"{numbers}"}


def claims(results: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
    """The original analysis's three claims, each with this run's verdict and numbers."""
    cases = summarize(without_quota(results))
    rows = [
        {"claim": "ThreadPoolExecutor is optimal", **_thread_claim(cases)},
        {"claim": "ProcessPoolExecutor is not recommended (creation overhead, memory)",
         **_process_claim(cases)},
        {"claim": "asyncio needs aioboto3 and is more complex",
         **_asyncio_claim(cases, metadata)},
    ]
    return pd.DataFrame(rows, columns=["claim", "verdict", "evidence"])
