"""LLM text is untrusted: nothing executable survives rendering or the notebook export."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from report_lib.records import ReportResult
from report_lib.render.sanitize import (
    render_markdown_safe,
    render_result_html,
    sanitize_html,
    sanitize_notebook_outputs,
)


class _Elements(HTMLParser):
    """Collects (tag, attrs) of every start tag and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


DANGEROUS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "<iframe src='https://evil.example'></iframe>",
    "<svg onload=alert(1)><circle/></svg>",
    "<style>body{display:none}</style>",
    "<object data='x.swf'></object>",
    '<p onclick="alert(1)">text</p>',
    "<form action='https://evil.example'><input name=a></form>",
]


@pytest.mark.parametrize("payload", DANGEROUS)
def test_render_markdown_safe_removes_executable_content(payload: str) -> None:
    out = render_markdown_safe(f"# Title\n\nBefore {payload} after\n")
    found = elements(out)
    tags = {tag for tag, _ in found.tags}
    assert tags <= {"h1", "p", "a"}, out
    for _tag, attrs in found.tags:
        assert not any(name.startswith("on") for name in attrs), out
        assert "javascript:" not in (attrs.get("href") or "").lower(), out
    assert "alert(1)</script" not in out
    assert "Before" in out and "after" in out


def test_script_content_is_dropped_not_just_unwrapped() -> None:
    out = sanitize_html("<p>ok</p><script>alert('x')</script><style>p{}</style>")
    assert out == "<p>ok</p>"


def test_markdown_structure_survives() -> None:
    md = (
        "# H1\n\n## H2\n\n**bold** *em* `code`\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "- one\n- two\n\n1. first\n\n> quote\n\n---\n\n"
        "[site](https://example.org) line<br>break\n\n```\npre\n```\n"
    )
    out = render_markdown_safe(md)
    tags = [tag for tag, _ in elements(out).tags]
    for tag in ("h1", "h2", "strong", "em", "code", "table", "thead", "tbody", "tr", "th",
                "td", "ul", "ol", "li", "blockquote", "hr", "a", "br", "pre"):
        assert tag in tags, (tag, out)
    link = next(attrs for tag, attrs in elements(out).tags if tag == "a")
    assert link["href"] == "https://example.org"
    assert "noopener" in (link.get("rel") or "")


def test_table_alignment_keeps_only_text_align() -> None:
    out = sanitize_html('<table><tr><td style="position:fixed;text-align:right">1</td></tr>'
                        "</table>")
    cell = next(attrs for tag, attrs in elements(out).tags if tag == "td")
    assert cell.get("style", "").replace(" ", "") == "text-align:right"


def test_render_result_html_escapes_error_text() -> None:
    ok = ReportResult(key="kpi", kind="kpi", content="# KPI\n\n<script>alert(1)</script>fine")
    failed = ReportResult(key="cpo", kind="cpo", error_type="ValidationException",
                          error_message="<script>alert(2)</script> bad input", attempts=3)
    ok_html = render_result_html(ok)
    assert "<h1>KPI</h1>" in ok_html and "<script" not in ok_html and "fine" in ok_html
    failed_html = render_result_html(failed)
    assert "<script" not in failed_html
    assert "&lt;script&gt;alert(2)&lt;/script&gt; bad input" in failed_html
    assert "cpo failed" in failed_html and "3 attempt" in failed_html


def _notebook() -> nbformat.NotebookNode:
    cell = new_code_cell("x")
    cell.outputs = [
        new_output("display_data", data={"text/html": "<b>hi</b><script>alert(1)</script>",
                                         "text/plain": "hi"}),
        new_output("display_data", data={"application/javascript": "alert(2)"}),
        new_output("display_data", data={"text/markdown": "**md** <script>alert(3)</script>"}),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        new_output("stream", name="stderr", text="a warning\n"),
        new_output("stream", name="stdout", text="<script>printed</script>\n"),
        new_output("error", ename="ValueError", evalue="boom", traceback=["tb"]),
    ]
    return new_notebook(cells=[cell])


def test_sanitize_notebook_outputs() -> None:
    nb = sanitize_notebook_outputs(_notebook())
    outputs = nb.cells[0].outputs
    kinds = [(o.output_type, sorted(o.get("data", {})) or o.get("name")) for o in outputs]
    assert kinds == [
        ("display_data", ["text/html", "text/plain"]),
        ("display_data", ["text/html"]),  # markdown rendered to safe HTML
        ("display_data", ["image/png", "text/plain"]),
        ("stream", "stdout"),  # printed text is escaped by nbconvert, kept as is
        ("error", None),
    ]
    assert outputs[0].data["text/html"] == "<b>hi</b>"
    assert re.sub(r"\s", "", outputs[1].data["text/html"]) == "<p><strong>md</strong></p>"
    assert outputs[2].data["image/png"] == "iVBORw0KGgo="


def test_sanitize_notebook_outputs_can_keep_stderr() -> None:
    nb = sanitize_notebook_outputs(_notebook(), drop_stderr=False)
    assert any(o.get("name") == "stderr" for o in nb.cells[0].outputs)
