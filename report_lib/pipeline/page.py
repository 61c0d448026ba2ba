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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

PAGE_MIME = "application/vnd.report-lib.page+json"

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
