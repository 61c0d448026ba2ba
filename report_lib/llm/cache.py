"""Opt-in response cache that can never lose or forge an answer.

Key: SHA-256 of (backend kind, endpoint, the Converse request: model id, messages, system,
inference settings). Streaming or not does not change the answer, so it is not part of the key.
Each entry is one JSON file ``<dir>/<key[:2]>/<key>.json`` holding {text, input_tokens,
output_tokens, stop_reason, created}, written to a temporary file in the same folder and renamed
with os.replace, so readers in other threads or processes see either nothing or a whole entry.

- An empty, unreadable or malformed entry is a miss (the model is asked again).
- ``check_cache_dir`` runs before any call: a path that is a file, or a folder that cannot be
  created, is a ConfigError; a folder that exists but cannot be written is used read-only (hits
  served, new answers not stored) with one CacheWarning.
- A read or write failure during the run (disk full, permissions changed) turns the cache off
  for the rest of the run with one CacheWarning; the answer in hand is still returned.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from report_lib.errors import CacheWarning, ConfigError
from report_lib.records import CallOutcome


def cache_key(backend: str, endpoint: str, request: Mapping[str, Any]) -> str:
    """Hex SHA-256 of what determines the answer: who answers (kind, endpoint) and the request."""
    payload = json.dumps(
        [backend, endpoint, request], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_cache_dir(directory: str | os.PathLike[str]) -> bool:
    """Create ``directory`` if needed; True if writable, False if only readable.

    ConfigError if it is a file, cannot be created, or cannot even be read.
    """
    path = Path(directory).expanduser()
    hint = "pass --cache a folder you can write (it is created if missing) or leave it out"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--cache {path}: this is a file, not a folder; {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--cache {path}: the folder cannot be created ({exc.strerror or exc}); {hint}"
        ) from exc
    if not os.access(path, os.R_OK | os.X_OK):
        raise ConfigError(f"--cache {path}: the folder cannot be read; {hint}")
    return os.access(path, os.W_OK)


def _outcome(data: Any) -> CallOutcome | None:
    """The cached outcome in ``data``, or None if it is not a whole, non-empty answer."""
    if not isinstance(data, dict):
        return None
    text, inp, out = data.get("text"), data.get("input_tokens", 0), data.get("output_tokens", 0)
    stop = data.get("stop_reason")
    if not isinstance(text, str) or not text.strip():
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (inp, out)):
        return None
    if stop is not None and not isinstance(stop, str):
        return None
    return CallOutcome(text=text, input_tokens=inp, output_tokens=out, attempts=0, ttft_s=None,
                       cached=True, stop_reason=stop)


class ResponseCache:
    """A folder of cached responses, safe to share between threads and processes."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory).expanduser()
        self.writable = check_cache_dir(self.dir)
        self.enabled = True
        self._lock = threading.Lock()
        if not self.writable:
            self._warn(f"response cache {self.dir} is not writable: hits are served, new "
                       "answers are not stored")

    def _warn(self, message: str) -> None:
        warnings.warn(message, CacheWarning, stacklevel=3)

    def _turn_off(self, action: str, exc: OSError) -> None:
        with self._lock:
            if not self.enabled:
                return
            self.enabled = False
        self._warn(f"response cache {self.dir}: {action} failed ({exc}); the cache is off for "
                   "the rest of this run, answers are still delivered")

    def path_for(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> CallOutcome | None:
        """The cached outcome (cached=True, attempts=0), or None on a miss."""
        if not self.enabled:
            return None
        try:
            raw = self.path_for(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._turn_off("reading an entry", exc)
            return None
        try:
            return _outcome(json.loads(raw.decode("utf-8")))
        except ValueError:  # not UTF-8 or not JSON: a damaged entry
            return None

    def put(self, key: str, outcome: CallOutcome) -> Path | None:
        """Store ``outcome`` under ``key`` atomically; its path, or None if not stored."""
        if not (self.enabled and self.writable) or not outcome.text.strip():
            return None
        record = {
            "text": outcome.text,
            "input_tokens": outcome.input_tokens,
            "output_tokens": outcome.output_tokens,
            "stop_reason": outcome.stop_reason,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            self._turn_off("storing an answer", exc)
            return None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            self._turn_off("storing an answer", exc)
            return None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("??/*.json"))
