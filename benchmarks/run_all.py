"""Full benchmark run: every scenario into outputs/benchmark/, then the summary and targets.

    .venv/bin/python benchmarks/run_all.py            # the full run (~15 min on 2 CPUs)
    .venv/bin/python benchmarks/run_all.py --quick    # every scenario, scaled down (~3 min)
    .venv/bin/python benchmarks/run_all.py --only seed,scale
    .venv/bin/python benchmarks/run_all.py --report   # report.md again from the saved results

Each scenario runs with its own time scale (recorded in every row): latencies that the targets
are about (seed 2.0 s, scale 1.0 s, original 1.0 s) run unscaled; the Sonnet scenario and the
quota minute of the throttled scenario are scaled down. Parts go to parts/, the merged rows to
results.csv (+ timelines.json, metadata.json) and the printed summary to summary.md, in
outputs/benchmark/ (the folder the comparison notebook reads) unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from report_lib.bench.plan import SCENARIO_NAMES  # light: no pandas, no client
from report_lib.config import BENCHMARK_DIR

if TYPE_CHECKING:
    import pandas as pd

# Imports of report_lib/pandas happen inside the functions: with the spawn and forkserver start
# methods every worker process re-imports this __main__ module, so it stays as lean as the
# `report-lib` entry script (see benchmarks/README.md, "process").

# scenario -> run_benchmark options of the full run
PLAN: dict[str, dict[str, Any]] = {
    "seed": {"time_scale": 1.0, "start_methods": ["spawn"]},
    "realistic": {"time_scale": 0.1, "start_methods": ["spawn"]},
    "scale": {"time_scale": 1.0, "start_methods": ["spawn", "fork", "forkserver"]},
    "throttled": {"time_scale": 0.05},  # a 3 s quota minute; calls stay 1.0 s
    "original": {"time_scale": 1.0, "repeats": 1},  # ~105 s per run at N=300: one is enough
    # ours beside the peer libraries (needs the `peers` group): 0.1 s calls, a 6 s quota minute
    "peers": {"time_scale": 0.1},
    "quota": {"time_scale": 0.05, "repeats": 1},  # ~150 cells, 3 s quota minutes: ~25 min
}
QUICK_SCALE = 0.1  # --quick multiplies every time scale by this


def run_part(scenario: str, out: Path, repeats: int, quick: bool, progress: bool) -> Path:
    from report_lib.bench.benchmark import run_benchmark

    options = dict(PLAN[scenario])
    options["repeats"] = min(options.get("repeats", repeats), repeats)
    if quick:
        options["time_scale"] = options["time_scale"] * QUICK_SCALE
    csv = out / "parts" / f"{scenario}.csv"
    run_benchmark([scenario], out_dir=csv, progress=progress,
                  command=" ".join(["benchmarks/run_all.py", *sys.argv[1:]]), **options)
    return csv


def merge(parts: list[Path], out: Path) -> pd.DataFrame:
    """One results.csv / timelines.json / metadata.json from the scenario parts."""
    import pandas as pd

    from report_lib.bench.result_files import load_results

    frames, timelines, metas = [], [], {}
    for csv in parts:
        df, tl, meta = load_results(csv)
        frames.append(df)
        timelines += tl
        metas[csv.stem] = meta
    df = pd.concat(frames, ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "results.csv", index=False)
    (out / "timelines.json").write_text(json.dumps(timelines, ensure_ascii=False) + "\n", "utf-8")
    first = next(iter(metas.values()))
    merged = {
        **{k: first[k] for k in ("cpu_count", "platform", "python", "packages", "published",
                                 "lower_bound", "model_id")},
        "command": first["command"],
        "created": min(m["created"] for m in metas.values()),
        "finished": max(m["finished"] for m in metas.values()),
        "scenarios": list(metas),
        "time_scale": {name: m["time_scale"] for name, m in metas.items()},
        "repeats": {name: m["repeats"] for name, m in metas.items()},
        "parts": metas,
    }
    if "transport" in first:  # how our clients sent Converse (report_lib.llm.direct)
        merged["transport"] = first["transport"]
    versions = [m["peer_versions"] for m in metas.values() if "peer_versions" in m]
    if versions:
        merged["peer_versions"] = versions[0]
    (out / "metadata.json").write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n",
                                       "utf-8")
    return df


def main(argv: list[str] | None = None) -> int:
    from report_lib.bench.analysis import check_targets, summarize
    from report_lib.bench.result_files import load_results
    from report_lib.bench.summary import format_summary, report_markdown

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIO_NAMES),
                        help="comma-separated scenarios (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per case (default: 3)")
    parser.add_argument("--quick", action="store_true",
                        help=f"scale every delay by a further {QUICK_SCALE} (a smoke run)")
    parser.add_argument("--out", type=Path, default=BENCHMARK_DIR,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: write report.md from the results already in --out")
    ns = parser.parse_args(argv)
    if ns.report:
        df, _, meta = load_results(ns.out)
        text = report_markdown(df, meta)
        (ns.out / "report.md").write_text(text + "\n", "utf-8")
        print(text)
        return 0
    scenarios = [s.strip() for s in ns.only.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIO_NAMES]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIO_NAMES)}")
    parts = [run_part(s, ns.out, ns.repeats, ns.quick, not ns.no_progress) for s in scenarios]
    df = merge(parts, ns.out)
    text = format_summary(summarize(df), check_targets(df))
    (ns.out / "summary.md").write_text(text + "\n", "utf-8")
    _, _, meta = load_results(ns.out)
    (ns.out / "report.md").write_text(report_markdown(df, meta) + "\n", "utf-8")
    print(text)
    print(f"\nwrote {ns.out / 'results.csv'}, timelines.json, metadata.json, summary.md, "
          "report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
