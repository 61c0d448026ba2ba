"""Where a run's results go: output paths checked before any work, files written atomically.

``check_output_file`` / ``check_output_dir`` refuse, with one ConfigError line naming the option
and the path, an output that cannot be written: it exists as the wrong kind (a folder where a
file goes, a file where a folder goes or on the way to one), or neither it nor the folder it
would be created in accepts a new file. They write nothing (the probe file they create in the
nearest existing folder is removed at once), so a run can check its outputs before it starts.
``write_outputs`` then writes the result JSON and the Markdown files, each one atomically (a
temporary file in the same folder, renamed over the target): a reader never sees half a file.
When they cannot be written after all (a disk that filled up during the run, say),
``rescue_run`` writes the whole result, every delivered report in it, to one fallback file in
the temporary folder (else the home or current folder), and ``OutputError`` names that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

from report_lib.errors import ConfigError, OutputError
from report_lib.records import RunResult

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: new output files get the usual mode (0644 under umask 022)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _probe(folder: Path, option: str, target: Path) -> None:
    """Create and remove a file in ``folder``; ConfigError when the system refuses."""
    try:
        fd, name = tempfile.mkstemp(prefix=".report-lib-probe-", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"{option} {target}: cannot write in {folder} ({exc.strerror or exc}); "
            "choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(name)


def _check_creatable(path: Path, option: str) -> None:
    """``path`` does not exist yet: its nearest existing ancestor must be a writable folder."""
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise ConfigError(
            f"{option} {path}: {base} is a file, so no folder can be created there; "
            "choose another path"
        )
    _probe(base, option, path)


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` can receive a file (overwritten when one is there); else a ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{option} {path} is a folder; give a file name such as {path / 'run.json'}"
        )
    if path.exists() and not path.is_file():
        raise ConfigError(f"{option} {path} exists and is not a regular file; choose another path")
    if path.exists():
        _probe(path.parent, option, path)  # replacing it means writing beside it
    else:
        _check_creatable(path, option)
    return path


def check_output_dir(path: str | Path, option: str = "--markdown-dir") -> Path:
    """``path`` is, or can become, a folder that accepts new files; else a ConfigError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{option} {path} is a file, not a folder; give a folder (it is created if missing)"
        )
    if path.is_dir():
        _probe(path, option, path)
    else:
        _check_creatable(path / "_", option)
    return path


def check_outputs(out_json: str | Path | None = None,
                  markdown_dir: str | Path | None = None) -> None:
    """Check every output of a generate run before it starts (see check_output_file/_dir)."""
    if out_json is not None and markdown_dir is not None and \
            Path(out_json).resolve() == Path(markdown_dir).resolve():
        raise ConfigError(
            f"--out and --markdown-dir are the same path {out_json}: the JSON is a file, the "
            "Markdown goes into a folder; give two paths"
        )
    if out_json is not None:
        check_output_file(out_json, "--out")
    if markdown_dir is not None:
        check_output_dir(markdown_dir, "--markdown-dir")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it (never half a file)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file renamed over it: never half a
    file, and a symbolic link at ``path`` is replaced, not followed. An OSError names ``path``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        exc.filename = str(path)
        raise
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            exc.filename = str(path)  # the output, not its temporary file
        raise


def markdown_name(key: str) -> str:
    """The file name of a report's Markdown: the key with unsafe characters replaced."""
    return "".join(ch if ch.isalnum() or ch in "-_@." else "_" for ch in key) + ".md"


def write_outputs(
    run: RunResult, *, out_json: Path | None = None, markdown_dir: Path | None = None
) -> list[Path]:
    """Write the result contract as JSON and one ``KEY.md`` per delivered report (atomically)."""
    written: list[Path] = []
    if out_json is not None:
        out_json = Path(out_json)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_json, _run_json(run))
        written.append(out_json)
    if markdown_dir is not None:
        markdown_dir = Path(markdown_dir)
        markdown_dir.mkdir(parents=True, exist_ok=True)
        for key, content in run.reports.items():
            path = markdown_dir / markdown_name(key)
            write_text_atomic(path, content)
            written.append(path)
    return written


def _run_json(run: RunResult) -> str:
    return json.dumps(run.to_dict(), ensure_ascii=False, indent=2) + "\n"


def rescue_run(run: RunResult) -> Path | None:
    """Write ``run`` (its delivered reports included) to a fallback file; None if nowhere can
    take it. Tried in order: the temporary folder, the home folder, the current folder."""
    name = f"report-lib-rescued-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json"
    text = _run_json(run)
    for folder in (Path(tempfile.gettempdir()), Path.home(), Path.cwd()):
        try:
            write_text_atomic(folder / name, text)
        except OSError:
            continue
        return folder / name
    return None


def write_outputs_or_rescue(
    run: RunResult, *, out_json: Path | None = None, markdown_dir: Path | None = None,
    cache_dir: str | Path | None = None,
) -> list[Path]:
    """``write_outputs``; when it fails (OSError: a full disk, a vanished folder), the run goes
    to a fallback file (``rescue_run``) and OutputError says which output failed and where the
    reports are."""
    try:
        return write_outputs(run, out_json=out_json, markdown_dir=markdown_dir)
    except OSError as exc:
        failed = exc.filename or out_json or markdown_dir
        rescued = rescue_run(run)
        n = len(run.reports)
        kept = (f"the {n} delivered report(s) are in {rescued}" if rescued is not None
                else "no fallback file could be written either")
        again = (f"; a re-run with --cache {cache_dir} writes them without new calls"
                 if cache_dir and n else "")
        raise OutputError(
            f"cannot write {failed} ({exc.strerror or exc}): {kept}{again}",
            rescued=rescued,
        ) from None
