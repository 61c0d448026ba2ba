"""A grid's site on a disk that fills up: nothing that finished is lost.

``SiteRescue.write`` writes a file inside the site (``sitefiles.write_site_file``). Once a write
fails with an OSError (a full disk, a folder that vanished), that file and every later one go to
a fallback folder at the same relative path: ``report-lib-rescued-grid-DATE-PID/`` in the
temporary folder (else the home or the current folder). ``error`` is the one line that names the
file that failed, the fallback folder and how to complete the site from it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from report_lib.app.outputs import write_bytes_atomic
from report_lib.errors import OutputError
from report_lib.pipeline.sitefiles import write_site_file


class SiteRescue:
    """Writes into ``site`` until a write fails, then into a fallback folder."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.failed: OSError | None = None  # the first write that failed
        self.folder: Path | None = None  # the fallback folder, once one took a file
        self.lost: list[str] = []  # files no folder could take
        self._name = f"report-lib-rescued-grid-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"

    def write(self, path: Path, content: str | bytes) -> Path:
        """``path`` (inside the site) written, or its copy in the fallback folder."""
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        if self.failed is None:
            try:
                return write_site_file(self.site, path, data)
            except OSError as exc:
                self.failed = exc
        relative = path.relative_to(self.site) if path.is_absolute() else path
        candidates = [self.folder] if self.folder is not None else [
            Path(tempfile.gettempdir()) / self._name, Path.home() / self._name,
            Path.cwd() / self._name,
        ]
        for folder in candidates:
            target = folder / relative
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(target, data)
            except OSError:
                if self.folder is None:  # a candidate that cannot take it is left as it was
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            self.folder = folder
            return target
        self.lost.append(relative.as_posix())
        return path

    def error(self, what: str) -> OutputError | None:
        """The one-line error once a write failed (None while every write succeeded);
        ``what`` says what finished (e.g. "3 of 4 grid runs finished")."""
        failed = self.failed
        if failed is None:
            return None
        where = failed.filename or self.site
        head = f"pipeline --grid: cannot write {where} ({failed.strerror or failed}); {what}"
        if self.folder is not None and not self.lost:
            return OutputError(
                f"{head}; the files not written, runs.json and index.html included, are in "
                f"{self.folder}: free space under {self.site} and copy them in with "
                f"`cp -r {self.folder}/. {self.site}/`",
                rescued=self.folder,
            )
        kept = f" (except {len(self.lost)} file(s) that fitted nowhere)" if self.folder else ""
        return OutputError(
            f"{head}; no fallback folder could take the site's files{kept}: free space under "
            f"{self.site} (or in {tempfile.gettempdir()}) and run the grid again",
            rescued=self.folder,
        )
