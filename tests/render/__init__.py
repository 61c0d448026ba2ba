"""Tests of report_lib.render."""
