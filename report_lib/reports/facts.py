"""The facts every report is written from, computed with pandas from the canonical table.

``compute_facts(df, kind)`` turns the canonical table (docs/ARCHITECTURE.md) into a ``Facts``
record for one report kind (DESIGN §1): ``kpi`` snapshot, ``cpo`` ranking/positioning and
``trend`` over the last months. Values are plain JSON types, rounded (shares and percentages to
2 decimals, HHI to 1); ``Facts.to_json`` is what the prompt carries and what the offline writer
and the emulator read back.

Conventions: shares are percent of the month's national chargers (0–100); ``*_pp`` are
percentage-point changes, taken between the rounded values shown so a reader's arithmetic
agrees (likewise ``hhi_change``); ``rank_change`` is positive when an operator moved up
(previous rank − current rank); month-over-month compares with the calendar previous month,
None when that month is not in the data.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from report_lib import config
from report_lib.errors import DataError

REQUIRED_COLUMNS: tuple[str, ...] = (
    "month", "cpo", "rank", "stations", "slow_chargers", "fast_chargers", "total_chargers",
)
COUNT_COLUMNS: tuple[str, ...] = ("stations", "slow_chargers", "fast_chargers", "total_chargers")
NATIONAL_KEYS: tuple[str, ...] = ("operators", *COUNT_COLUMNS)
KPI_TOP, CPO_TOP, TREND_TOP = 10, 15, 5
PEERS_EACH_SIDE = 2
SMALL_SHARE_PCT = 1.0
HHI_MODERATE, HHI_HIGH = 1500.0, 2500.0


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
            "values": _jsonable(self.values),
            "tables": {name: _table_to_dict(t) for name, t in self.tables.items()},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Facts:
        """Inverse of ``to_json``; raises ValueError when the text is not a Facts document."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("facts JSON must be an object")
        missing = {"kind", "target_month", "window_months", "values"} - set(data)
        if missing:
            raise ValueError(f"facts JSON lacks keys: {', '.join(sorted(missing))}")
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


# ---------------------------------------------------------------- JSON helpers
def _jsonable(value: Any) -> Any:
    """Plain Python JSON types: numpy scalars unwrapped, NaN/NA/NaT → None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
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
    rows = [[_jsonable(v) for v in row] for row in table.itertuples(index=False, name=None)]
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


# ---------------------------------------------------------------- resolving inputs
def _describe_months(months: Iterable[str]) -> str:
    months = sorted(months)
    if not months:
        return "no month"
    if len(months) <= 6:
        return ", ".join(months)
    return f"{months[0]}..{months[-1]} ({len(months)} months)"


def _shift(month: str, n: int) -> str:
    return str(pd.Period(month, freq="M") + n)


def _months(df: pd.DataFrame) -> list[str]:
    if "month" not in df.columns:
        raise DataError("the table has no 'month' column; pass the canonical table", column="month")
    return sorted(df["month"].dropna().astype(str).unique())


def resolve_month(df: pd.DataFrame, month: str = "latest") -> str:
    """"latest" → the last month in the data; "YYYY-MM" (or YYYYMM, YYYY.MM) must be present."""
    months = _months(df)
    if not months:
        raise DataError("the table has no rows; load the data first", column="month")
    key = str(month).strip() if month is not None else "latest"
    if key.lower() in ("", "latest"):
        return months[-1]
    match = re.fullmatch(r"(\d{4})[-./]?(\d{1,2})", key)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise DataError(
            f"month '{month}' is not 'latest' or YYYY-MM; the data covers "
            f"{_describe_months(months)}",
            column="month", value=month,
        )
    key = f"{match.group(1)}-{int(match.group(2)):02d}"
    if key not in months:
        raise DataError(
            f"month '{key}' is not in the data; available: {_describe_months(months)}. "
            "Pass one of these months or 'latest'.",
            column="month", value=month,
        )
    return key


def _squash(name: str) -> str:
    return "".join(name.split()).casefold()


def resolve_cpo(df: pd.DataFrame, name: str | None) -> str | None:
    """Exact operator name, else the one case/space-insensitive match; None (or "") → None."""
    if name is None or not str(name).strip():
        return None
    key = str(name).strip()
    names = sorted(df["cpo"].dropna().astype(str).unique()) if "cpo" in df.columns else []
    if key in names:
        return key
    matches = [n for n in names if _squash(n) == _squash(key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DataError(
            f"focus operator '{key}' matches several operators ({', '.join(matches)}); "
            "pass the exact name",
            column="cpo", value=name,
        )
    squashed: dict[str, str] = {}
    for n in names:
        squashed.setdefault(_squash(n), n)
    close = difflib.get_close_matches(_squash(key), list(squashed), n=3, cutoff=0.6)
    hints = [squashed[c] for c in close] or [
        n for n in names if _squash(key) in _squash(n) or _squash(n) in _squash(key)
    ][:3]
    if hints:
        message = f"unknown focus operator '{key}' — did you mean: {', '.join(hints)}?"
    else:
        message = (
            f"unknown focus operator '{key}'; the data has {len(names)} operators "
            f"(e.g. {', '.join(names[:5])}). Pass a name exactly as in the 'cpo' column."
        )
    raise DataError(message, column="cpo", value=name)


# ---------------------------------------------------------------- preparation
def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Typed copy sorted by month and rank, with ranks filled and exact shares (``share_x``)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"the table lacks column(s) {', '.join(missing)}; pass the canonical table "
            "of data.load_data (docs/ARCHITECTURE.md)",
            column=missing[0],
        )
    keep = [*REQUIRED_COLUMNS, *(["rank_change"] if "rank_change" in df.columns else [])]
    out = df.loc[df["month"].notna() & df["cpo"].notna(), keep].copy()
    out["month"] = out["month"].astype(str)
    out["cpo"] = out["cpo"].astype(str).str.strip()
    dup = out.duplicated(["month", "cpo"])
    if dup.any():
        first = out[dup].iloc[0]
        raise DataError(
            f"operator '{first['cpo']}' appears twice in {first['month']}; "
            "keep one row per (month, cpo)",
            column="cpo", value=first["cpo"],
        )
    for col in COUNT_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="coerce").fillna(0).astype("int64")
    computed = out.groupby("month")["total_chargers"].rank(method="min", ascending=False)
    given = pd.to_numeric(out["rank"], errors="coerce")
    incomplete = given.isna().groupby(out["month"]).transform("any")
    out["rank"] = given.where(~incomplete, computed).astype("int64")
    month_total = out.groupby("month")["total_chargers"].transform("sum")
    out["share_x"] = (out["total_chargers"] / month_total.where(month_total > 0)) * 100
    return out.sort_values(
        ["month", "rank", "total_chargers", "cpo"], ascending=[True, True, False, True],
        ignore_index=True,
    )


def _r(value: Any, digits: int = 2) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), digits)


def _diff(a: Any, b: Any, digits: int = 2) -> float | None:
    """Difference of the two values as shown (rounded first), so a reader's arithmetic agrees."""
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return None
    return _r(round(float(a), digits) - round(float(b), digits), digits)


def _pct(num: Any, den: Any) -> float | None:
    return None if den is None or pd.isna(den) or den == 0 or pd.isna(num) else num / den * 100


def _change(cur: Any, prev: Any) -> dict[str, Any] | None:
    if prev is None or pd.isna(prev) or cur is None or pd.isna(cur):
        return None
    return {"abs": _jsonable(cur - prev), "pct": _r(_pct(cur - prev, prev))}


def _hhi_level(hhi: float | None) -> str | None:
    if hhi is None:
        return None
    if hhi < HHI_MODERATE:
        return "unconcentrated"
    return "moderately concentrated" if hhi <= HHI_HIGH else "highly concentrated"


def _national(rows: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"operators": len(rows)}
    out.update({c: int(rows[c].sum()) for c in COUNT_COLUMNS})
    out["slow_ratio_pct"] = _r(_pct(out["slow_chargers"], out["total_chargers"]))
    out["fast_ratio_pct"] = _r(_pct(out["fast_chargers"], out["total_chargers"]))
    return out


def _top_share(rows: pd.DataFrame, n: int) -> float | None:
    return _r(rows["share_x"].head(n).sum()) if len(rows) else None


def _hhi(rows: pd.DataFrame) -> float | None:
    return _r((rows["share_x"] ** 2).sum(), 1) if len(rows) else None


@dataclass
class _Context:
    """Prepared table and the resolved month/operator shared by every kind."""

    frame: pd.DataFrame
    target: str
    prev: str | None
    focus: str | None
    window: int

    @classmethod
    def build(
        cls, df: pd.DataFrame, month: str, focus_cpo: str | None, window: int
    ) -> _Context:
        if int(window) < 1:
            raise ValueError(f"window must be at least 1 month, got {window}")
        frame = _prepare(df)
        target = resolve_month(frame, month)
        focus = resolve_cpo(frame, focus_cpo)
        prev = _shift(target, -1)
        ctx = cls(frame, target, prev if (frame["month"] == prev).any() else None, focus,
                  int(window))
        if focus is not None and not (ctx.rows()["cpo"] == focus).any():
            seen = frame.loc[frame["cpo"] == focus, "month"].unique()
            raise DataError(
                f"focus operator '{focus}' has no row in {target}; it appears in "
                f"{_describe_months(seen)}. Pick one of those months or another operator.",
                column="cpo", value=focus,
            )
        return ctx

    def rows(self, month: str | None = None) -> pd.DataFrame:
        month = month or self.target
        return self.frame[self.frame["month"] == month].reset_index(drop=True)

    def ranked_rows(self) -> pd.DataFrame:
        """Target rows with share, rank change (vs the previous month, else as reported)."""
        rows = self.rows()
        if self.prev is not None:
            prev_rank = rows["cpo"].map(self.rows(self.prev).set_index("cpo")["rank"])
            rows["rank_change"] = (prev_rank - rows["rank"]).astype("Int64")
        elif "rank_change" in rows.columns:
            rows["rank_change"] = pd.to_numeric(rows["rank_change"], errors="coerce").astype(
                "Int64"
            )
        else:
            rows["rank_change"] = pd.array([pd.NA] * len(rows), dtype="Int64")
        rows["share"] = rows["share_x"].round(2)
        return rows

    def facts(self, kind: str, values: dict[str, Any], tables: dict[str, pd.DataFrame],
              window_months: int = 1) -> Facts:
        if self.focus is None:
            values["focus"] = None
            values["focus_note"] = "no focus operator selected; focus sections omitted"
        return Facts(kind, self.target, self.focus, window_months, _jsonable(values), tables)


# ---------------------------------------------------------------- kpi
def _kpi(ctx: _Context) -> Facts:
    rows = ctx.ranked_rows()
    prev_rows = ctx.rows(ctx.prev) if ctx.prev else None
    national = _national(rows)
    prev_nat = _national(prev_rows) if prev_rows is not None else None
    hhi = _hhi(rows)
    hhi_prev = _hhi(prev_rows) if prev_rows is not None else None
    values: dict[str, Any] = {
        "previous_month": ctx.prev,
        "national": national,
        "national_mom": (
            {k: _change(national[k], prev_nat[k]) for k in NATIONAL_KEYS} if prev_nat else None
        ),
        "fast_ratio_change_pp": _diff(national["fast_ratio_pct"],
                                      prev_nat["fast_ratio_pct"] if prev_nat else None),
        "concentration": {
            "top3_share": _top_share(rows, 3),
            "top5_share": _top_share(rows, 5),
            "top10_share": _top_share(rows, 10),
            "hhi": hhi,
            "hhi_prev": hhi_prev,
            "hhi_change": _diff(hhi, hhi_prev, 1),
            "hhi_level": _hhi_level(hhi),
        },
    }
    if ctx.focus is not None:
        me = rows[rows["cpo"] == ctx.focus].iloc[0]
        before = prev_rows[prev_rows["cpo"] == ctx.focus] if prev_rows is not None else None
        was = before.iloc[0] if before is not None and len(before) else None
        if was is not None:
            total_change = int(me["total_chargers"] - was["total_chargers"])
            prev_total = was["total_chargers"]
        else:
            total_change = None
            prev_total = None
        values["focus"] = {
            "cpo": ctx.focus,
            "rank": int(me["rank"]),
            "rank_prev": None if was is None else int(was["rank"]),
            "rank_change": me["rank_change"],
            "total_chargers": int(me["total_chargers"]),
            "slow_chargers": int(me["slow_chargers"]),
            "fast_chargers": int(me["fast_chargers"]),
            "stations": int(me["stations"]),
            "share": _r(me["share_x"]),
            "share_prev": None if was is None else _r(was["share_x"]),
            "share_change_pp": None if was is None else _diff(me["share_x"], was["share_x"]),
            "total_change": total_change,
            "total_change_pct": _r(_pct(total_change, prev_total)) if was is not None else None,
        }
    top = rows.head(KPI_TOP)[["rank", "cpo", "total_chargers", "fast_chargers", "stations",
                              "share"]].reset_index(drop=True)
    return ctx.facts("kpi", values, {"top10": top})


# ---------------------------------------------------------------- cpo
def _per_station(rows: pd.DataFrame) -> pd.Series:
    return (rows["total_chargers"] / rows["stations"].where(rows["stations"] > 0)).round(2)


def _mover(top: pd.DataFrame, up: bool) -> dict[str, Any] | None:
    moved = top[top["rank_change"].notna()]
    moved = moved[moved["rank_change"] > 0] if up else moved[moved["rank_change"] < 0]
    if moved.empty:
        return None
    best = moved.loc[moved["rank_change"].astype("int64").abs().idxmax()]
    return {"cpo": best["cpo"], "rank": int(best["rank"]), "rank_change": int(best["rank_change"])}


def _cpo(ctx: _Context) -> Facts:
    rows = ctx.ranked_rows()
    total = rows["total_chargers"]
    rows["chargers_per_station"] = _per_station(rows)
    rows["ac_pct"] = (rows["slow_chargers"] / total.where(total > 0) * 100).round(2)
    rows["dc_pct"] = (rows["fast_chargers"] / total.where(total > 0) * 100).round(2)
    top = rows.head(CPO_TOP)
    tail = rows.iloc[CPO_TOP:]
    small = rows[rows["share_x"] < SMALL_SHARE_PCT]
    nat = _national(rows)
    values: dict[str, Any] = {
        "previous_month": ctx.prev,
        "market": {
            "operators": nat["operators"],
            "total_chargers": nat["total_chargers"],
            "stations": nat["stations"],
            "chargers_per_station": (
                _r(nat["total_chargers"] / nat["stations"]) if nat["stations"] else None
            ),
            "fast_pct": nat["fast_ratio_pct"],
            "top15_share": _top_share(rows, CPO_TOP),
        },
        "long_tail": {
            "operators": len(tail),
            "chargers": int(tail["total_chargers"].sum()),
            "share": _r(tail["share_x"].sum()),
        },
        "small_operators": {
            "threshold_pct": SMALL_SHARE_PCT,
            "operators": len(small),
            "chargers": int(small["total_chargers"].sum()),
            "share": _r(small["share_x"].sum()),
        },
        "movers": {"up": _mover(top, up=True), "down": _mover(top, up=False)},
    }
    tables = {
        "top15": top[["rank", "cpo", "total_chargers", "stations", "chargers_per_station",
                      "ac_pct", "dc_pct", "share", "rank_change"]].reset_index(drop=True),
    }
    if ctx.focus is not None:
        pos = int(rows.index[rows["cpo"] == ctx.focus][0])
        peers = rows.iloc[max(0, pos - PEERS_EACH_SIDE): pos + PEERS_EACH_SIDE + 1].copy()
        peers["is_focus"] = peers["cpo"] == ctx.focus
        peers = peers.rename(columns={"dc_pct": "fast_pct"})[
            ["rank", "cpo", "total_chargers", "stations", "chargers_per_station", "fast_pct",
             "share", "is_focus"]
        ].reset_index(drop=True)
        others = peers[~peers["is_focus"]]
        me = rows.iloc[pos]
        values["focus"] = {
            "cpo": ctx.focus,
            "rank": int(me["rank"]),
            "rank_change": me["rank_change"],
            "in_top15": pos < CPO_TOP,
            "total_chargers": int(me["total_chargers"]),
            "stations": int(me["stations"]),
            "chargers_per_station": _r(me["chargers_per_station"]),
            "fast_pct": _r(me["dc_pct"]),
            "share": _r(me["share_x"]),
            "peers": len(others),
            "peer_median_chargers_per_station": _r(others["chargers_per_station"].median()),
            "peer_median_stations": _r(others["stations"].median(), 1),
            "peer_median_fast_pct": _r(others["fast_pct"].median()),
        }
        tables["peers"] = peers
    return ctx.facts("cpo", values, tables)


# ---------------------------------------------------------------- trend
def _mom(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Change and % change vs the calendar previous month (NA when that month is missing)."""
    prev = series.reindex([_shift(m, -1) for m in series.index]).to_numpy()
    change = series - prev
    pct = (change / pd.Series(prev, index=series.index).where(lambda s: s != 0) * 100).round(2)
    return change, pct


_MARKET_CHANGES = ("growth_abs", "growth_pct", "avg_monthly_change", "stations_growth_pct",
                   "slow_growth_pct", "fast_growth_pct", "fast_pct_change_pp",
                   "top5_share_change_pp")
_FOCUS_CHANGES = ("growth_abs", "growth_pct", "market_growth_pct", "vs_market_pp",
                  "share_change_pp")


def _trend(ctx: _Context) -> Facts:
    frame = ctx.frame[ctx.frame["month"] <= ctx.target]
    start = _shift(ctx.target, -(ctx.window - 1))
    nat = frame.groupby("month").agg(
        operators=("cpo", "size"), **{c: (c, "sum") for c in COUNT_COLUMNS}
    )
    nat["total_change"], nat["total_change_pct"] = _mom(nat["total_chargers"])
    denom = nat["total_chargers"].where(nat["total_chargers"] > 0)
    nat["slow_pct"] = (nat["slow_chargers"] / denom * 100).round(2)
    nat["fast_pct"] = (nat["fast_chargers"] / denom * 100).round(2)
    top5 = frame.groupby("month").head(TREND_TOP).groupby("month")["share_x"].sum()
    nat["top5_share"] = top5.round(2)
    win = nat[nat.index >= start].copy()
    win["total_change"] = win["total_change"].astype("Int64")
    months = list(win.index)
    first, last = win.iloc[0], win.iloc[-1]
    span = len(months) - 1
    growth = int(last["total_chargers"] - first["total_chargers"])
    values: dict[str, Any] = {
        "months": {"first": months[0], "last": months[-1], "count": len(months),
                   "requested": ctx.window},
        "market": {
            "total_first": int(first["total_chargers"]),
            "total_last": int(last["total_chargers"]),
            "growth_abs": growth,
            "growth_pct": _r(_pct(growth, first["total_chargers"])),
            "avg_monthly_change": _r(growth / span, 1) if span else None,
            "stations_growth_pct": _r(_pct(last["stations"] - first["stations"],
                                           first["stations"])),
            "slow_growth_pct": _r(_pct(last["slow_chargers"] - first["slow_chargers"],
                                       first["slow_chargers"])),
            "fast_growth_pct": _r(_pct(last["fast_chargers"] - first["fast_chargers"],
                                       first["fast_chargers"])),
            "fast_pct_first": _r(first["fast_pct"]),
            "fast_pct_last": _r(last["fast_pct"]),
            "fast_pct_change_pp": _diff(last["fast_pct"], first["fast_pct"]),
            "top5_share_first": _r(first["top5_share"]),
            "top5_share_last": _r(last["top5_share"]),
            "top5_share_change_pp": _diff(last["top5_share"], first["top5_share"]),
        },
    }
    if not span:  # one month: nothing to grow from
        values["market"].update(dict.fromkeys(_MARKET_CHANGES))
    national = win.reset_index()[[
        "month", "operators", "stations", "slow_chargers", "fast_chargers", "total_chargers",
        "total_change", "total_change_pct", "slow_pct", "fast_pct", "top5_share",
    ]]
    tables = {"national": national}
    if ctx.focus is not None:
        own = frame[frame["cpo"] == ctx.focus].set_index("month")
        own_change, own_pct = _mom(own["total_chargers"])
        series = pd.DataFrame({
            "total_chargers": own["total_chargers"],
            "fast_chargers": own["fast_chargers"],
            "share": own["share_x"].round(2),
            "rank": own["rank"],
            "total_change": own_change,
            "total_change_pct": own_pct,
        }).reindex(months)
        series["market_change_pct"] = win["total_change_pct"]
        for col in ("total_chargers", "fast_chargers", "rank", "total_change"):
            series[col] = series[col].astype("Int64")
        present = series[series["total_chargers"].notna()]
        since = present.index[0]
        f0, f1 = present.iloc[0], present.iloc[-1]
        m0 = win.loc[since, "total_chargers"]
        focus_growth = _pct(f1["total_chargers"] - f0["total_chargers"], f0["total_chargers"])
        market_growth = _pct(last["total_chargers"] - m0, m0)
        compared = series.dropna(subset=["total_change_pct", "market_change_pct"])
        values["focus"] = {
            "cpo": ctx.focus,
            "since": since,
            "months_present": len(present),
            "total_first": int(f0["total_chargers"]),
            "total_last": int(f1["total_chargers"]),
            "growth_abs": int(f1["total_chargers"] - f0["total_chargers"]),
            "growth_pct": _r(focus_growth),
            "market_growth_pct": _r(market_growth),
            "vs_market_pp": _diff(focus_growth, market_growth),
            "share_first": _r(f0["share"]),
            "share_last": _r(f1["share"]),
            "share_change_pp": _diff(f1["share"], f0["share"]),
            "rank_first": int(f0["rank"]),
            "rank_last": int(f1["rank"]),
            "months_compared": len(compared),
            "months_beating_market": int(
                (compared["total_change_pct"] > compared["market_change_pct"]).sum()
            ),
        }
        if len(present) == 1:
            values["focus"].update(dict.fromkeys(_FOCUS_CHANGES))
        tables["focus"] = series.rename_axis("month").reset_index()
    return ctx.facts("trend", values, tables, window_months=len(months))


# ---------------------------------------------------------------- public API
_KINDS = {"kpi": _kpi, "cpo": _cpo, "trend": _trend}


def _check_kinds(kinds: Iterable[str]) -> list[str]:
    kinds = list(kinds)
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(
                f"unknown report kind {kind!r}; valid kinds: {', '.join(config.REPORT_KINDS)}"
            )
    return kinds


def compute_facts(
    df: pd.DataFrame,
    kind: str,
    *,
    month: str = "latest",
    focus_cpo: str | None = None,
    window: int = config.DEFAULT_WINDOW_MONTHS,
) -> Facts:
    """Facts for one report kind (``kpi``, ``cpo`` or ``trend``) in the target month."""
    _check_kinds([kind])
    return _KINDS[kind](_Context.build(df, month, focus_cpo, window))


def compute_all_facts(
    df: pd.DataFrame,
    *,
    month: str = "latest",
    focus_cpo: str | None = None,
    window: int = config.DEFAULT_WINDOW_MONTHS,
    kinds: Iterable[str] = config.REPORT_KINDS,
) -> dict[str, Facts]:
    """Facts for several kinds at once, preparing the table a single time."""
    kinds = _check_kinds(kinds)
    ctx = _Context.build(df, month, focus_cpo, window)
    return {kind: _KINDS[kind](ctx) for kind in kinds}
