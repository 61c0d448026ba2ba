"""``out_dir/index.html``: status, what came out, a link to every page, parameters, versions.

The page is a list of sections (``index_sections``) put into one document (``render_page``);
what came out (``outcome_section``: the summary blocks the executed notebooks displayed, such
as the month's headline figures and the comparison's verdict) goes right after the status;
the parameters and versions are folded. A caller with more to show (a table of runs) adds its
own sections built with ``html_table``.
"""

from __future__ import annotations

import html
import json
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

from report_lib.pipeline.execute import NotebookRun, PipelineResult, first_line
from report_lib.pipeline.export import font_face_css, page_css
from report_lib.pipeline.page import PAGE_NAMES, PageSummary, data_source_name, read_summaries
from report_lib.pipeline.parameters import PATH_PARAMETERS
from report_lib.pipeline.sitefiles import write_site_file

esc = html.escape

STYLE = """
body { margin: 2em auto; max-width: 60em; padding: 0 1em; }
.table-box { overflow-x: auto; max-width: 100%; width: max-content;
  background:
    linear-gradient(to right, #fff 30%, rgba(255, 255, 255, 0)) left / 2.5rem 100% no-repeat local,
    linear-gradient(to left, #fff 30%, rgba(255, 255, 255, 0)) right / 2.5rem 100% no-repeat local,
    radial-gradient(farthest-side at 0 50%, rgba(0, 0, 0, .22), rgba(0, 0, 0, 0)) left / .8rem 100%
      no-repeat scroll,
    radial-gradient(farthest-side at 100% 50%, rgba(0, 0, 0, .22), rgba(0, 0, 0, 0)) right / .8rem
      100% no-repeat scroll; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: .3em .7em; text-align: left; vertical-align: top; }
.ok { color: #1a7f37; } .failed { color: #cf222e; font-weight: bold; }
.not-run { color: #777; } pre { background: #f6f8fa; padding: .5em; }
.rl-outcome { border: 1px solid #d0d7de; border-radius: 6px; padding: .2em 1em .6em;
  margin: 1em 0; }
.rl-outcome h3 { margin: .6em 0 .3em; }
details { margin: 1em 0; } details > summary { cursor: pointer; font-size: 1.25em;
  font-weight: bold; }
"""


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table from header texts (escaped here) and rows of cells given as HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f'<div class="table-box"><table><tr>{head}</tr>{body}</table></div>'


def render_page(title: str, sections: Iterable[str]) -> str:
    """A whole HTML document: ``title`` as <title> and <h1>, then the sections (HTML); the
    shared pages' stylesheet and the Korean font cut down to the Hangul the page holds."""
    body = f"<h1>{esc(title)}</h1>\n" + "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
            f"<title>{esc(title)}</title>\n<style>{page_css()}\n{STYLE}\n"
            f"{font_face_css(body)}</style></head><body>\n{body}\n</body></html>\n")


def shown_path(value: object, base: Path) -> object:
    """A path as a shared page may show it: relative to ``base`` when inside it (the page stays
    right when the folder is moved or zipped), else only its last part."""
    if not isinstance(value, str | Path) or not str(value) or "://" in str(value):
        return value
    try:
        return Path(value).resolve().relative_to(base.resolve()).as_posix() or "."
    except ValueError:
        return data_source_name(value)


def link(path: Path | None, base: Path, text: str) -> str:
    """An <a> to ``path`` relative to ``base``; the bare name for a file outside ``base`` (a
    shared page carries no local path); "—" when there is no such file."""
    if path is None or not path.exists():
        return "—"
    try:
        href = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return esc(text)
    return f'<a href="{esc(href, quote=True)}">{esc(text)}</a>'


def _outputs(run: NotebookRun, base: Path) -> str:
    folder = run.parameters.get("output_dir")
    if not folder or not Path(folder).is_dir():
        return "—"
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    return "<br>".join(link(p, base, p.name) for p in files) or "—"


def _shown(name: str, value: object, base: Path) -> str:
    shown = shown_path(value, base) if name in PATH_PARAMETERS else value
    return json.dumps(shown, ensure_ascii=False, default=str)


def _parameters_table(run: NotebookRun, base: Path) -> str:
    """Every parameter the notebook declares: the value it ran with and where that came from."""
    rows = []
    for name, info in run.declared.items():
        if name in run.parameters:
            value = _shown(name, run.parameters[name], base)
            source = "pipeline"
        else:
            value, source = str(info.get("default", "")), "notebook default"
        rows.append((f"<code>{esc(name)}</code>", f"<code>{esc(value)}</code>", esc(source),
                     esc(str(info.get("help", "")))))
    if not rows:  # declared parameters unknown: show what was passed
        rows = [(f"<code>{esc(k)}</code>",
                 f"<code>{esc(_shown(k, v, base))}</code>",
                 "pipeline", "") for k, v in run.parameters.items()]
    return f"<h3>{esc(run.name)}</h3>" + html_table(("parameter", "value", "from", "meaning"),
                                                    rows)


def _summary_card(summary: PageSummary, run: NotebookRun, base: Path) -> str:
    """One page's summary on the index: its name (a link to the page) and title, the figures,
    the lines, and its links resolved against the notebook's output folder."""
    name = PAGE_NAMES.get(run.name, run.name)
    page = link(run.html, base, name)
    heading = page if page != "—" else esc(name)
    if summary.title:
        heading += f": {esc(summary.title)}"
    block = summary.html().replace(f"<h2>{esc(summary.title)}</h2>", "", 1)
    folder = run.parameters.get("output_dir")
    links = [link(Path(folder) / rel, base, text) if folder else esc(text)
             for text, rel in summary.links]
    listed = "".join(f"<li>{item}</li>" for item in links if item != "—")  # files not there
    return (f'<div class="rl-outcome"><h3>{heading}</h3>{block}'
            + (f"<ul>{listed}</ul>" if listed else "") + "</div>")


def outcome_section(result: PipelineResult) -> str:
    """What came out, read from the executed notebooks: the reports' headline figures and
    links, the comparison's verdict ("" when no notebook left a summary)."""
    cards = [_summary_card(summary, run, result.out_dir)
             for run in result.runs for summary in read_summaries(run.notebook)]
    return "<h2>What came out</h2>" + "".join(cards) if cards else ""


def folded(title: str, body: str) -> str:
    """A section closed by default (<details>): opened by a click on its title."""
    return f"<details><summary>{esc(title)}</summary>{body}</details>"


def _status(result: PipelineResult) -> str:
    failed = result.failed
    if failed is None:
        return '<p class="ok">All notebooks ran.</p>'
    where = f"cell {failed.cell_index}" if failed.cell_index is not None else "a cell"
    return (f'<p class="failed">FAILED in <b>{esc(failed.name)}</b> ({esc(where)}): '
            f"{esc(str(failed.ename))}: {esc(first_line(failed.evalue))}</p>")


def _pages(result: PipelineResult) -> str:
    base = result.out_dir
    rows = [(esc(run.name),
             f'<span class="{esc(run.status.replace(" ", "-"))}">{esc(run.status)}</span>',
             f"{run.seconds:.1f}\u00a0s", link(run.html, base, run.name + ".html"),
             link(run.notebook, base, run.name + ".ipynb"), _outputs(run, base))
            for run in result.runs]
    return "<h2>Pages</h2>" + html_table(
        ("notebook", "status", "time", "page", "executed notebook", "saved outputs"), rows)


def index_sections(result: PipelineResult) -> list[str]:
    """The sections of the index page: status, run line, pages, parameters and versions folded
    (the index puts what came out, ``outcome_section``, right after the status)."""
    versions = html_table(("package", "version"),
                          ((esc(k), esc(v)) for k, v in result.packages.items()))
    return [
        _status(result),
        f"<p>Started {esc(result.started)}, took {result.seconds:.1f} s; kernel "
        f"<code>{esc(result.kernel_name)}</code>; host {esc(platform.node())} "
        f"({esc(platform.platform())}).</p>",
        _pages(result),
        folded("Parameters", "".join(_parameters_table(run, result.out_dir)
                                     for run in result.runs)),
        folded("Package versions", versions),
    ]


def write_index(result: PipelineResult) -> Path:
    """Write ``result.index`` and return its path."""
    sections = index_sections(result)
    sections.insert(1, outcome_section(result))
    page = render_page(f"EV Infra Report Lab — pipeline run {result.started}", sections)
    return write_site_file(result.out_dir, result.index, page)  # never through a link
