"""The strategy benchmark, one module per job: plan → workload → runner → metrics →
benchmark → result_files → analysis → summary, and the comparison report (comparison: tables
and sentences; figures: charts). ``bench.benchmark.run_benchmark`` measures;
``bench.result_files.load_results`` reads a run back.
"""
