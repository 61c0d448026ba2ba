"""Tests of report_lib.pipeline."""
