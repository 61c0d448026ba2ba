"""The peers scenario for benchmarks/README.md: medians per case, ours / best peer, targets.

    .venv/bin/python benchmarks/peers_table.py outputs/benchmark-peers

Reads results.csv (+ metadata.json) of a run with the ``peers`` scenario and prints Markdown:
one table of medians per (variant, N, strategy), one of "ours / best peer" per (variant, N)
(the fastest of ours and the fastest peer among those that lost no report in any repeat; the
ratio of their median makespans and its range over the repeats, [min ours / max peer,
max ours / min peer]), and the four targets of the peers benchmark, each with the figures it
was decided on.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from report_lib.bench.peer_names import OUR_PEER_STRATEGIES, PEER_NAMES, PEERS_SCENARIO

CPU_TARGET = 0.8  # ours ≤ 0.8 × the best peer's client CPU per call at the largest N


def cases(df: pd.DataFrame) -> pd.DataFrame:
    """One line per (variant, N, strategy): medians over the repeats, min/max makespan, lost."""
    peers = df[df["scenario"] == PEERS_SCENARIO]
    out = peers.groupby(["variant", "n_jobs", "strategy"], sort=False).agg(
        runs=("makespan_s", "size"), makespan_s=("makespan_s", "median"),
        min_s=("makespan_s", "min"), max_s=("makespan_s", "max"),
        efficiency=("efficiency", "median"), cpu_ms_per_call=("cpu_ms_per_call", "median"),
        peak_rss_mb=("peak_rss_mb", "median"), first_call_s=("first_call_s", "median"),
        lost=("failed", "sum"), throttled=("throttled", "median"),
    ).reset_index()
    out["ours"] = out["strategy"].isin(OUR_PEER_STRATEGIES)
    return out


def _best(group: pd.DataFrame, ours: bool) -> pd.Series | None:
    side = group[(group["ours"] == ours) & (group["lost"] == 0)]
    return None if side.empty else side.loc[side["makespan_s"].idxmin()]


def against(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (variant, N): the best of ours beside the best peer (None where every one lost)."""
    lines = []
    for (variant, n), group in table.groupby(["variant", "n_jobs"], sort=False):
        ours, peer = _best(group, True), _best(group, False)
        line: dict[str, Any] = {"variant": variant, "n": int(n), "ours": ours, "peer": peer}
        if ours is not None and peer is not None:
            line["ratio"] = ours["makespan_s"] / peer["makespan_s"]
            line["low"] = ours["min_s"] / peer["max_s"]
            line["high"] = ours["max_s"] / peer["min_s"]
        lines.append(line)
    return lines


def targets(table: pd.DataFrame) -> list[tuple[str, bool | None, str]]:
    """(target, met (None: not measured), the figures) for the four targets."""
    found = {(line["variant"], line["n"]): line for line in against(table)}
    out: list[tuple[str, bool | None, str]] = []
    warm_ns = sorted(n for v, n in found if v == "warm")
    for n in warm_ns:
        line = found[("warm", n)]
        if "ratio" not in line:
            out.append((f"warm makespan at N={n} <= best peer's", None, "a side lost reports"))
            continue
        met = bool(line["ratio"] <= 1 or line["low"] <= 1)  # within the spread of the two
        out.append((f"warm makespan at N={n} <= best peer's (within the spread)", met,
                    f"{line['ours']['strategy']} {line['ours']['makespan_s']:.3f} s vs "
                    f"{line['peer']['strategy']} {line['peer']['makespan_s']:.3f} s: "
                    f"{line['ratio']:.2f}x [{line['low']:.2f}, {line['high']:.2f}]"))
    if warm_ns:
        n = warm_ns[-1]
        group = table[(table["variant"] == "warm") & (table["n_jobs"] == n)
                      & (table["lost"] == 0)]  # a client that lost reports did less work
        ours_cpu = group[group["ours"]]["cpu_ms_per_call"].min()
        peer_cpu = group[~group["ours"]]["cpu_ms_per_call"].min()
        if not (math.isnan(ours_cpu) or math.isnan(peer_cpu)):
            best_peer = group[~group["ours"]].loc[group[~group["ours"]]["cpu_ms_per_call"]
                                                  .idxmin(), "strategy"]
            out.append((f"client CPU per call at N={n} <= {CPU_TARGET}x the best peer's",
                        bool(ours_cpu <= CPU_TARGET * peer_cpu),
                        f"{ours_cpu:.2f} ms vs {best_peer} {peer_cpu:.2f} ms: "
                        f"{ours_cpu / peer_cpu:.2f}x"))
    cold = table[table["variant"] == "cold"]
    if not cold.empty:
        n = int(cold["n_jobs"].min())
        line = found[("cold", n)]
        if "ratio" in line:
            out.append((f"cold start to last report at N={n} <= fastest peer's",
                        bool(line["ratio"] <= 1 or line["low"] <= 1),
                        f"{line['ours']['strategy']} {line['ours']['makespan_s']:.3f} s vs "
                        f"{line['peer']['strategy']} {line['peer']['makespan_s']:.3f} s: "
                        f"{line['ratio']:.2f}x [{line['low']:.2f}, {line['high']:.2f}]"))
    quota = table[(table["variant"] == "quota") & table["ours"]]
    if not quota.empty:
        lost = {r.strategy: int(r.lost) for r in quota.itertuples()}
        out.append(("0 reports lost under a quota (ours)", bool(sum(lost.values()) == 0),
                    ", ".join(f"{s} {v}" for s, v in lost.items())))
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def ours_on(meta: dict[str, Any]) -> str:
    """"; ours on boto3 X, botocore Y, aiobotocore Z, Converse sent direct": the clients ours
    ran on in this run (the `peers` group pins aiobotocore to what aioboto3 accepts) and the
    transport of its Converse calls (``transport`` in the metadata; runs before it: botocore)."""
    packages = meta.get("packages") or {}
    names = [n for n in ("boto3", "botocore", "aiobotocore") if n in packages]
    parts = [f"{n} {packages[n]}" for n in names]
    if parts or meta.get("transport"):
        parts.append(f"Converse sent {meta.get('transport') or 'botocore'}")
    return f"; ours on {', '.join(parts)}" if parts else ""


def markdown(df: pd.DataFrame, meta: dict[str, Any]) -> str:
    table = cases(df)
    order = {s: i for i, s in enumerate((*OUR_PEER_STRATEGIES, *PEER_NAMES))}
    table = table.sort_values(["variant", "n_jobs", "strategy"],
                              key=lambda c: c.map(order) if c.name == "strategy" else c)
    lines = [f"Command: `{meta.get('command', '?')}`; time scale {meta.get('time_scale')}, "
             f"{meta.get('repeats')} repeats; peers: "
             + ", ".join(f"{k} {v}" for k, v in (meta.get("peer_versions") or {}).items())
             + ours_on(meta), "",
             "| variant | N | strategy | runs | makespan s (median) | min–max | efficiency | "
             "CPU ms/call | peak RSS MB | first call s | lost | throttled |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in table.itertuples():
        name = f"**{r.strategy}**" if r.ours else r.strategy
        lines.append(f"| {r.variant} | {r.n_jobs} | {name} | {r.runs} | {r.makespan_s:.3f} | "
                     f"{r.min_s:.3f}–{r.max_s:.3f} | {_fmt(r.efficiency, 2)} | "
                     f"{_fmt(r.cpu_ms_per_call, 2)} | {_fmt(r.peak_rss_mb, 0)} | "
                     f"{_fmt(r.first_call_s, 2)} | {int(r.lost)} | {_fmt(r.throttled, 0)} |")
    lines += ["", "| situation | ours (best) | best peer | ours / peer | range |",
              "|---|---|---|---:|---|"]
    for line in against(table):
        ours, peer = line["ours"], line["peer"]
        mine = "every one lost reports" if ours is None else \
            f"{ours['strategy']} {ours['makespan_s']:.3f} s"
        theirs = "every one lost reports" if peer is None else \
            f"{peer['strategy']} {peer['makespan_s']:.3f} s"
        ratio = f"{line['ratio']:.2f}x" if "ratio" in line else "–"
        spread = f"[{line['low']:.2f}, {line['high']:.2f}]" if "ratio" in line else "–"
        lines.append(f"| {line['variant']}, N={line['n']} | {mine} | {theirs} | {ratio} | "
                     f"{spread} |")
    lines += ["", "| target | met | figures |", "|---|---|---|"]
    for name, met, figures in targets(table):
        lines.append(f"| {name} | {'–' if met is None else ('yes' if met else 'NO')} | "
                     f"{figures} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the run's folder (results.csv, metadata.json)")
    ns = parser.parse_args(argv)
    df = pd.read_csv(ns.out / "results.csv", keep_default_na=False, na_values=["", "nan"])
    meta = json.loads((ns.out / "metadata.json").read_text(encoding="utf-8"))
    print(markdown(df, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
