"""An executed notebook as one shareable HTML page: no code, figures embedded, outputs sanitized."""

from __future__ import annotations

from pathlib import Path

from report_lib.reports.sanitize import sanitize_notebook_outputs

# Cells removed from the shared HTML (their input is hidden anyway; they have no output).
HIDDEN_CELL_TAGS: frozenset[str] = frozenset(
    {"remove-cell", "remove_cell", "parameters", "injected-parameters"}
)


def export_html(notebook: Path, html_path: Path, *, title: str | None = None,
                back_link: str | None = "index.html") -> Path:
    """The executed notebook as one HTML page without code (lab template, images embedded as
    base64, outputs sanitized, stderr dropped)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(notebook, as_version=4)
    sanitize_notebook_outputs(nb)
    if back_link:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"[← all pages]({back_link})"))
    exporter = HTMLExporter(
        template_name="lab", exclude_input=True, exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_CELL_TAGS), enabled=True),
        enabled=True,
    )
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title or notebook.stem}}
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path
