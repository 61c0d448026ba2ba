"""``runs.json``: one entry per notebook run of a grid, and the runs table of the index page.

An entry: ``notebook``, ``slug``, ``parameters`` (as given, convenience values resolved),
``status`` (ok | failed | cancelled | skipped; pending while the grid runs), ``seconds``,
``worker`` (the Dask worker address), ``page`` (relative path of its HTML),
``executed_notebook``, ``files``, ``error`` (message or null), and the fingerprints
``--skip-unchanged`` compares: ``data_fingerprint`` and ``notebook_fingerprint``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from report_lib.app.outputs import write_text_atomic
from report_lib.pipeline.index import esc, html_table

MANIFEST = "runs.json"
STATUSES = ("ok", "failed", "cancelled", "skipped", "pending")


@dataclass
class RunEntry:
    """One run of the grid (or a notebook run once) as the manifest records it."""

    notebook: str
    slug: str
    parameters: dict[str, Any]
    grid: dict[str, Any]  # the values that vary between runs (shown in the runs table)
    status: str = "pending"  # until its task returns; "cancelled" when Ctrl-C came first
    seconds: float = 0.0
    worker: str | None = None
    page: str | None = None
    executed_notebook: str | None = None
    files: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None  # e.g. the worker ran its own interpreter's kernel
    data_fingerprint: str | None = None
    notebook_fingerprint: str | None = None

    def key(self) -> str:
        """What --skip-unchanged compares: notebook, parameters, data and notebook content."""
        return json.dumps(
            [
                self.notebook,
                self.parameters,
                self.data_fingerprint,
                self.notebook_fingerprint,
            ],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunEntry:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def content_fingerprint(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_manifest(out_dir: Path) -> list[RunEntry]:
    """The entries of ``out_dir/runs.json``; [] when there is none or it cannot be read."""
    path = out_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [RunEntry.from_dict(d) for d in data if isinstance(d, dict)]
    except (OSError, ValueError, TypeError):
        return []


def write_manifest(out_dir: Path, entries: Sequence[RunEntry]) -> Path:
    """``out_dir/runs.json``, written atomically (a reader never sees half a file)."""
    path = out_dir / MANIFEST
    write_text_atomic(path, manifest_text(entries))  # a link there is replaced, not followed
    return path


def manifest_text(entries: Sequence[RunEntry]) -> str:
    """The text of ``runs.json``: every entry, in order."""
    return json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2) + "\n"


def reusable(previous: Sequence[RunEntry], out_dir: Path) -> dict[str, RunEntry]:
    """Earlier successful runs whose page is still there, by ``RunEntry.key``."""
    return {
        e.key(): e
        for e in previous
        if e.status in ("ok", "skipped") and e.page and (out_dir / e.page).is_file()
    }


def runs_table(entries: Sequence[RunEntry]) -> str:
    """The index page's section of grid runs: values, status, time, worker, link."""
    grid_runs = [e for e in entries if e.slug]
    if not grid_runs:
        return ""
    names = list(dict.fromkeys(k for e in grid_runs for k in e.grid))
    counts = {s: sum(e.status == s for e in grid_runs) for s in STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    rows = []
    for e in grid_runs:
        values = [esc(v if isinstance(v := e.grid.get(n), str) else _json(v)) for n in names]
        error = f"<br><small>{esc(e.error)}</small>" if e.error else ""
        link = f'<a href="{esc(e.page, quote=True)}">page</a>' if e.page else "—"
        rows.append([
            *values, f'<span class="{esc(e.status)}">{esc(e.status)}</span>{error}',
            f"{e.seconds:.1f} s", f"<code>{esc(e.worker or '—')}</code>", link,
        ])  # fmt: skip
    return (
        f"<h2>Runs</h2>\n<p>{len(grid_runs)} runs of the grid: {esc(summary)}; "
        f'manifest <a href="{MANIFEST}">{MANIFEST}</a>.</p>\n'
        + html_table([*names, "status", "time", "worker", "page"], rows)
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
