"""The ``emulator`` backend: the ``bedrock`` backend pointed at an emulator this module starts.

Registered in llm.backends.BACKENDS by its import path, so neither the LLM layer nor the app
imports the emulator: ``BACKENDS.serve(settings, EmulatorConfig(...))`` starts one in its own
process for a run (unless ``settings.endpoint_url`` names one already running) and yields
settings carrying its URL; every process of the run then builds an ``EmulatorBackend`` from them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from report_lib.emulator.launcher import Emulator
from report_lib.emulator.options import EmulatorConfig
from report_lib.errors import ConfigError
from report_lib.llm.backends import BedrockBackend, Endpoint
from report_lib.llm.settings import BackendSettings


@dataclass
class EmulatorEndpoint(Endpoint):
    """A running emulator: the run's settings point at it; ``describe`` adds its counters."""

    emulator: Emulator | None = None
    time_scale: float = 1.0

    def describe(self) -> dict[str, Any]:
        if self.emulator is None:  # an endpoint the caller started: its counters are its own
            return {}
        try:
            stats: dict[str, Any] | None = self.emulator.stats()
        except OSError:  # it cannot answer (stopped by the same signal as the run)
            stats = None
        return {"emulator": {"time_scale": self.time_scale, "stats": stats}}


class EmulatorBackend(BedrockBackend):
    """Bedrock's client against the local emulator (``settings.endpoint_url``)."""

    name = "emulator"

    def __init__(self, settings: BackendSettings, max_concurrency: int = 10, **clients: Any
                 ) -> None:
        if not settings.endpoint_url:
            raise ConfigError(
                "the emulator backend needs settings.endpoint_url: start one with "
                "`with report_lib.emulator.Emulator() as emu:` and pass endpoint_url=emu.url "
                "(generate_reports and BACKENDS.serve do this for backend='emulator')"
            )
        super().__init__(settings, max_concurrency, **clients)

    @classmethod
    @contextlib.contextmanager
    def serve(cls, settings: BackendSettings, options: Any = None) -> Iterator[Endpoint]:
        """Start an emulator with ``options`` (an EmulatorConfig; None: the defaults) for the
        block, unless ``settings.endpoint_url`` already names one; its quota minute is scaled
        like its latencies, and the client-side limiter's minute follows."""
        if options is not None and not isinstance(options, EmulatorConfig):
            raise ConfigError(f"emulator options must be a report_lib.emulator.EmulatorConfig, "
                              f"got {type(options).__name__}")
        if settings.endpoint_url:
            yield Endpoint(settings)
            return
        config = options or EmulatorConfig()
        given = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                 if f.name != "parent_pid"}
        with Emulator(**given) as emu:
            ready = replace(settings, endpoint_url=emu.url,
                            limiter_window_s=60.0 * config.time_scale)
            yield EmulatorEndpoint(ready, emu, config.time_scale)
