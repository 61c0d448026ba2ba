"""The offline writer's phrases, read once from ``phrases.yaml``: language → key → template.

Every phrase is a ``str.format`` template; the numbers that fill it come from the facts. Both
languages have the same keys (tests/reports/test_offline_writer.py checks it).
"""

from __future__ import annotations

from pathlib import Path

import yaml

Phrases = dict[str, str]  # key → str.format template

PHRASES_FILE = Path(__file__).with_name("phrases.yaml")


def _load(path: Path) -> dict[str, Phrases]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(lang): {str(k): str(v) for k, v in table.items()} for lang, table in data.items()}


PHRASES: dict[str, Phrases] = _load(PHRASES_FILE)
