"""An executed notebook made fit to share: no local paths in what papermill recorded.

papermill writes the paths it was given into the executed notebook: ``metadata.papermill``
(``input_path``, ``output_path``, the ``parameters``) and the injected-parameters cell
(``data_path = "/home/me/…"``). ``share_paths`` rewrites every absolute path there: one inside
the site folder becomes relative to the notebook's own folder (``../reports``), any other is
reduced to its last part (``cpo.csv``), as the pages show a data source. In the text of the
outputs (warnings, tracebacks) the site, the project (the folder holding the package and the
working folder, ``config.HOME``), the Python environment and the home folder are written as
``..``, ``<project>``, ``<python>`` and ``~``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath
from typing import Any

from report_lib import config
from report_lib.app.outputs import write_text_atomic

INJECTED_TAG = "injected-parameters"


def shared_path(value: str, notebook_dir: Path, site: Path) -> str:
    """``value`` as a shared notebook may say it (see the module doc); not a path: as is."""
    if not os.path.isabs(value):
        return value
    path = Path(os.path.normpath(value))
    if path == site or site in path.parents:
        return PurePath(os.path.relpath(path, notebook_dir)).as_posix()
    return path.name or value


def _relative(value: Any, notebook_dir: Path, site: Path) -> Any:
    if isinstance(value, str):
        return shared_path(value, notebook_dir, site)
    if isinstance(value, dict):
        return {k: _relative(v, notebook_dir, site) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, notebook_dir, site) for v in value]
    return value


def _roots(notebook_dir: Path, site: Path) -> list[tuple[str, str]]:
    """(local folder, what a shared notebook writes instead), the longest folder first."""
    named = {str(site): PurePath(os.path.relpath(site, notebook_dir)).as_posix(),
             str(config.PACKAGE_DIR.parent): "<project>", str(config.HOME): "<project>",
             sys.prefix: "<python>", str(Path.home()): "~"}
    return sorted(((k, v) for k, v in named.items() if len(k) > 1),
                  key=lambda kv: -len(kv[0]))


def _scrub(text: str, roots: list[tuple[str, str]]) -> str:
    for local, shown in roots:
        text = text.replace(local, shown)
    return text


def _scrub_outputs(cells: list[Any], roots: list[tuple[str, str]]) -> None:
    """Local folders in the text of every output (streams, tracebacks, text bundles)."""
    for cell in cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _scrub(str(output["text"]), roots)
            if "traceback" in output:
                output["traceback"] = [_scrub(line, roots) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = _scrub(str(output["evalue"]), roots)
            data = output.get("data", {})
            for mime in [m for m in data if m.startswith("text/")]:
                data[mime] = _scrub(str(data[mime]) if isinstance(data[mime], str)
                                    else "".join(data[mime]), roots)


def share_paths(notebook: Path, site: Path | None = None) -> None:
    """Rewrite the absolute paths papermill recorded in ``notebook`` (in place); ``site`` is
    the folder that is shared (default: the notebook's folder)."""
    import nbformat
    from papermill.translators import translate_parameters

    notebook_dir = notebook.resolve().parent
    site = (site or notebook_dir).resolve()
    nb = nbformat.read(notebook, as_version=4)
    recorded = nb.metadata.get("papermill")
    if not recorded:
        return
    nb.metadata["papermill"] = _relative(dict(recorded), notebook_dir, site)
    parameters = nb.metadata["papermill"].get("parameters") or {}
    kernelspec = nb.metadata.get("kernelspec", {})
    language = kernelspec.get("language") or nb.metadata.get("language_info", {}).get("name")
    for cell in nb.cells:
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = translate_parameters(
                kernelspec.get("name", ""), language or "python", parameters, "Parameters"
            )
    _scrub_outputs(nb.cells, _roots(notebook_dir, site))
    write_notebook(nb, notebook)


def write_notebook(nb: Any, path: Path) -> None:
    """``nbformat.write`` made atomic: a temporary file renamed over ``path`` (a link at that
    name is replaced, never followed)."""
    import nbformat

    text = nbformat.writes(nb)
    write_text_atomic(path, text if text.endswith("\n") else text + "\n")
