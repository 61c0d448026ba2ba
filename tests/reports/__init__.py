"""Tests of report_lib.reports."""
