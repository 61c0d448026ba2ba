"""The strategy benchmark, one module per job: plan → workload → runner → rows → run → results
→ analysis → summary, and the comparison report (comparison: tables and sentences; figures:
charts). ``bench.run.run_benchmark`` measures; ``bench.results.load_results`` reads a run back.
"""
