"""Tests of report_lib.cli."""
