"""Bedrock-compatible HTTP emulator that runs in its own process.

``latency`` (how long an answer takes), ``answers`` (the answer model it serves and the text
mechanics: maxTokens, stop sequences, stream chunks), ``eventstream`` (the ConverseStream wire
format), ``options``/``state``/``server`` (the aiohttp server), ``launcher`` (``Emulator``: the
server in a child process), ``emulator_backend`` (the ``emulator`` backend). It does not import
the reports layer: the report-writing answer model is registered by path.
"""

from __future__ import annotations

from report_lib.emulator.latency import LatencyModel, parse_latency_model
from report_lib.emulator.launcher import Emulator
from report_lib.emulator.options import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig", "LatencyModel", "parse_latency_model"]
