"""Price per model and the cost of a call, in USD.

On-demand list prices of Anthropic Claude on Amazon Bedrock, USD per 1 million tokens
(check https://aws.amazon.com/bedrock/pricing/ before relying on them; batch, prompt-cache
and long-context (>200k input) rates are not modelled):

| model (id contains)        | input | output |
|----------------------------|------:|-------:|
| claude-opus-4-5, -4-6      |  5.00 |  25.00 |
| claude-opus-4, -4-1        | 15.00 |  75.00 |
| claude-sonnet-4, -4-5      |  3.00 |  15.00 |
| claude-3-7-sonnet          |  3.00 |  15.00 |
| claude-3-5-sonnet          |  3.00 |  15.00 |
| claude-haiku-4-5           |  1.00 |   5.00 |
| claude-3-5-haiku           |  0.80 |   4.00 |
| claude-3-opus              | 15.00 |  75.00 |
| claude-3-sonnet            |  3.00 |  15.00 |
| claude-3-haiku             |  0.25 |   1.25 |

A model id matches the longest table key it contains when what follows the key is not a further
version number: inference-profile prefixes ("global.", "us.", "eu.", "apac."), release dates
("-20250929") and version suffixes ("-v1:0") are ignored, but ``claude-opus-4-7`` is NOT priced
as ``claude-opus-4`` (a newer model never silently gets an older one's price). AWS charges
regional profiles of the 4.5-generation models about 10 % more than "global." ones, which this
table does not model. Overrides, in order of precedence: the ``prices`` argument
(``BackendSettings.prices``), then a JSON or YAML file named by the environment variable
``REPORT_LIB_PRICES`` mapping a model id (or any substring of one) to ``[input, output]`` or
``{"input": ..., "output": ...}`` in USD per 1M tokens. An unknown model has no price: its cost
is ``None`` (shown as unknown) and a ``PriceWarning`` naming the id and how to give a price is
emitted once per id; it never fails a run.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from report_lib.errors import DataError, PriceWarning

PRICES_ENV = "REPORT_LIB_PRICES"


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1 million input and output tokens."""

    input_per_m: float
    output_per_m: float


PRICE_TABLE: dict[str, ModelPrice] = {
    "claude-opus-4-6": ModelPrice(5.0, 25.0),
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-opus-4-1": ModelPrice(15.0, 75.0),
    "claude-opus-4": ModelPrice(15.0, 75.0),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0),
    "claude-sonnet-4": ModelPrice(3.0, 15.0),
    "claude-3-7-sonnet": ModelPrice(3.0, 15.0),
    "claude-3-5-sonnet": ModelPrice(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
    "claude-3-5-haiku": ModelPrice(0.8, 4.0),
    "claude-3-opus": ModelPrice(15.0, 75.0),
    "claude-3-sonnet": ModelPrice(3.0, 15.0),
    "claude-3-haiku": ModelPrice(0.25, 1.25),
}

_warned: set[str] = set()
_file_cache: dict[tuple[str, float], dict[str, ModelPrice]] = {}
_lock = threading.Lock()


def _to_price(key: str, value: Any, source: str) -> ModelPrice:
    try:
        if isinstance(value, ModelPrice):
            return value
        if isinstance(value, Mapping):
            return ModelPrice(float(value["input"]), float(value["output"]))
        inp, out = value
        return ModelPrice(float(inp), float(out))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"price for {key!r} in {source} is {value!r}; give [input, output] or "
            '{"input": x, "output": y} in USD per 1M tokens',
            path=source if source != "settings.prices" else None,
            value=value,
        ) from exc


def _normalize(table: Mapping[str, Any], source: str) -> dict[str, ModelPrice]:
    return {str(k).lower(): _to_price(str(k), v, source) for k, v in table.items()}


def load_price_file(path: str | Path) -> dict[str, ModelPrice]:
    """Read a JSON or YAML price override file (cached by path and modification time)."""
    p = Path(path).expanduser()
    try:
        stamp = p.stat().st_mtime
    except OSError as exc:
        raise DataError(
            f"price file {p} (from ${PRICES_ENV}) cannot be read: {exc}; "
            f"fix the path or unset ${PRICES_ENV}",
            path=str(p),
        ) from exc
    key = (str(p), stamp)
    with _lock:
        if key in _file_cache:
            return _file_cache[key]
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError / yaml.YAMLError
        raise DataError(f"price file {p} is not valid JSON/YAML: {exc}", path=str(p)) from exc
    if not isinstance(data, Mapping):
        raise DataError(
            f"price file {p} must map model ids to [input, output] USD per 1M tokens",
            path=str(p),
        )
    table = _normalize(data, str(p))
    with _lock:
        _file_cache[key] = table
    return table


# After a matching key: a further version number ("-7", "-1") means another model; a release
# date ("-20250929"), a suffix ("-v1:0", ":0") or the end of the id do not.
_NEWER_VERSION = re.compile(r"-\d{1,2}(?!\d)")


def _matches(key: str, model: str) -> bool:
    start = model.find(key)
    while start >= 0:
        if not _NEWER_VERSION.match(model, start + len(key)):
            return True
        start = model.find(key, start + 1)
    return False


def _longest_match(model: str, table: Mapping[str, ModelPrice]) -> ModelPrice | None:
    hits = [k for k in table if k and _matches(k, model)]
    return table[max(hits, key=len)] if hits else None


def lookup_price(model_id: str, prices: Mapping[str, Any] | None = None) -> ModelPrice | None:
    """The price of ``model_id``: overrides first, then $REPORT_LIB_PRICES, then PRICE_TABLE."""
    model = model_id.lower()
    sources: list[Mapping[str, ModelPrice]] = []
    if prices:
        sources.append(_normalize(prices, "settings.prices"))
    env_path = os.environ.get(PRICES_ENV)
    if env_path:
        sources.append(load_price_file(env_path))
    sources.append(PRICE_TABLE)
    for table in sources:
        hit = _longest_match(model, table)
        if hit is not None:
            return hit
    return None


def cost_usd(
    model_id: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, Any] | None = None,
) -> float | None:
    """USD cost of one call; None (cost unknown, and a PriceWarning once per model id) when the
    model has no price."""
    price = lookup_price(model_id, prices)
    if price is None:
        with _lock:
            first = model_id not in _warned
            _warned.add(model_id)
        if first:
            warnings.warn(
                f"no price known for model {model_id!r}: its cost is shown as unknown. Give one "
                f"in a JSON/YAML file named by ${PRICES_ENV}, e.g. {{\"{model_id}\": [3.0, 15.0]}} "
                "(USD per 1M input and output tokens), or in BackendSettings.prices",
                PriceWarning,
                stacklevel=2,
            )
        return None
    return (input_tokens * price.input_per_m + output_tokens * price.output_per_m) / 1_000_000
