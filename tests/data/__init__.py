"""Tests of report_lib.data."""
