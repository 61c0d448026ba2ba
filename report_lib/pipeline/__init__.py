"""The headless pipeline: notebooks run with papermill, exported as shareable HTML, an index.

``parameters`` (which notebooks, which parameters go where) → ``execute`` (one papermill run)
→ ``export`` (one HTML page) → ``index`` (index.html); ``run.run_pipeline`` does all of it.
"""
