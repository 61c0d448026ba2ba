"""Opt-in response cache: the same model, prompt and inference settings give the stored answer.

The key is the SHA-256 of (model_id, system, prompt, max_tokens, temperature); streaming or not
does not change the answer, so it is not part of the key. Each entry is one JSON file
``<dir>/<key[:2]>/<key>.json`` holding {text, input_tokens, output_tokens, stop_reason, created},
written to a temporary file in the same folder and renamed with os.replace, so readers in other
threads or processes see either nothing or a whole entry. An unreadable entry counts as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from report_lib.jobs import CallOutcome


def cache_key(model_id: str, system: str, prompt: str, max_tokens: int, temperature: float) -> str:
    """Hex SHA-256 of the request fields that determine the answer."""
    payload = json.dumps(
        [model_id, system or "", prompt, int(max_tokens), float(temperature)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """A folder of cached responses, safe to share between threads and processes."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> CallOutcome | None:
        """The cached outcome (cached=True, attempts=0), or None on a miss."""
        try:
            data = json.loads(self.path_for(key).read_text(encoding="utf-8"))
            text = data["text"]
            if not isinstance(text, str):
                return None
            return CallOutcome(
                text=text,
                input_tokens=int(data.get("input_tokens", 0)),
                output_tokens=int(data.get("output_tokens", 0)),
                attempts=0,
                ttft_s=None,
                cached=True,
                stop_reason=data.get("stop_reason"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, outcome: CallOutcome) -> Path:
        """Store ``outcome`` under ``key`` atomically; returns the entry's path."""
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "text": outcome.text,
            "input_tokens": outcome.input_tokens,
            "output_tokens": outcome.output_tokens,
            "stop_reason": outcome.stop_reason,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("??/*.json"))
