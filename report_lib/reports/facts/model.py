"""The ``Facts`` record every report is written from, and its JSON form.

Values are plain JSON types, rounded (shares and percentages to 2 decimals, HHI to 1);
``Facts.to_json`` is what the prompt carries and what the offline writer, the emulator and the
fact checker read back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from report_lib.errors import DataError


@dataclass(eq=False)
class Facts:
    """Everything one report may say: JSON-able ``values`` and small ``tables``."""

    kind: str  # kpi | cpo | trend
    target_month: str  # YYYY-MM
    focus_cpo: str | None
    window_months: int
    values: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON: tables as {"columns": [...], "rows": [[...], ...]}, NaN/NA as null."""
        payload = {
            "kind": self.kind,
            "target_month": self.target_month,
            "focus_cpo": self.focus_cpo,
            "window_months": int(self.window_months),
            "values": jsonable(self.values),
            "tables": {name: _table_to_dict(t) for name, t in self.tables.items()},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Facts:
        """Inverse of ``to_json``; DataError (a ValueError) when it is not a Facts document."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise DataError("facts JSON must be an object; pass the text of Facts.to_json()")
        missing = {"kind", "target_month", "window_months", "values"} - set(data)
        if missing:
            raise DataError(
                f"facts JSON lacks keys: {', '.join(sorted(missing))}; "
                "pass the text of Facts.to_json()"
            )
        tables = data.get("tables") or {}
        return cls(
            kind=str(data["kind"]),
            target_month=str(data["target_month"]),
            focus_cpo=data.get("focus_cpo"),
            window_months=int(data["window_months"]),
            values=dict(data["values"]),
            tables={name: _table_from_dict(t) for name, t in tables.items()},
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facts) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


def jsonable(value: Any) -> Any:
    """Plain Python JSON types: numpy scalars unwrapped, NaN/NA/NaT → None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, str):
        return value
    return None if pd.isna(value) else str(value)


def _table_to_dict(table: pd.DataFrame) -> dict[str, Any]:
    rows = [[jsonable(v) for v in row] for row in table.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in table.columns], "rows": rows}


def _column_dtype(values: list[Any]) -> str | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return "boolean" if len(present) < len(values) else "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "Int64" if len(present) < len(values) else "int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float64"
    return None


def _table_from_dict(data: dict[str, Any]) -> pd.DataFrame:
    columns = [str(c) for c in data["columns"]]
    rows = data["rows"]
    series = {}
    for i, name in enumerate(columns):
        values = [row[i] for row in rows]
        dtype = _column_dtype(values)
        series[name] = pd.Series(values, dtype=dtype if dtype else object)
    return pd.DataFrame(series, columns=columns)
