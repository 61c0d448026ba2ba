"""Tests of report_lib.emulator."""
