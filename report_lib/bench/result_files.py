"""The files of a benchmark run: results.csv, timelines.json, metadata.json.

``DEFAULT_DIR`` (outputs/benchmark) is the one default folder of ``report-lib bench``, the
benchmark notebook, ``make bench`` and the comparison notebook.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from report_lib import config
from report_lib.bench.metrics import COLUMNS

DEFAULT_DIR = config.BENCHMARK_DIR
PACKAGES = ("report-lib", "boto3", "botocore", "aiobotocore", "aioboto3", "aiohttp", "urllib3",
            "dask", "distributed", "pandas", "psutil", "tqdm")
TEXT_COLUMNS = ("variant", "start_method", "quota_minute", "accounting", "client")


def output_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """(results csv, timelines json, metadata json) for a folder or a ``.csv`` path."""
    out = Path(out)
    if out.suffix.lower() == ".csv":
        csv, stem = out, out.stem
        prefix = "" if stem == "results" else f"{stem}_"
        return (csv, out.with_name(f"{prefix}timelines.json"),
                out.with_name(f"{prefix}metadata.json"))
    return out / "results.csv", out / "timelines.json", out / "metadata.json"


def machine_info() -> dict[str, Any]:
    """CPU count, load, platform, Python and package versions: what a reader needs to judge."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": config.package_versions(PACKAGES),
    }


def save_results(out: str | Path, rows: list[dict[str, Any]], timelines: list[dict[str, Any]],
                 metadata: Mapping[str, Any]) -> pd.DataFrame:
    """Write the three files; return the rows as a DataFrame in ``COLUMNS`` order."""
    csv_path, timelines_path, metadata_path = output_paths(out)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(csv_path, index=False)
    timelines_path.write_text(json.dumps(timelines, ensure_ascii=False) + "\n", encoding="utf-8")
    metadata_path.write_text(json.dumps(dict(metadata), ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
    return df


def text_column(values: pd.Series) -> pd.Series:
    """A label column as plain strings, empty for missing (CSV reads an empty column as NaN)."""
    return values.astype("string").fillna("").astype(str)


def load_results(out_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """(results, timelines, metadata) written by run_benchmark (folder or ``.csv`` path)."""
    csv_path, timelines_path, metadata_path = output_paths(out_dir)
    df = pd.read_csv(csv_path, keep_default_na=False, na_values=["", "nan", "NaN"])
    for col in TEXT_COLUMNS:
        if col in df:
            df[col] = text_column(df[col])
    timelines = json.loads(timelines_path.read_text(encoding="utf-8"))
    meta = json.loads(metadata_path.read_text(encoding="utf-8"))
    return df, timelines, meta
