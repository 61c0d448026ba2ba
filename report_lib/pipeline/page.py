"""What a shared page is about: its name, report month, focus operator and how it was made.

A notebook displays ``page_header(...)`` near its top: in JupyterLab that shows the header block;
the HTML export (report_lib.pipeline.export) reads the same fields from the output to title the
page and to draw the header at the top of the page with a link back to the index.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

PAGE_MIME = "application/vnd.report-lib.page+json"
SUMMARY_MIME = "application/vnd.report-lib.summary+json"

# The page name of each pipeline notebook (its file name otherwise).
PAGE_NAMES: dict[str, str] = {
    "reports": "EV charging operators — monthly reports",
    "benchmark": "Strategy benchmark",
    "comparison_report": "Strategy comparison report",
}


@dataclass
class PageInfo:
    """The facts a page states about itself (all text; "" when not known)."""

    name: str = ""
    month: str = ""
    focus_cpo: str = ""
    data_source: str = ""
    backend: str = ""
    model_id: str = ""
    strategy: str = ""
    run_time: str = ""
    language: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: str(v) for k, v in data.items() if k in known and v is not None})

    def title(self) -> str:
        """"<name> — <month> — <focus operator>" (the parts that are known)."""
        return " — ".join(part for part in (self.name, self.month, self.focus_cpo) if part)

    def header_html(self, back_link: str | None = None) -> str:
        """The header block: a link back to the index, then what the page is about."""
        esc = html.escape
        rows = [("report month", self.month), ("focus operator", self.focus_cpo),
                ("data", self.data_source), ("backend", self.backend),
                ("model", self.model_id), ("strategy", self.strategy),
                ("run", self.run_time)]
        items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in rows if v)
        nav = (f'<nav><a href="{esc(back_link, quote=True)}">← all pages</a></nav>'
               if back_link else "")
        return f'<header class="rl-header">{nav}<dl>{items}</dl></header>'


def data_source_name(path: str | Path) -> str:
    """The name a shared page shows for a data path: its last part, never the whole path."""
    text = str(path).rstrip("/\\")
    return Path(text).name or text


class PageHeader:
    """A display object: the header block for JupyterLab and the fields for the export."""

    def __init__(self, info: PageInfo) -> None:
        self.info = info

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {PAGE_MIME: asdict(self.info), "text/html": self.info.header_html()}


def page_header(name: str, *, month: str = "", focus_cpo: str | None = None,
                data_path: str | Path = "", backend: str = "", model_id: str = "",
                strategy: str = "", language: str = "") -> PageHeader:
    """``display(page_header(...))`` in a notebook: the run time is now, the data source is
    shown by its name only (a shared page carries no local path)."""
    run_time = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    return PageHeader(PageInfo(
        name=PAGE_NAMES.get(name, name), month=month, focus_cpo=focus_cpo or "",
        data_source=data_source_name(data_path) if str(data_path) else "",
        backend=backend, model_id=model_id, strategy=strategy, run_time=run_time,
        language=language,
    ))


@dataclass
class PageSummary:
    """What a page found, for the top of the page and of the site's index: a few headline
    figures (label, value), a few lines (a verdict), links (text, path relative to the
    notebook's output folder)."""

    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageSummary:
        return cls(str(data.get("title", "")),
                   [(str(a), str(b)) for a, b in data.get("figures") or []],
                   [str(line) for line in data.get("lines") or []],
                   [(str(a), str(b)) for a, b in data.get("links") or []])

    def html(self) -> str:
        """The summary block: the title, the figures as a row of tiles, the lines as a list
        (links are the index's to draw: they are relative to the output folder)."""
        esc = html.escape
        tiles = "".join(f'<div class="rl-figure"><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>'
                        for k, v in self.figures)
        lines = "".join(f"<li>{esc(line)}</li>" for line in self.lines)
        return ('<div class="rl-summary">'
                + (f"<h2>{esc(self.title)}</h2>" if self.title else "")
                + (f'<dl class="rl-figures">{tiles}</dl>' if tiles else "")
                + (f"<ul>{lines}</ul>" if lines else "") + "</div>")


class SummaryDisplay:
    """A display object: the summary block for the page, its fields for the index."""

    def __init__(self, summary: PageSummary) -> None:
        self.summary = summary

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {SUMMARY_MIME: asdict(self.summary), "text/html": self.summary.html()}


def page_summary(title: str, *, figures: Sequence[tuple[str, str]] = (),
                 lines: Sequence[str] = (), links: Sequence[tuple[str, str]] = ()
                 ) -> SummaryDisplay:
    """``display(page_summary(...))`` in a notebook: a summary block on the page that the
    site's index also shows (read from the executed notebook)."""
    return SummaryDisplay(PageSummary(title, [(str(a), str(b)) for a, b in figures],
                                      [str(line) for line in lines],
                                      [(str(a), str(b)) for a, b in links]))


def read_summaries(notebook: Path | None) -> list[PageSummary]:
    """Every summary an executed notebook displayed (none when it is missing or unreadable)."""
    import json

    if notebook is None or not Path(notebook).is_file():
        return []
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            data = output.get("data", {}) if isinstance(output, dict) else {}
            if isinstance(data.get(SUMMARY_MIME), dict):
                found.append(PageSummary.from_dict(data[SUMMARY_MIME]))
    return found


MISSING = "—"


def _formatter(series: pd.Series, decimals: int) -> str | Callable[[object], str]:
    """How a column's cells are written: thousands separators, ``decimals`` places for
    fractions; a column of mixed values (text and numbers) is written cell by cell."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return str
    if not pd.api.types.is_numeric_dtype(series):
        return _cell
    values = series.dropna()
    upcast = series.isna().any() and len(values) and (values % 1 == 0).all()  # ints with gaps
    if pd.api.types.is_integer_dtype(series) or upcast:
        return "{:,.0f}"
    return f"{{:,.{decimals}f}}"


def _cell(value: object) -> str:
    """One cell of a mixed column: integers with separators, numbers with 2 decimals (2
    significant digits below 0.01), ``—`` for missing, anything else as text."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return MISSING
        return f"{number:,.2f}" if number == 0 or abs(number) >= 0.01 else f"{number:.2g}"
    return str(value)


# a measurement written as text: "2.00 s", "~12.5", "25 %", "3.0×", "1,234 MB"
_NUMBER_TEXT = re.compile(r"[~≈+\-−]?[\d,]*\.?\d+(e[+-]?\d+)? ?(%|×|x|s|ms|MB|GB)?")


def _is_number(value: object) -> bool:
    """A number, or text that writes one (with its unit): what a page aligns right."""
    if isinstance(value, str):
        return _NUMBER_TEXT.fullmatch(value.strip()) is not None
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _side(series: pd.Series) -> str | None:
    """Where a column's cells sit: numbers right, text left; None for a column of both
    (aligned cell by cell). Missing cells do not count."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "left"
    if pd.api.types.is_numeric_dtype(series):
        return "right"
    kinds = {_is_number(v) for v in series.dropna() if v not in (MISSING, "–", "")}
    return None if len(kinds) > 1 else ("right" if kinds == {True} else "left")


def _align_cell(value: object) -> str:
    return f"text-align: {'right' if _is_number(value) else 'left'}"


def tidy(df: pd.DataFrame, decimals: Mapping[str, int] | None = None) -> Styler:
    """A table as a shared page shows it: no index column (a named index becomes a column),
    thousands separators, 2 decimals (or ``decimals[column]``), ``—`` for missing values;
    numbers aligned right, text left (a column of both: each cell by its value), headers
    like their column."""
    frame = df.reset_index() if any(df.index.names) else df.reset_index(drop=True)
    decimals = dict(decimals or {})
    formats: dict[Any, str | Callable[[object], str] | None] = {
        col: _formatter(frame[col], decimals.get(str(col), 2)) for col in frame.columns}
    styler = frame.style.format(formats, na_rep=MISSING).hide(axis="index")
    sides = {str(col): _side(frame[col]) for col in frame.columns}
    for col in frame.columns:
        subset, side = (slice(None), [col]), sides[str(col)]
        if side is None:
            styler = styler.map(_align_cell, subset=subset)
        else:
            styler = styler.set_properties(subset=subset, **{"text-align": side})
    return styler.map_index(lambda col: f"text-align: {sides.get(str(col)) or 'left'}",
                            axis="columns")
