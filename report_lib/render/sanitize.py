"""LLM text is untrusted: render its Markdown and keep only a small, safe set of HTML.

Every report shown in a notebook (and hence in the shared HTML pages) goes through
``render_markdown_safe``; a ``<script>``, an event handler or a ``javascript:`` link planted in
the model's answer (or in the data it quotes) never reaches the page.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import mistune
import nh3

from report_lib.reports.factcheck import corrected, delivered, verdict

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
        "ul", "ol", "li", "strong", "em", "del", "code", "pre", "blockquote",
        "br", "hr", "a", "mark",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "th": {"style"},  # only text-align survives (see ALLOWED_STYLE_PROPERTIES)
    "td": {"style"},
    "ol": {"start"},
    "mark": {"title"},  # a number the facts do not support, titled with the nearest fact
}
ALLOWED_STYLE_PROPERTIES: frozenset[str] = frozenset({"text-align"})
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
# Dropped together with their content (not just unwrapped).
DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "template", "noscript", "textarea", "title"}
)


def sanitize_html(text: str) -> str:
    """Keep only the safe tags/attributes/URL schemes above; drop scripts with their content."""
    return nh3.clean(
        text or "",
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


@lru_cache(maxsize=1)
def _markdown() -> Any:
    # Raw HTML is passed through to nh3 (not escaped) so harmless tags like <br> in table
    # cells still render; everything unsafe is removed by sanitize_html.
    return mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])


def render_markdown_safe(md: str) -> str:
    """Markdown → HTML (mistune, tables included) → ``sanitize_html``."""
    return sanitize_html(str(_markdown()(md or "")))


def mark_unsupported(md: str, unsupported: list[dict[str, Any]]) -> str:
    """The Markdown with each unsupported figure wrapped in ``<mark title="nearest fact: …">``."""
    lines = md.split("\n")
    done: dict[int, int] = {}  # line index → where its next search starts
    for item in sorted(unsupported, key=lambda u: u["line"]):
        index = int(item["line"]) - 1
        if not 0 <= index < len(lines):
            continue
        text, line = str(item["text"]), lines[index]
        at = line.find(text, done.get(index, 0))
        if at < 0:
            continue
        title = html.escape(f"nearest fact: {item.get('nearest') or 'none'}", quote=True)
        mark = f'<mark title="{title}">{html.escape(text)}</mark>'
        lines[index] = line[:at] + mark + line[at + len(text):]
        done[index] = at + len(mark)
    return "\n".join(lines)


def fact_check_line(check: dict[str, Any] | None) -> str:
    """One line on the delivered report's figures: all traced to the facts, or how many are
    not; after a repair turn, how many it corrected."""
    final = delivered(check)
    if not check or not final:
        return ""
    fixed = corrected(check)
    repaired = f"corrected: {fixed} figure{'s' if fixed != 1 else ''}; " if fixed else ""
    derived = f", {final['derived']} derived in one step" if final["derived"] else ""
    missing = len(final["unsupported"])
    if not missing:
        return (f"Fact check {verdict(check)}: {repaired}every number and month is in the facts"
                f"{derived}.")
    return (f"Fact check {verdict(check)}: {repaired}{missing} number(s) or month(s) not in the "
            f"facts (marked){derived}.")


def render_result_html(result: Any) -> str:
    """One ``ReportResult`` as safe HTML: a fact-check line and its Markdown rendered (with the
    unsupported figures marked), or its error, escaped."""
    if getattr(result, "ok", False) and result.content is not None:
        check = getattr(result, "fact_check", None)
        if not check:
            return render_markdown_safe(result.content)
        line = f"<p><em>{html.escape(fact_check_line(check))}</em></p>\n"
        remaining = (delivered(check) or check)["unsupported"]
        return line + render_markdown_safe(mark_unsupported(result.content, remaining))
    detail = f"{result.error_type or 'error'}: {result.error_message or ''}"
    return sanitize_html(
        f"<p><strong>{html.escape(str(result.key))} failed</strong> after {result.attempts} "
        f"attempt(s): {html.escape(detail)}</p>"
    )


# ---------------------------------------------------------------- whole notebooks (HTML export)
SAFE_OUTPUT_MIME: tuple[str, ...] = ("text/html", "image/png", "image/jpeg", "text/plain")
_OUTPUT_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title"},
    "th": {*nh3.ALLOWED_ATTRIBUTES.get("th", set()), "style"},
    "td": {*nh3.ALLOWED_ATTRIBUTES.get("td", set()), "style"},
}


_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)
_ALIGN_ONLY = re.compile(r"\s*text-align:\s*(left|right|center)\s*;?\s*", re.I)
_ID_SELECTOR = re.compile(r"#([\w-]+)")
_CELL_WITH_ID = re.compile(r"<(th|td)(\s[^>]*?)\bid=\"([\w-]+)\"([^>]*)>", re.I)


def inline_text_align(text: str) -> str:
    """Cells aligned by a ``<style>`` rule on their id (what pandas' Styler writes) get the
    same ``text-align`` in their own style attribute, which survives sanitizing."""
    sides: dict[str, str] = {}
    for block in _STYLE_BLOCK.findall(text):
        for rule in block.split("}"):
            selectors, _, body = rule.partition("{")
            align = _ALIGN_ONLY.fullmatch(body)
            if align is None:
                continue
            for selector in selectors.split(","):
                ident = _ID_SELECTOR.fullmatch(selector.strip())
                if ident is not None:
                    sides[ident.group(1)] = align.group(1).lower()
    if not sides:
        return text

    def aligned(match: re.Match[str]) -> str:
        tag, before, ident, after = match.groups()
        side = sides.get(ident)
        if side is None or "style=" in before + after:
            return match.group(0)
        return f'<{tag}{before}id="{ident}" style="text-align: {side}"{after}>'

    return _CELL_WITH_ID.sub(aligned, text)


def sanitize_output_html(text: str) -> str:
    """Sanitize one notebook HTML output: nh3's default safe tags plus ``class`` (tables keep
    their look); scripts, styles, event handlers and ``javascript:`` URLs are removed. The
    ``text-align`` a style block gives table cells (pandas' Styler) is kept, inlined."""
    attributes = {tag: set(attrs) for tag, attrs in _OUTPUT_ATTRIBUTES.items()}
    attributes["img"] = set()  # data: images come as image/png outputs, not <img> in HTML
    return nh3.clean(
        inline_text_align(text or ""),
        tags=set(nh3.ALLOWED_TAGS) - {"img", "area", "map"},
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=attributes,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def sanitize_notebook_outputs(nb: Any, *, drop_stderr: bool = True) -> Any:
    """Make a notebook's outputs safe to publish, in place; returns the notebook.

    Keeps only ``SAFE_OUTPUT_MIME`` bundles (JavaScript, SVG and widget views go), sanitizes
    ``text/html``, renders ``text/markdown`` outputs with ``render_markdown_safe`` and (by default)
    drops stderr streams (warnings, progress bars). Error outputs stay: nbconvert escapes them.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream" and drop_stderr and output.get("name") == "stderr":
                continue
            if kind in ("display_data", "execute_result"):
                data = dict(output.get("data", {}))
                if "text/markdown" in data and "text/html" not in data:
                    data["text/html"] = render_markdown_safe(_text(data["text/markdown"]))
                data = {k: v for k, v in data.items() if k in SAFE_OUTPUT_MIME}
                if "text/html" in data:
                    data["text/html"] = sanitize_output_html(_text(data["text/html"]))
                if not data:
                    continue
                output["data"] = data
            kept.append(output)
        cell["outputs"] = kept
    return nb


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
