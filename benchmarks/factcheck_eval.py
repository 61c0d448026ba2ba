"""How well does the fact checker tell wrong figures from true ones, and how fast?

Over the 3 report kinds × every month of the sample data × its 10 largest operators (the
operators of the last month), the offline writer's report is checked three ways:

- clean: as written (every figure true): each flagged figure is a false flag;
- paraphrased: rewritten the way LLMs write figures (reports.offline.mistakes.paraphrase: 만 units,
  약 with one decimal fewer, %포인트, ▲/▼), still true: each flagged figure is a false flag;
- hallucinated: the paraphrased report with about ``--rate`` of its figures made wrong
  (reports.offline.mistakes.hallucinate: digits swapped, a month out of the window, a share off by a
  point): recall = planted figures flagged / planted figures.

The checker's time per report (index of the facts, reading, deciding) is measured on its own.

Repair turns (``--repair``): the same reports answered the way the emulator answers them
(reports.offline.model_answers: paraphrased, and in ``--repair-share`` of the reports about
``--rate`` of the figures made wrong), checked by the run's reviewer
(reports.factcheck.reviewer.FactReviewer); a flagged report gets one repair turn answered by
the emulator's own code at each
``--repair-quality`` (share of the flagged figures it corrects). Measured: delivered reports
with no unsupported figure, every wrong figure left marked, repair turns sent for clean
reports, repair tokens and their list-price cost; then a live run against the emulator process
(Sonnet latency x ``--time-scale``): a run whose three reports each need one repair against a
clean run, ``--latency-repeats`` times each.

    .venv/bin/python benchmarks/factcheck_eval.py       # the table in benchmarks/README.md
    .venv/bin/python benchmarks/factcheck_eval.py --language en --rate 0.1
    .venv/bin/python benchmarks/factcheck_eval.py --repair-only   # the repair tables
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from report_lib import config
from report_lib.app.generate import generate_reports
from report_lib.data.sample import synthesize
from report_lib.emulator import EmulatorConfig
from report_lib.llm.pricing import cost_usd
from report_lib.llm.settings import BackendSettings
from report_lib.llm.tokens import estimate_tokens
from report_lib.reports.build import ReportJob
from report_lib.reports.factcheck import FactCheck, FactReviewer, check_report
from report_lib.reports.facts import Facts, iter_facts
from report_lib.reports.offline.mistakes import HALLUCINATED, hallucinate, paraphrase
from report_lib.reports.offline.model_answers import answer_conversation, answer_for
from report_lib.reports.offline.writer import write_report
from report_lib.reports.prompts import build_prompt


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


# ---------------------------------------------------------------- repair turns
def _flags(check: dict[str, Any] | None) -> set[tuple[int, str]]:
    return {(u["line"], u["text"]) for u in (check or {}).get("unsupported", [])}


def evaluate_repair(share: float, rate: float, qualities: list[float], language: str,
                    operators: int, seed: int) -> dict[str, Any]:
    """One repair round over every report, as a run with the emulator would make it."""
    df = synthesize()
    months = sorted(df["month"].unique())
    largest = list(df[df["month"] == months[-1]].nsmallest(operators, "rank")["cpo"])
    pick = random.Random(seed)
    reviewer = FactReviewer()
    out: dict[str, Any] = {"reports": 0, "wrong_reports": 0, "share": share, "rate": rate,
                           "language": language, "qualities": {}}
    per_quality = {q: dict.fromkeys(("clean_delivered", "clean_of_wrong", "right_delivered",
                                     "repairs", "repairs_of_clean", "left_wrong", "left_marked",
                                     "fixed", "input_tokens", "output_tokens"), 0)
                   for q in qualities}
    out["planted"] = out["unflagged"] = 0
    first_tokens = [0, 0]
    for _, _, facts in iter_facts(df, months=months, focus_cpos=largest):
        prompt = build_prompt(facts, language)
        job = ReportJob(facts.kind, facts.kind, prompt.system, prompt.user, language)
        wrong = pick.random() < share
        first = answer_for(prompt.system, prompt.user, rate if wrong else 0.0, True, seed)
        planted = {(c["line"], c["now"]) for c in first.changes
                   if c["change"] == HALLUCINATED}
        out["reports"] += 1
        out["wrong_reports"] += bool(planted)
        check = reviewer.review(job, first.text)
        unflagged = planted - _flags(check)  # wrong, but a fact one step away supports it
        out["planted"] += len(planted)
        out["unflagged"] += len(unflagged)
        first_tokens[0] += estimate_tokens(prompt.system) + estimate_tokens(prompt.user)
        first_tokens[1] += first.tokens
        for quality, totals in per_quality.items():
            delivered, left = check, planted & _flags(check)
            if check and check["unsupported"]:
                follow = reviewer.follow_up(job, first.text, check)
                turns = (("user", prompt.user), ("assistant", first.text), ("user", follow))
                answer = answer_conversation(prompt.system, turns, rate if wrong else 0.0, True,
                                             seed, quality)
                again = reviewer.review(job, answer.text)
                if len(_flags(again)) < len(_flags(check)):
                    delivered = again
                totals["repairs"] += 1
                totals["repairs_of_clean"] += not planted
                totals["input_tokens"] += sum(estimate_tokens(t) for t in
                                              (prompt.system, prompt.user, first.text, follow))
                totals["output_tokens"] += answer.tokens
                if delivered is again:
                    left = {(c["line"], c["was"]) for c in answer.changes
                            if c["change"] == "kept"}
                totals["left_wrong"] += len(left)
                totals["left_marked"] += len(left & _flags(delivered))
                totals["fixed"] += len(_flags(check)) - len(_flags(delivered))
            clean = not _flags(delivered)
            totals["clean_delivered"] += clean
            totals["right_delivered"] += not (left or unflagged)
            totals["clean_of_wrong"] += clean and bool(planted)
    for quality, totals in per_quality.items():
        totals["cost_usd"] = cost_usd(config.DEFAULT_MODEL_ID, totals["input_tokens"],
                                      totals["output_tokens"])
        out["qualities"][str(quality)] = totals
    out["first_input_tokens"], out["first_output_tokens"] = first_tokens
    out["first_cost_usd"] = cost_usd(config.DEFAULT_MODEL_ID, *first_tokens)
    return out


def measure_latency(repeats: int, time_scale: float, rate: float) -> dict[str, Any]:
    """Runs of the three reports against the emulator process: clean (paraphrased only) and
    with every report wrong (each needing one repair turn); total seconds of each run."""
    frame = synthesize()
    runs: dict[str, list[dict[str, Any]]] = {"clean": [], "repaired": []}
    for _ in range(repeats):
        for name, options in (("clean", {"paraphrase": True}),
                              ("repaired", {"paraphrase": True, "hallucinate": rate})):
            run = generate_reports(frame, backend="emulator", strategy="thread",
                                   emulator=EmulatorConfig(time_scale=time_scale, **options),
                                   settings=BackendSettings()).to_dict()
            repairs = [c["repair"] for c in run["fact_check"].values()]
            runs[name].append({
                "total_s": run["total_time"],
                "requests": run["emulator"]["stats"]["requests"],
                "rounds": sum(r["rounds"] for r in repairs),
                "remaining": sum(r["remaining"] for r in repairs),
                "repair_s": max(r["seconds"] for r in repairs),
                "usage": run["usage_total"],
            })
    clean = statistics.median(r["total_s"] for r in runs["clean"])
    repaired = statistics.median(r["total_s"] for r in runs["repaired"])
    return {"repeats": repeats, "time_scale": time_scale, "rate": rate, "runs": runs,
            "load_avg_1m": os.getloadavg()[0],
            "clean_median_s": clean, "repaired_median_s": repaired, "ratio": repaired / clean}


def repair_markdown(result: dict[str, Any], latency: dict[str, Any] | None) -> str:
    r = result
    rows = [("wrong figures the check cannot flag (a one-step derivation gives them)",
             f"{r['unflagged']:,} of {r['planted']:,} planted "
             f"({r['unflagged'] / r['planted']:.2%}), delivered as written"),
            ("reports", f"{r['reports']:,}, {r['wrong_reports']:,} of them with wrong figures "
                        f"({r['wrong_reports'] / r['reports']:.1%}: each report drawn wrong with "
                        f"probability {r['share']}, about {r['rate']:.0%} of its figures), "
                        f"language {r['language']}")]
    for quality, t in r["qualities"].items():
        wrong = r["wrong_reports"]
        rows += [
            (f"quality {quality}: delivered with no unsupported figure",
             f"{t['clean_delivered']:,} of {r['reports']:,} "
             f"({t['clean_delivered'] / r['reports']:.2%}); of the wrong ones "
             f"{t['clean_of_wrong']:,} of {wrong:,} ({t['clean_of_wrong'] / wrong:.2%})"),
            (f"quality {quality}: delivered with no wrong figure (the emulator's truth)",
             f"{t['right_delivered']:,} of {r['reports']:,} "
             f"({t['right_delivered'] / r['reports']:.2%})"),
            (f"quality {quality}: flagged wrong figures left, marked",
             f"{t['left_marked']:,} of {t['left_wrong']:,} marked; {t['fixed']:,} corrected"),
            (f"quality {quality}: repair turns",
             f"{t['repairs']:,} ({t['repairs_of_clean']} for reports with no wrong figure)"),
            (f"quality {quality}: repair tokens and cost",
             f"{t['input_tokens']:,} in + {t['output_tokens']:,} out, "
             f"${t['cost_usd']:.2f} (first answers: {r['first_input_tokens']:,} + "
             f"{r['first_output_tokens']:,}, ${r['first_cost_usd']:.2f})"),
        ]
    if latency is not None:
        lat = latency
        rep = lat["runs"]["repaired"]
        rows += [
            ("live runs", f"{lat['repeats']} of each, emulator latency sonnet x "
                          f"{lat['time_scale']}, thread strategy, load average "
                          f"{lat['load_avg_1m']:.2f} (1 min) on {os.cpu_count()} CPUs"),
            ("run of 3 reports, clean (median)",
             f"{lat['clean_median_s']:.2f} s, {lat['runs']['clean'][0]['requests']} calls"),
            ("run of 3 reports, each needing one repair (median)",
             f"{lat['repaired_median_s']:.2f} s = {lat['ratio']:.2f}x the clean run, "
             f"{rep[0]['requests']} calls, {sum(x['remaining'] for x in rep)} figures left "
             f"in {lat['repeats']} runs"),
        ]
    return "\n".join(["| measure | result |", "|---|---|",
                      *(f"| {a} | {b} |" for a, b in rows)])


def _qualities(text: str) -> list[float]:
    return [float(q) for q in text.split(",") if q.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.05, help="hallucination rate (0.05)")
    parser.add_argument("--language", choices=config.LANGUAGES, default="ko")
    parser.add_argument("--operators", type=int, default=10, help="largest operators (10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=config.OUTPUT_DIR / "benchmark" /
                        "factcheck.json", help="the figures and every missed planted figure")
    parser.add_argument("--repair-only", action="store_true",
                        help="only the repair measurements (skip the checker's table)")
    parser.add_argument("--repair-share", type=float, default=0.3,
                        help="share of the reports answered with wrong figures (0.3)")
    parser.add_argument("--repair-quality", type=_qualities, default=[1.0, 0.5],
                        help="repair qualities to measure, comma list (1.0,0.5)")
    parser.add_argument("--latency-repeats", type=int, default=3,
                        help="live runs against the emulator, each kind (3; 0: none)")
    parser.add_argument("--time-scale", type=float, default=0.2,
                        help="emulator latency scale of the live runs (0.2)")
    ns = parser.parse_args()
    result: dict[str, Any] = {}
    if not ns.repair_only:
        result = evaluate(ns.rate, ns.language, ns.operators, ns.seed)
        print(markdown(result))
    result["repair"] = evaluate_repair(ns.repair_share, ns.rate, ns.repair_quality,
                                       ns.language, ns.operators, ns.seed)
    latency = (measure_latency(ns.latency_repeats, ns.time_scale, 0.08)
               if ns.latency_repeats else None)
    result["repair_latency"] = latency
    print(repair_markdown(result["repair"], latency))
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {ns.out}")


if __name__ == "__main__":
    main()
