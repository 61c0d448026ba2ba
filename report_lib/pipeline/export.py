"""An executed notebook as one shareable HTML page that stands alone.

Our nbconvert template (``templates/report_page``, built on the lab template) loads nothing from
the network: no require.js, MathJax, mermaid or widget manager. Code is hidden, figures stay
embedded as base64 images, model text is sanitized, and the Korean font the charts use
(NanumGothic from koreanize-matplotlib) is embedded once, cut down to the Hangul syllables the
page holds, as the last entry of a font stack with the usual Korean system fonts before it.
The header block (what the page is about, when and how it was made, a link back to the index)
comes from the ``page_header`` output the notebook displays (report_lib.pipeline.page).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from report_lib.app.outputs import write_text_atomic
from report_lib.pipeline.page import PAGE_MIME, PAGE_NAMES, PageInfo
from report_lib.render.sanitize import sanitize_notebook_outputs

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "report_page"
# Cells removed from the shared HTML (their input is hidden anyway; they have no output).
HIDDEN_CELL_TAGS: frozenset[str] = frozenset(
    {"remove-cell", "remove_cell", "parameters", "injected-parameters"}
)
EMBEDDED_FONT = "Report NanumGothic"
HANGUL_RANGE = "U+1100-11FF, U+3130-318F, U+AC00-D7A3"
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_FONT_SLOT = "/* report-lib: embedded font */"
_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def strip_css_comments(page: str) -> str:
    """The page without comments in its stylesheets (the lab theme's carry credits with URLs)."""
    return _STYLE.sub(lambda m: m.group(1) + _CSS_COMMENT.sub("", m.group(2)) + m.group(3), page)


def page_css() -> str:
    """The stylesheet of every shared page (font stacks, narrow screens, the header block)."""
    return (TEMPLATE_DIR / TEMPLATE_NAME / "static" / "page.css").read_text(encoding="utf-8")


def nanum_gothic() -> Path | None:
    """NanumGothic.ttf as shipped in the koreanize-matplotlib wheel (found without importing it)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = next((Path(folder) / "fonts" / "NanumGothic.ttf" for folder in folders), None)
    return path if path is not None and path.is_file() else None


def font_face_css(text: str, font: Path | None = None) -> str:
    """An ``@font-face`` rule embedding NanumGothic cut down to the Hangul in ``text`` (WOFF,
    base64), limited by ``unicode-range`` to Hangul; "" when there is no Hangul or no font."""
    from fontTools import subset

    chars = "".join(sorted(set(_HANGUL.findall(text))))
    font = font or nanum_gothic()
    if not chars or font is None:
        return ""
    options = subset.Options()
    options.flavor = "woff"
    options.desubroutinize = True
    options.hinting = False
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # hinting sources
    face = subset.load_font(str(font), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(face)
    buffer = io.BytesIO()
    subset.save_font(face, buffer, options)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'@font-face {{ font-family: "{EMBEDDED_FONT}"; font-style: normal; '
            f"font-weight: 400; font-display: swap; unicode-range: {HANGUL_RANGE}; "
            f'src: url(data:font/woff;base64,{data}) format("woff"); }}')


def take_page_info(nb: Any, name: str) -> PageInfo:
    """The page's facts from its ``page_header`` output (removed from the cells: the template
    draws the header); without one, the page name and the time the notebook ran."""
    for cell in nb.cells:
        for output in list(cell.get("outputs", [])):
            if PAGE_MIME in output.get("data", {}):
                cell.outputs.remove(output)
                return PageInfo.from_dict(dict(output["data"][PAGE_MIME]))
    ran = nb.metadata.get("papermill", {}).get("end_time") or ""
    try:
        when = datetime.fromisoformat(ran).astimezone()
    except ValueError:
        when = datetime.now().astimezone()
    return PageInfo(name=PAGE_NAMES.get(name, name), run_time=when.strftime("%Y-%m-%d %H:%M %Z"))


def page_title(info: PageInfo) -> str:
    """Name, report month and focus operator; the run's date when the page has no month."""
    return info.title() if info.month else f"{info.name} — {info.run_time[:10]}".rstrip(" —")


def export_html(notebook: Path, html_path: Path, *, title: str | None = None,
                back_link: str | None = "index.html") -> Path:
    """The executed notebook as one HTML page without code that loads nothing from elsewhere
    (see the module docstring); ``title`` names the page when the notebook does not."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(notebook, as_version=4)
    info = take_page_info(nb, title or notebook.stem)
    sanitize_notebook_outputs(nb)
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        language_code=info.language or "en",
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_CELL_TAGS), enabled=True),
        enabled=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={
        "metadata": {"name": page_title(info)},
        "report_lib_header": info.header_html(back_link),
        "report_lib_font_css": _FONT_SLOT,
    })
    body = strip_css_comments(body.replace(_FONT_SLOT, font_face_css(body), 1))
    html_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(html_path, body)  # a link at that name is replaced, never followed
    return html_path
