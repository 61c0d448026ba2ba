"""The command in any locale: file names and messages in UTF-8 even under ``LC_ALL=POSIX``.

Under a POSIX/C locale with UTF-8 mode turned off (``PYTHONUTF8=0``), Python decodes file names
and writes messages as ASCII: a Korean file name becomes escapes that pandas and pyarrow refuse,
and a Korean message ends in a UnicodeEncodeError. ``ensure_utf8_mode`` restarts the command
once in UTF-8 mode (``PYTHONUTF8=1``, so the emulator, worker processes and kernels it starts
use it too); the bytes of every argument are kept as they were given. Where a restart is not
possible, messages are at least written with escapes instead of failing.
"""

from __future__ import annotations

import codecs
import os
import sys

RESTARTED = "REPORT_LIB_UTF8_RESTART"  # set in the restarted command: never a second restart


def _is_utf8(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


def ensure_utf8_mode() -> None:
    """Re-run this command in UTF-8 mode when file names are not decoded as UTF-8."""
    if sys.flags.utf8_mode or _is_utf8(sys.getfilesystemencoding()):
        return
    argv = list(getattr(sys, "orig_argv", []))
    if os.name == "posix" and sys.executable and argv and os.environ.get(RESTARTED) != "1":
        env = {**os.environ, "PYTHONUTF8": "1", RESTARTED: "1"}
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)
    for stream in (sys.stdout, sys.stderr):  # no restart: escapes rather than a traceback
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _is_utf8(getattr(stream, "encoding", None)):
            reconfigure(errors="backslashreplace")
