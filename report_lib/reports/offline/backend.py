"""The ``offline`` backend: writes each report from the facts in its prompt; no network."""

from __future__ import annotations

import time

from report_lib.errors import BackendError
from report_lib.llm.backends import BaseBackend, TextCallback
from report_lib.llm.settings import BackendSettings
from report_lib.llm.tokens import estimate_tokens
from report_lib.records import CallOutcome, ReportJob
from report_lib.reports.offline.writer import write_report
from report_lib.reports.prompts import parse_facts, parse_language


class OfflineBackend(BaseBackend):
    """Writes each report deterministically from the facts embedded in the prompt; no network."""

    name = "offline"

    def __init__(self, settings: BackendSettings | None = None, max_concurrency: int = 1) -> None:
        super().__init__(settings or BackendSettings(backend="offline"), max_concurrency)

    def call(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        started = time.perf_counter()
        facts = parse_facts(job.prompt)
        if facts is None:
            raise BackendError(
                f"offline backend can only write reports from report_lib prompts: job "
                f"{job.key!r} has no <facts> block; build it with prompts.build_prompt or use "
                "--backend emulator/bedrock",
                error_type="NoFacts",
            )
        system = self.settings.system or job.system
        text = write_report(facts, parse_language(system + "\n" + job.prompt))
        outcome = CallOutcome(
            text=text,
            input_tokens=estimate_tokens(system) + estimate_tokens(job.prompt),
            output_tokens=estimate_tokens(text),
            attempts=1,
            stop_reason="end_turn",
        )
        if self.settings.stream:
            outcome.ttft_s = time.perf_counter() - started
            if on_text is not None:
                on_text(text)
        return outcome

    async def acall(self, job: ReportJob, on_text: TextCallback | None = None) -> CallOutcome:
        return self.call(job, on_text)
