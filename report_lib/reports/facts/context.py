"""What every report kind shares: the resolved month and operator, the prepared table, helpers.

Conventions: shares are percent of the month's national chargers (0–100); ``*_pp`` are
percentage-point changes, taken between the rounded values shown so a reader's arithmetic
agrees (likewise ``hhi_change``); ``rank_change`` is positive when an operator moved up
(previous rank − current rank); month-over-month compares with the calendar previous month,
None when that month is not in the data.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from report_lib.data.schema import COUNT_COLUMNS
from report_lib.errors import ConfigError, DataError
from report_lib.reports.facts.model import Facts, jsonable

REQUIRED_COLUMNS: tuple[str, ...] = ("month", "cpo", "rank", *COUNT_COLUMNS)
NATIONAL_KEYS: tuple[str, ...] = ("operators", *COUNT_COLUMNS)
HHI_MODERATE, HHI_HIGH = 1500.0, 2500.0


# ---------------------------------------------------------------- resolving inputs
def describe_months(months: Iterable[str]) -> str:
    months = sorted(months)
    if not months:
        return "no month"
    if len(months) <= 6:
        return ", ".join(months)
    return f"{months[0]}..{months[-1]} ({len(months)} months)"


def shift(month: str, n: int) -> str:
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
            f"{describe_months(months)}",
            column="month", value=month,
        )
    key = f"{match.group(1)}-{int(match.group(2)):02d}"
    if key not in months:
        raise DataError(
            f"month '{key}' is not in the data; available: {describe_months(months)}. "
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


def rnd(value: Any, digits: int = 2) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), digits)


def diff(a: Any, b: Any, digits: int = 2) -> float | None:
    """Difference of the two values as shown (rounded first), so a reader's arithmetic agrees."""
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return None
    return rnd(round(float(a), digits) - round(float(b), digits), digits)


def pct_of(num: Any, den: Any) -> float | None:
    return None if den is None or pd.isna(den) or den == 0 or pd.isna(num) else num / den * 100


def change(cur: Any, prev: Any) -> dict[str, Any] | None:
    if prev is None or pd.isna(prev) or cur is None or pd.isna(cur):
        return None
    return {"abs": jsonable(cur - prev), "pct": rnd(pct_of(cur - prev, prev))}


def hhi_level(value: float | None) -> str | None:
    if value is None:
        return None
    if value < HHI_MODERATE:
        return "unconcentrated"
    return "moderately concentrated" if value <= HHI_HIGH else "highly concentrated"


def national(rows: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"operators": len(rows)}
    out.update({c: int(rows[c].sum()) for c in COUNT_COLUMNS})
    out["slow_ratio_pct"] = rnd(pct_of(out["slow_chargers"], out["total_chargers"]))
    out["fast_ratio_pct"] = rnd(pct_of(out["fast_chargers"], out["total_chargers"]))
    return out


def top_share(rows: pd.DataFrame, n: int) -> float | None:
    return rnd(rows["share_x"].head(n).sum()) if len(rows) else None


def hhi(rows: pd.DataFrame) -> float | None:
    return rnd((rows["share_x"] ** 2).sum(), 1) if len(rows) else None


@dataclass
class Context:
    """Prepared table and the resolved month/operator shared by every kind."""

    frame: pd.DataFrame
    target: str
    prev: str | None
    focus: str | None
    window: int
    # month-level tables, shared by the copies made for other operators (facts.iter_facts)
    cache: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    def cached(self, name: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A copy of the month's table ``name``, computed once per target month."""
        key = (name, self.target)
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key].copy()

    @classmethod
    def build(
        cls, df: pd.DataFrame, month: str, focus_cpo: str | None, window: int
    ) -> Context:
        if int(window) < 1:
            raise ConfigError(
                f"window must be at least 1 month, got {window}; pass --window 1 or more"
            )
        frame = _prepare(df)
        target = resolve_month(frame, month)
        focus = resolve_cpo(frame, focus_cpo)
        prev = shift(target, -1)
        ctx = cls(frame, target, prev if (frame["month"] == prev).any() else None, focus,
                  int(window))
        if focus is not None and not (ctx.rows()["cpo"] == focus).any():
            seen = frame.loc[frame["cpo"] == focus, "month"].unique()
            raise DataError(
                f"focus operator '{focus}' has no row in {target}; it appears in "
                f"{describe_months(seen)}. Pick one of those months or another operator.",
                column="cpo", value=focus,
            )
        return ctx

    def rows(self, month: str | None = None) -> pd.DataFrame:
        month = month or self.target
        return self.cached(f"rows {month}", lambda: self.frame[
            self.frame["month"] == month].reset_index(drop=True))

    def ranked_rows(self) -> pd.DataFrame:
        """Target rows with share, rank change (vs the previous month, else as reported)."""
        return self.cached("ranked", self._ranked_rows)

    def _ranked_rows(self) -> pd.DataFrame:
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
        return Facts(kind, self.target, self.focus, window_months, jsonable(values), tables)


