"""Tests of report_lib.execution."""
