"""Presentation: charts and safe HTML for the notebooks and pages (used by bench and pipeline)."""
