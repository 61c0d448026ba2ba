"""``Emulator``: the Bedrock emulator in its own process, so it never shares the client's GIL."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.request
import weakref
from pathlib import Path
from typing import IO, Any

from report_lib.closing import Closing
from report_lib.emulator.options import READY_PREFIX, EmulatorConfig
from report_lib.errors import EmulatorError

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class Emulator(Closing):
    """Start ``python -m report_lib.emulator`` on a free loopback port; stop it on exit.

    The child runs in its own session, so signals sent to the caller's process group (Ctrl-C in
    a terminal) do not reach it; ``stop()`` (or leaving the ``with`` block) ends it, and it also
    ends by itself within a second of the parent process's death.

    >>> with Emulator(latency_model="fixed:0.1") as emu:   # doctest: +SKIP
    ...     client = boto3.client("bedrock-runtime", endpoint_url=emu.url, ...)
    """

    def __init__(self, *, startup_timeout: float = 30.0, **options: Any) -> None:
        """``options`` are EmulatorConfig fields (flags of ``report-lib emulator``), e.g.
        ``latency_model="fixed:0.1"``, ``tpm=20000``, ``throttle_first=2``, ``reject=("trend",)``,
        ``hang_first=1``, ``reset_rate=0.2``, ``truncate_first=1``, ``slow_first=1, slow_s=5``.
        """
        options["reject"] = tuple(options.get("reject", ()))
        self.config = EmulatorConfig(**options, parent_pid=os.getpid())
        self.startup_timeout = startup_timeout
        self.url = ""
        # Kept open for the child's lifetime; closed by _shutdown.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=_child_env(),
            # Its own session: a Ctrl-C to the terminal's process group reaches the client, which
            # gives up and then stops the emulator itself (never the emulator first).
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _shutdown, self._proc, self._stderr)
        try:
            self.url = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def command(self) -> list[str]:
        """The child's command line."""
        return [sys.executable, "-m", "report_lib.emulator", *self.config.to_argv()]

    def _wait_ready(self) -> str:
        assert self._proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(
            target=_pump, args=(self._proc.stdout, lines), name="emulator-stdout", daemon=True
        )
        reader.start()
        seen: list[str] = []
        try:
            while True:
                line = lines.get(timeout=self.startup_timeout)
                if line is None:
                    break
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
                seen.append(line)
        except queue.Empty:
            raise EmulatorError(
                f"Bedrock emulator did not report its URL within {self.startup_timeout:g} s; "
                f"command: {' '.join(self.command())}; stderr:\n{self._read_stderr()}"
            ) from None
        code = self._proc.wait(timeout=10)
        raise EmulatorError(
            f"Bedrock emulator exited with code {code} before it was ready; "
            f"stdout: {''.join(seen)!r}; stderr:\n{self._read_stderr()}"
        )

    def _read_stderr(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def _request(self, method: str, path: str) -> dict[str, Any]:
        if not self.url:
            raise EmulatorError("the Bedrock emulator is not running")
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:  # only our loopback URL
            result: dict[str, Any] = json.loads(resp.read())
        return result

    def stats(self) -> dict[str, Any]:
        """The server's ``GET /stats`` counters."""
        return self._request("GET", "/stats")

    def reset_stats(self) -> dict[str, Any]:
        """``POST /stats/reset``: fresh counters, seeds, token bucket and throttle-first budget."""
        return self._request("POST", "/stats/reset")

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        self._finalizer()

    close = stop  # ``with Emulator() as emu:`` stops it on the way out (Closing)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Emulator({self.config.latency_model!r}, url={self.url!r}, {state})"


def _pump(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout lines until EOF (keeps the pipe drained)."""
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)
    stream.close()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + path if path else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _shutdown(proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    stderr.close()
