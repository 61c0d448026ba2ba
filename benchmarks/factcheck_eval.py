"""How well does the fact checker tell wrong figures from true ones, and how fast?

Over the 3 report kinds × every month of the sample data × its 10 largest operators (the
operators of the last month), the offline writer's report is checked three ways:

- clean: as written (every figure true): each flagged figure is a false flag;
- paraphrased: rewritten the way LLMs write figures (emulator.mistakes.paraphrase: 만 units,
  약 with one decimal fewer, %포인트, ▲/▼), still true: each flagged figure is a false flag;
- hallucinated: the paraphrased report with about ``--rate`` of its figures made wrong
  (emulator.mistakes.hallucinate: digits swapped, a month out of the window, a share off by a
  point): recall = planted figures flagged / planted figures.

The checker's time per report (index of the facts, reading, deciding) is measured on its own.

    .venv/bin/python benchmarks/factcheck_eval.py       # the table in benchmarks/README.md
    .venv/bin/python benchmarks/factcheck_eval.py --language en --rate 0.1
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.data.sample import synthesize
from report_lib.emulator.mistakes import hallucinate, paraphrase
from report_lib.reports.factcheck import FactCheck, check_report
from report_lib.reports.facts import Facts, iter_facts
from report_lib.reports.offline.writer import write_report


def _timed_check(text: str, facts: Facts, times: list[tuple[float, float]]) -> FactCheck:
    """check_report, its wall-clock and CPU seconds appended to ``times``."""
    wall, cpu = time.perf_counter(), time.thread_time()
    check = check_report(text, facts)
    times.append((time.perf_counter() - wall, time.thread_time() - cpu))
    return check


def evaluate(rate: float, language: str, operators: int, seed: int) -> dict[str, Any]:
    df = synthesize()
    months = sorted(df["month"].unique())
    largest = list(df[df["month"] == months[-1]].nsmallest(operators, "rank")["cpo"])
    rng = random.Random(seed)
    totals = dict.fromkeys(("reports", "clean_checked", "clean_flags", "para_checked",
                            "para_flags", "para_changed", "planted", "caught", "extra_flags",
                            "derived"), 0)
    times: list[tuple[float, float]] = []
    missed: list[dict[str, Any]] = []
    for month, cpo, facts in iter_facts(df, months=months, focus_cpos=largest):
        text = write_report(facts, language)
        clean = _timed_check(text, facts, times)
        para, para_changes = paraphrase(text, facts, rng, language)
        checked_para = _timed_check(para, facts, times)
        wrong, planted = hallucinate(para, facts, rate, rng)
        checked_wrong = _timed_check(wrong, facts, times)
        truth = {(c.line, c.now) for c in planted}
        flagged = {(u.line, u.text) for u in checked_wrong.unsupported}
        totals["reports"] += 1
        totals["clean_checked"] += clean.checked
        totals["clean_flags"] += len(clean.unsupported)
        totals["derived"] += clean.derived
        totals["para_checked"] += checked_para.checked
        totals["para_flags"] += len(checked_para.unsupported)
        totals["para_changed"] += len(para_changes)
        totals["planted"] += len(truth)
        totals["caught"] += len(truth & flagged)
        totals["extra_flags"] += len(flagged - truth)
        missed += [{"month": month, "cpo": cpo, "kind": facts.kind, "line": c.line,
                    "was": c.was, "now": c.now, "how": c.how}
                   for c in planted if (c.line, c.now) not in flagged]
    wall = sorted(t[0] * 1000 for t in times)
    cpu = sorted(t[1] * 1000 for t in times)
    return {
        **totals,
        "recall": totals["caught"] / totals["planted"] if totals["planted"] else None,
        "false_flags_clean": totals["clean_flags"] / totals["clean_checked"],
        "false_flags_paraphrased": totals["para_flags"] / totals["para_checked"],
        "ms_median": statistics.median(wall),
        "ms_p95": wall[int(0.95 * (len(wall) - 1))],
        "cpu_ms_median": statistics.median(cpu),
        "cpu_ms_p95": cpu[int(0.95 * (len(cpu) - 1))],
        "checks_timed": len(times),
        "months": len(months),
        "operators": len(largest),
        "language": language,
        "rate": rate,
        "missed": missed,
    }


def markdown(result: dict[str, Any]) -> str:
    r = result
    rows = [
        ("reports (3 kinds × months × operators)",
         f"{r['reports']:,} (3 × {r['months']} × {r['operators']}), language {r['language']}"),
        ("figures checked per clean report", f"{r['clean_checked'] / r['reports']:.1f} "
         f"({r['derived']:,} derived in one step in all)"),
        ("false flags, clean", f"{r['clean_flags']} of {r['clean_checked']:,} "
         f"({r['false_flags_clean']:.2%})"),
        ("false flags, paraphrased", f"{r['para_flags']} of {r['para_checked']:,} "
         f"({r['false_flags_paraphrased']:.2%}; {r['para_changed']:,} figures rewritten)"),
        (f"recall, hallucinated (rate {r['rate']})", f"{r['caught']:,} of {r['planted']:,} "
         f"({r['recall']:.2%}); {r['extra_flags']} other figures flagged"),
        ("checker time per report (CPU)", f"median {r['cpu_ms_median']:.2f} ms, "
         f"p95 {r['cpu_ms_p95']:.2f} ms ({r['checks_timed']:,} checks)"),
        ("checker time per report (wall clock)", f"median {r['ms_median']:.2f} ms, "
         f"p95 {r['ms_p95']:.2f} ms"),
    ]
    return "\n".join(["| measure | result |", "|---|---|",
                      *(f"| {a} | {b} |" for a, b in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.05, help="hallucination rate (0.05)")
    parser.add_argument("--language", choices=config.LANGUAGES, default="ko")
    parser.add_argument("--operators", type=int, default=10, help="largest operators (10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=config.OUTPUT_DIR / "benchmark" /
                        "factcheck.json", help="the figures and every missed planted figure")
    ns = parser.parse_args()
    result = evaluate(ns.rate, ns.language, ns.operators, ns.seed)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    print(f"wrote {ns.out}")


if __name__ == "__main__":
    main()
