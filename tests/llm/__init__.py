"""Tests of report_lib.llm."""
