"""Bedrock-compatible HTTP emulator that runs in its own process.

``latency`` (how long an answer takes), ``answers`` (what it says), ``eventstream`` (the
ConverseStream wire format), ``options``/``state``/``server`` (the aiohttp server),
``process`` (``Emulator``: the server in a child process).
"""

from __future__ import annotations

from report_lib.emulator.latency import LatencyModel, parse_latency_model
from report_lib.emulator.launcher import Emulator
from report_lib.emulator.options import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig", "LatencyModel", "parse_latency_model"]
