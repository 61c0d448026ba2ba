"""Tests of report_lib.bench."""
