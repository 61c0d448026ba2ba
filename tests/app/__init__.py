"""Tests of report_lib.app."""
