"""Synthetic CPO statistics shaped like the published ones, written out in the ministry layout.

The anchor month (2025-11 when it is in the window, else the last month) carries the published
figures: GS차지비 73,912 chargers (1,558 fast, 13,228 stations), +622 chargers and 16.1 % share
(−0.1 %p) month over month, a national total of about 459,000 chargers.
"""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from report_lib.data.loader import to_canonical
from report_lib.data.schema import (
    CHANGE_SOURCES,
    COUNT_COLUMNS,
    NOTES_HEADER,
    SUMMARY_CAPTION,
    SUMMARY_CHANGE_LABEL,
    SUMMARY_HEADER,
    SUMMARY_TOTAL_LABEL,
    WORKBOOK_COLUMNS,
    WORKBOOK_HEADER,
    workbook_name,
)
from report_lib.errors import ConfigError, DataError

ANCHOR_MONTH = "2025-11"
GS_NAME = "GS차지비"
GS_TOTAL, GS_FAST, GS_STATIONS, GS_CHANGE = 73_912, 1_558, 13_228, 622
GS_SHARE, GS_PREVIOUS_SHARE = 16.1, 16.2
NATIONAL_TOTAL = round(GS_TOTAL / GS_SHARE * 100)  # 459,081 → GS share 16.09998 %
NATIONAL_PREVIOUS = round((GS_TOTAL - GS_CHANGE) / GS_PREVIOUS_SHARE * 100)  # 452,407 → 16.2 %

# name, share of national chargers in the anchor month (%), fast fraction, chargers per station
NAMED_OPERATORS: tuple[tuple[str, float, float, float], ...] = (
    (GS_NAME, GS_SHARE, GS_FAST / GS_TOTAL, GS_TOTAL / GS_STATIONS),
    ("환경부", 9.5, 0.40, 1.8),
    ("한국전력공사", 6.5, 0.20, 2.0),
    ("에버온", 6.0, 0.05, 4.5),
    ("파워큐브", 5.5, 0.01, 6.0),
    ("SK일렉링크", 5.0, 0.26, 2.5),
    ("대영채비", 4.2, 0.30, 2.2),
    ("차지인", 3.8, 0.04, 5.0),
    ("플러그링크", 3.5, 0.03, 5.5),
    ("이브이시스", 3.2, 0.12, 3.5),
)
MORE_NAMES: tuple[str, ...] = (
    "한국전기차충전서비스", "스타코프", "매니지온", "이지차저", "휴맥스이브이", "타디스테크놀로지",
    "에스트래픽", "제주전기자동차서비스", "나이스차저", "볼트업", "이카플러그", "티비유",
    "레드이엔지", "보타리에너지", "클린일렉스", "에코플레이", "한국자동차환경협회", "소프트베리",
    "지커넥트", "에너지로드", "차지포인트코리아", "씨어스", "이온어스", "블루네트웍스",
)  # fmt: skip

_VALUE_COLUMNS: tuple[str, ...] = WORKBOOK_COLUMNS[1:]  # after the operator name
_SHARE_AT = _VALUE_COLUMNS.index("market_share")


def synthesize(
    months: int = 24, operators: int = 110, seed: int = 0, end_month: str = "2025-11"
) -> pd.DataFrame:
    """Canonical table (with changes), ``months`` × ``operators``; deterministic for a seed."""
    if months < 1 or operators < 1:
        raise ConfigError(f"months and operators must be at least 1 (got {months}, {operators})")
    rng = np.random.default_rng(seed)
    labels = _month_range(end_month, months)
    anchor = labels.index(ANCHOR_MONTH) if ANCHOR_MONTH in labels else months - 1
    names = _operator_names(operators)
    entry = _entry_months(rng, operators, months)
    sizes, fast_frac, per_station = _anchor_profile(rng, operators, newcomers=entry > 0)
    present = np.arange(months)[None, :] >= entry[:, None]
    totals = _series(rng, sizes, present, anchor)

    trend = 1 + 0.005 * (np.arange(months) - anchor)  # fast chargers gain share slowly
    fast = np.rint(totals * np.clip(fast_frac[:, None] * trend[None, :], 0, 0.95)).astype(np.int64)
    stations = np.maximum(1, np.rint(totals / per_station[:, None])).astype(np.int64)
    fast[0, anchor], stations[0, anchor] = GS_FAST, GS_STATIONS

    i, t = np.nonzero(present)
    frame = pd.DataFrame(
        {
            "month": [labels[k] for k in t],
            "cpo": [names[k] for k in i],
            "stations": stations[i, t],
            "slow_chargers": totals[i, t] - fast[i, t],
            "fast_chargers": fast[i, t],
            "total_chargers": totals[i, t],
        }
    )
    return to_canonical(frame)


def write_workbook(
    month_df: pd.DataFrame, path: Path, *, quirks: bool = True, seed: int = 0
) -> Path:
    """Write one month in the ministry layout; ``quirks`` adds the mess real workbooks have.

    The 당월증감량 row is computed from the change columns (an operator with ``<NA>`` changes
    counts as new); it is left blank when every change is ``<NA>``.
    """
    months = month_df["month"].astype(str).unique()
    if len(months) != 1:
        raise DataError(
            f"write_workbook writes one month; got {len(months)} ({', '.join(months[:5])})",
            column="month",
        )
    month = str(months[0])
    frame = month_df.sort_values(["rank", "cpo"], kind="stable")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet["C1"] = f"전기차 충전인프라 현황 ({_snapshot_date(month)} 기준)"
    sheet["K1"] = "(단위: 개)"
    totals = [len(frame), *(int(frame[c].sum()) for c in COUNT_COLUMNS)]
    for row, label, values in (
        (2, SUMMARY_CAPTION, list(SUMMARY_HEADER)),
        (3, SUMMARY_TOTAL_LABEL, totals),
        (4, SUMMARY_CHANGE_LABEL, _national_change(frame)),
    ):
        for k, value in enumerate([label, *values]):
            sheet.cell(row, 11 + k, value)
    rows: list[list[Any]] = [[*WORKBOOK_HEADER, NOTES_HEADER]]
    for record in frame.to_dict("records"):
        cells: list[Any] = [None if pd.isna(record[c]) else record[c] for c in _VALUE_COLUMNS]
        cells[_SHARE_AT] = round(float(record["market_share"]), 1)
        note = "신규" if pd.isna(record["total_change"]) else None
        rows.append([str(record["cpo"]), *[_plain(v) for v in cells], note])
    if quirks:
        rows = [rows[0], *_inject_quirks(rows[1:], frame, np.random.default_rng(seed))]
    for r, values in enumerate(rows, start=5):
        for c, value in enumerate(values, start=4):
            if value is not None:
                sheet.cell(r, c, value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_sample_data(
    out_dir: Path,
    *,
    months: int = 24,
    operators: int = 110,
    seed: int = 0,
    end_month: str = "2025-11",
) -> dict[str, Any]:
    """Write ``workbooks/충전인프라 현황_YYMM.xlsx`` per month and ``cpo_monthly.csv`` in out_dir.

    Earlier ``충전인프라 현황_*.xlsx`` files in ``out_dir/workbooks`` are replaced.
    """
    frame = synthesize(months=months, operators=operators, seed=seed, end_month=end_month)
    out_dir = Path(out_dir)
    workbooks = out_dir / "workbooks"
    workbooks.mkdir(parents=True, exist_ok=True)
    for old in workbooks.glob("충전인프라 현황_*.xlsx"):
        old.unlink()
    for k, (month, part) in enumerate(frame.groupby("month", sort=True)):
        write_workbook(part, workbooks / workbook_name(str(month)), seed=seed * 1000 + k)
    csv_path = out_dir / "cpo_monthly.csv"
    frame.to_csv(csv_path, index=False)
    return {
        "workbooks_dir": workbooks,
        "csv": csv_path,
        "months": int(frame["month"].nunique()),
        "operators": int(frame["cpo"].nunique()),
    }


# --------------------------------------------------------------------------- synthesis


def _month_range(end_month: str, months: int) -> list[str]:
    try:
        end = pd.Period(end_month, freq="M")
    except ValueError as exc:
        raise DataError(
            f"end_month {end_month!r} is not a month; expected YYYY-MM", value=end_month
        ) from exc
    return [str(end - k) for k in range(months - 1, -1, -1)]


def _operator_names(operators: int) -> list[str]:
    named = [n for n, *_ in NAMED_OPERATORS] + list(MORE_NAMES)
    return [named[k] if k < len(named) else f"충전사업자 {k + 1:03d}" for k in range(operators)]


def _anchor_profile(
    rng: np.random.Generator, operators: int, newcomers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor-month chargers (sum = NATIONAL_TOTAL), fast fractions, chargers per station."""
    named = NAMED_OPERATORS[:operators]
    n_tail = operators - len(named)
    big = np.array([share / 100 * NATIONAL_TOTAL for _, share, *_ in named[1:]])
    big *= rng.lognormal(0.0, 0.05, big.size)
    rest = NATIONAL_TOTAL - GS_TOTAL
    tail = _tail(rng, n_tail, 0.8 * big.min() if big.size else rest, rest - big.sum())
    others = np.concatenate([big, tail])
    small = newcomers[1:]
    others[small] = rng.uniform(20.0, 200.0, int(small.sum()))  # newcomers start small
    if others.size:
        others[~small] *= (rest - others[small].sum()) / others[~small].sum()
    sizes = np.concatenate([[float(GS_TOTAL)], others])
    fast = np.concatenate([[f for *_, f, _ in named], rng.beta(2.0, 16.0, n_tail)])
    per_station = np.concatenate(
        [[c for *_, c in named], np.clip(rng.lognormal(np.log(3.0), 0.5, n_tail), 1.0, 12.0)]
    )
    return sizes, fast, per_station


def _tail(rng: np.random.Generator, n: int, start: float, total: float) -> np.ndarray:
    """Geometrically shrinking sizes from ``start`` that add up to about ``total``."""
    if n <= 0:
        return np.zeros(0)
    total = max(total, n)
    low, high = 0.0, 1.0
    if start * n <= total:
        ratio = 1.0
    else:
        for _ in range(60):  # bisection on the ratio r: start * (1 + r + … + r^(n-1)) = total
            ratio = (low + high) / 2
            low, high = (
                (ratio, high) if start * np.sum(ratio ** np.arange(n)) < total else (low, ratio)
            )
    values = start * ratio ** np.arange(n) * rng.lognormal(0.0, 0.15, n)
    values = np.minimum(values * total / values.sum(), 0.97 * start if ratio < 1 else np.inf)
    return np.sort(values)[::-1]


def _entry_months(rng: np.random.Generator, operators: int, months: int) -> np.ndarray:
    """Month index each operator appears; two small operators enter during the window."""
    entry = np.zeros(operators, dtype=np.int64)
    if operators >= len(NAMED_OPERATORS) + 3 and months >= 3:
        newcomers = [operators - 1, operators - 3]
        entry[newcomers] = rng.choice(np.arange(1, months), size=2, replace=False)
    return entry


def _series(
    rng: np.random.Generator, sizes: np.ndarray, present: np.ndarray, anchor: int
) -> np.ndarray:
    """Chargers per operator and month, grown ~1–2 %/month into and out of the anchor month."""
    n, months = present.shape
    market = np.asarray(rng.uniform(0.011, 0.018, months))
    drift = np.asarray(rng.normal(0.0, 0.003, n))
    drift[0] = -0.004  # GS차지비 grows a little slower than the market
    growth = market[None, :] + drift[:, None] + rng.normal(0.0, 0.004, (n, months))
    values = np.zeros((n, months))
    values[:, anchor] = sizes
    for t in range(anchor - 1, -1, -1):
        values[:, t] = values[:, t + 1] / (1 + growth[:, t + 1])
    for t in range(anchor + 1, months):
        values[:, t] = values[:, t - 1] * (1 + growth[:, t])
    totals = np.maximum(1, np.rint(values)).astype(np.int64)
    totals[0, anchor] = GS_TOTAL
    if anchor > 0:
        totals[0, anchor - 1] = GS_TOTAL - GS_CHANGE
    if anchor > 0 and n > 1:
        # rescale earlier months so GS차지비 shows 16.2 % the month before (the market grows faster)
        before = values[1:, anchor - 1][present[1:, anchor - 1]].sum()
        values[1:, :anchor] *= (NATIONAL_PREVIOUS - totals[0, anchor - 1]) / before
        totals[1:, :anchor] = np.maximum(1, np.rint(values[1:, :anchor]))
    for t, target in ((anchor, NATIONAL_TOTAL), (anchor - 1, NATIONAL_PREVIOUS)):
        if t >= 0 and n > 1:
            mask = present[1:, t]
            totals[1:, t][mask] = _round_to_sum(values[1:, t][mask], target - totals[0, t])
    return np.where(present, totals, 0)


def _round_to_sum(values: np.ndarray, target: int) -> np.ndarray:
    """Integers ≥ 1 close to ``values`` that add up to ``target`` (largest remainders)."""
    scaled = values * target / values.sum()
    floor = np.maximum(1, np.floor(scaled)).astype(np.int64)
    short = target - int(floor.sum())
    order = np.argsort(-(scaled - floor), kind="stable")
    if short > 0:
        floor[order[:short]] += 1
    elif short < 0:
        floor[np.argmax(floor)] += short
    return floor


def _snapshot_date(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year % 100:02d}.{mon:02d}.{calendar.monthrange(year, mon)[1]:02d}"


# --------------------------------------------------------------------------- workbook quirks


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _national_change(frame: pd.DataFrame) -> list[int | None]:
    """당월증감량: operators and counts vs the previous month (new operators count in full)."""
    new = frame["total_change"].isna()
    if new.all():
        return [None] * len(SUMMARY_HEADER)
    changes: list[int | None] = [int(new.sum())]
    sources = {source: change for change, source in CHANGE_SOURCES.items()}
    for column in COUNT_COLUMNS:
        change = sources[column]
        changes.append(int(frame[change].fillna(frame[column]).sum()))
    return changes


def _inject_quirks(
    rows: list[list[Any]], frame: pd.DataFrame, rng: np.random.Generator
) -> list[list[Any]]:
    """Blank rows, a repeated header, '-' for zero, '73,912' text, mixed share forms, padding."""
    shares = frame["market_share"].astype(float).to_numpy()
    forms = rng.integers(0, 3, len(rows))
    forms[:3] = rng.permutation(3)[: min(3, len(rows))]
    for k, row in enumerate(rows):
        for c in range(1, len(WORKBOOK_HEADER)):
            value = row[c]
            if c == _SHARE_AT + 1:
                row[c] = [round(shares[k], 1), round(shares[k] / 100, 3), f"{shares[k]:.1f}%"][
                    forms[k]
                ]
            elif value == 0:
                row[c] = "-"
            elif isinstance(value, int) and abs(value) >= 1000 and (k == 0 or rng.random() < 0.35):
                row[c] = f"{value:,}"
    for k in rng.choice(len(rows), size=min(2, len(rows)), replace=False):
        rows[k][0] = f"  {rows[k][0]} "
    out = list(rows)
    at = int(rng.integers(len(out) // 3, 2 * len(out) // 3 + 1))
    out.insert(at, ["CPO", *WORKBOOK_HEADER[1:]])
    for _ in range(2):
        out.insert(
            int(rng.integers(1, len(out))), [None] * (len(WORKBOOK_HEADER) + 1)
        )  # inside the table
    return out


def ensure_sample_data(out_dir: Path | None = None) -> Path:
    """The sample workbooks folder, written with the defaults when it holds no workbook yet."""
    from report_lib import config

    out_dir = Path(out_dir) if out_dir is not None else config.SAMPLE_DIR
    workbooks = out_dir / "workbooks"
    if not any(workbooks.glob("*.xlsx")):
        write_sample_data(out_dir)
    return workbooks
