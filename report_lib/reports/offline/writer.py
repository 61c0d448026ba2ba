"""Deterministic Markdown reports written from the facts alone (the ``offline`` backend).

Same facts and language → the same text, byte for byte. The title and the sections are those the
prompt asks the model for (prompts.report_title / report_sections): each section is written by
the function its key names in kpi.py, cpo.py or trend.py, in the prompt's order. Phrases live in
phrases.py; every number comes from the facts.
"""

from __future__ import annotations

from report_lib.config import REPORT_KINDS
from report_lib.errors import ConfigError
from report_lib.reports.facts import Facts
from report_lib.reports.offline import cpo, kpi, trend
from report_lib.reports.offline.markdown import SectionWriter
from report_lib.reports.offline.phrases import PHRASES, Phrases
from report_lib.reports.prompts import report_sections, report_title

WRITERS: dict[str, dict[str, SectionWriter]] = {
    "kpi": kpi.SECTIONS, "cpo": cpo.SECTIONS, "trend": trend.SECTIONS,
}


def _meta(facts: Facts, t: Phrases) -> str:
    v = facts.values
    if facts.kind == "trend":
        meta = t["meta_window"].format(**v["months"])
    elif v.get("previous_month"):
        meta = t["meta_prev"].format(month=facts.target_month, prev=v["previous_month"])
    else:
        meta = t["meta_noprev"].format(month=facts.target_month)
    if facts.focus_cpo:
        meta += t["meta_focus"].format(focus=facts.focus_cpo)
    return meta


def write_report(facts: Facts, language: str = "ko") -> str:
    """The report for ``facts`` as Markdown, in Korean (default) or English."""
    if language not in PHRASES:
        raise ConfigError(f"unknown language {language!r}; choose one of {', '.join(PHRASES)}")
    if facts.kind not in WRITERS:
        raise ConfigError(
            f"unknown report kind {facts.kind!r}; valid kinds: {', '.join(REPORT_KINDS)}"
        )
    t = PHRASES[language]
    writers = WRITERS[facts.kind]
    lines = [f"# {report_title(facts, language)}", "", _meta(facts, t), ""]
    if not facts.focus_cpo:
        lines += [t["no_focus"], ""]
    for i, section in enumerate(report_sections(facts, language)):
        lines += [*([""] if i else []), f"## {section.heading}",
                  *writers[section.key](facts, language, t)]
    lines += ["", "---", t["footer"], ""]
    return "\n".join(lines)
