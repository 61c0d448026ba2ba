"""EV Infra Report Lab: CPO statistics to three LLM-written reports, run in parallel."""

from __future__ import annotations

__version__ = "0.1.0"
