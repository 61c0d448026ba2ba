"""The pipeline's output folder (the site): written inside it only, never through a link.

``check_site`` runs before any kernel starts: a symbolic link where the pipeline writes (the
index, the manifest, a page, the ``notebooks/`` and ``runs/`` folders, each notebook's output
folder, anything inside those folders) is refused with one ConfigError line naming it and where
it points. The folder given as ``--out`` may itself be a link: the user chose it.

``write_site_file`` and ``claim_site_file`` guard each write as it happens: the path must lie
inside the site, no folder on the way may be a link (ConfigError), and the file is written
through a temporary file renamed over the name, so a link found there (made after the check) is
replaced, never followed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from report_lib.app.outputs import write_bytes_atomic
from report_lib.errors import ConfigError

INDEX = "index.html"
NOTEBOOKS_DIR = "notebooks"
RUNS_DIR = "runs"


def _link_error(site: Path, link: Path) -> ConfigError:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    return ConfigError(
        f"pipeline --out {site}: {link} is a symbolic link (to {target}); the pipeline writes "
        "only inside its output folder and never through a link: remove the link or choose "
        "another --out"
    )


def _walk(path: Path) -> Iterator[Path]:
    """``path`` and, when it is a real folder, everything below it (links not followed)."""
    yield path
    if path.is_dir() and not path.is_symlink():
        for root, folders, files in os.walk(path, followlinks=False):
            for name in (*folders, *files):
                yield Path(root) / name


def owned_paths(site: Path, notebooks: Iterable[str], output_dirs: Iterable[str | Path],
                *, grid: bool = False) -> list[Path]:
    """Every path the pipeline writes under ``site`` (files, and folders it writes into)."""
    paths = [site / INDEX, site / NOTEBOOKS_DIR]
    paths += [site / f"{name}.html" for name in notebooks]
    paths += [site / folder for folder in output_dirs]
    if grid:
        from report_lib.pipeline.manifest import MANIFEST

        paths += [site / MANIFEST, site / RUNS_DIR]
    return paths


def check_site(site: Path, paths: Iterable[Path]) -> None:
    """ConfigError naming the first symbolic link at or below ``paths`` (inside ``site``)."""
    for owned in paths:
        for path in _walk(owned):
            if path.is_symlink():
                raise _link_error(site, path)


def _inside(site: Path, path: Path) -> Path:
    """``path`` (absolute or relative to ``site``) after checking the folders on its way."""
    site = site.resolve()
    path = path if path.is_absolute() else site / path
    try:
        relative = path.relative_to(site)
    except ValueError:
        raise ConfigError(f"pipeline: {path} is outside the output folder {site}") from None
    if ".." in relative.parts or not relative.parts:
        raise ConfigError(f"pipeline: {path} is not a file inside the output folder {site}")
    folder = site
    for part in relative.parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise _link_error(site, folder)
        if not folder.exists():
            with contextlib.suppress(FileExistsError):
                folder.mkdir()
            if folder.is_symlink():  # made meanwhile by someone else
                raise _link_error(site, folder)
    return path


def claim_site_file(site: Path, path: Path) -> Path:
    """Make ``path`` ready for a writer that opens it by name (papermill): its folders are real
    and inside ``site``, and a link at its name is removed (its target untouched)."""
    path = _inside(site, path)
    if path.is_symlink():
        path.unlink()
    return path


def write_site_file(site: Path, path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` inside ``site``: atomically, replacing (never following) a
    link at that name; ConfigError for a path outside or a linked folder on the way."""
    path = _inside(site, path)
    write_bytes_atomic(path, content if isinstance(content, bytes) else content.encode("utf-8"))
    return path
