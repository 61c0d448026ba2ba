"""Open the shared pages in headless Chromium the way a reader would, and check them.

    python scripts/check_pages.py [SITE] [--shots DIR] [--widths 1280 400]

SITE is a folder written by ``report-lib pipeline`` (default: outputs/site). The folder is zipped
and unzipped elsewhere first (links must survive the move), then every page is opened in
Chromium (Debian: ``apt-get install chromium``; ``--chromium PATH`` otherwise) twice: with the
machine's fonts, and with a fontconfig that sees no CJK font at all (only DejaVu/Liberation), as
on a machine without Korean fonts. Network access is cut (an unreachable proxy) and every
request the page makes is recorded through the DevTools protocol. For each page and width:

- no request leaves the page (only ``file:`` and ``data:`` URLs);
- every Hangul character is drawn by a Korean font (a system one or the embedded NanumGothic),
  none by a fallback that would show boxes (DevTools ``CSS.getPlatformFontsForNode``);
- the title carries a report month (YYYY-MM) or a date for pages without one;
- the page does not scroll sideways; tables that are wider than the screen scroll inside their
  own box; images fit the width; table cells do not break words (``word-break: keep-all``);
- every relative link points to a file inside the unzipped folder;
- screenshots (top of the page) land in DIR as ``PAGE-WIDTHpx[-nocjk].png`` to look at.

Exit 0 when every check passes, 1 with one line per failure otherwise. Chromium talks to this
script over ``--remote-debugging-pipe`` (no extra Python package needed).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

HANGUL = re.compile(r"[\uac00-\ud7a3]")
KOREAN_FAMILIES = re.compile(r"cjk|nanum|gothic|malgun|apple sd|noto sans kr|source han|"
                             r"report nanumgothic", re.IGNORECASE)
NO_CJK_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
SHOT_HEIGHT = 2400

RELAYOUT_JS = """document.fonts.ready.then(() => {
  document.body.style.display = 'none'; void document.body.offsetHeight;
  document.body.style.display = ''; void document.body.offsetHeight;
  return document.fonts.ready; })"""
MEASURE_JS = r"""(() => {
  const width = window.innerWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px wide)`);
  const shown = el => el.getClientRects().length > 0;
  // A table wider than the screen scrolls in its own box: the nearest box that scrolls sideways
  // (the table itself or an ancestor) fits the screen and holds nothing visible but the table.
  const ownBox = t => {
    for (let a = t; a; a = a.parentElement) {
      const s = getComputedStyle(a).overflowX;
      if (s !== 'auto' && s !== 'scroll') continue;
      if (a.getBoundingClientRect().right > width + 1) return 'its box is cut off';
      const others = [...a.children].filter(c => !c.contains(t) && shown(c));
      return a === t || others.length === 0 ? '' : 'it scrolls with other content, not alone';
    }
    return 'it is cut off instead of scrolling in its own box';
  };
  document.querySelectorAll('table').forEach((t, i) => {
    if (!shown(t)) return;
    const wide = Math.max(t.scrollWidth, t.getBoundingClientRect().right) > width + 1;
    const why = wide ? ownBox(t) : '';
    if (why) problems.push(`table ${i} (${t.scrollWidth} px wide): ${why}`);
  });
  document.querySelectorAll('img').forEach((img, i) => {
    if (img.getBoundingClientRect().right > width + 1)
      problems.push(`image ${i} is wider than the screen`);
  });
  document.querySelectorAll('td, th').forEach((c, i) => {
    if (/[\uac00-\ud7a3]/.test(c.textContent) && getComputedStyle(c).wordBreak !== 'keep-all')
      problems.push(`table cell "${c.textContent.trim().slice(0, 20)}" may break per syllable`);
  });
  // The answer first: a page's summary block (the verdict) comes before its first table and
  // before its sections (h3) of computed sentences.
  const summary = document.querySelector('.rl-summary');
  if (summary) {
    const after = el => summary.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING;
    const table = [...document.querySelectorAll('table')].find(t => !summary.contains(t));
    const section = [...document.querySelectorAll('h3')].find(
      h => !summary.contains(h) && !h.closest('.rl-outcome'));
    if (table && !after(table)) problems.push('a table comes before the summary block');
    if (section && !after(section))
      problems.push(`section "${section.textContent.trim().slice(0, 30)}" precedes the summary`);
  }
  return {title: document.title, problems: problems.slice(0, 10),
          height: document.documentElement.scrollHeight, summary: !!summary};
})()"""
OPEN_DETAILS_JS = """document.querySelectorAll('details').forEach(d => { d.open = true; });
void document.body.offsetHeight; true"""
# Pages that must open with a summary block (the verdict), before their tables and sections.
LEADING_SUMMARY = ("comparison_report",)


@dataclass
class PageReport:
    """What one page looked like at one width in one font setting."""

    page: str
    width: int
    fonts: str  # "system" or "no-cjk"
    title: str = ""
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: bool = False  # the page has a summary block (a verdict, headline figures)
    hangul_chars: int = 0
    hangul_fonts: dict[str, int] = field(default_factory=dict)


def _as_fds_3_and_4(read_end: int, write_end: int) -> Any:
    """In the child: the pipe ends as fds 3 and 4 (inheritable; os.pipe's ends are not, so
    nothing else of ours leaks into Chromium)."""

    def setup() -> None:
        read_copy, write_copy = os.dup(read_end), os.dup(write_end)  # never clobbered below
        os.dup2(read_copy, 3)
        os.dup2(write_copy, 4)

    return setup


class Chromium:
    """A headless Chromium driven over --remote-debugging-pipe (JSON messages ended by NUL)."""

    def __init__(self, binary: str, env: dict[str, str]) -> None:
        self.profile = tempfile.mkdtemp(prefix="check-pages-profile-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Chromium reads commands from fd 3 and writes answers to fd 4.
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
             "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--no-first-run", "--no-default-browser-check", "--allow-file-access-from-files",
             "about:blank"],
            close_fds=False, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_as_fds_3_and_4(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(self._read())
        raise TimeoutError(f"Chromium sent no {method} within {timeout} s")

    def close(self) -> None:
        with suppress(RuntimeError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_child)
        os.close(self._from_child)
        shutil.rmtree(self.profile, ignore_errors=True)


def _hangul_fonts(browser: Chromium, session: str) -> tuple[int, dict[str, int], list[str]]:
    """Hangul characters in the text, glyphs drawn per font family, and the elements whose
    Hangul is not all drawn by Korean fonts."""
    browser.send("DOM.enable", session=session)
    browser.send("CSS.enable", session=session)
    root = browser.send("DOM.getDocument", {"depth": -1, "pierce": False}, session=session)
    total, families, bad = 0, {}, []

    def visit(node: dict[str, Any]) -> Iterator[tuple[int, int, str]]:
        texts = [c.get("nodeValue", "") for c in node.get("children", [])
                 if c.get("nodeType") == 3]
        count = sum(len(HANGUL.findall(t)) for t in texts)
        if count and node.get("nodeName") not in ("STYLE", "SCRIPT", "TITLE"):
            yield node["nodeId"], count, "".join(texts).strip()[:30]
        for child in node.get("children", []):
            yield from visit(child)

    for node_id, count, text in visit(root["root"]):
        fonts = browser.send("CSS.getPlatformFontsForNode", {"nodeId": node_id},
                             session=session)["fonts"]
        korean = 0
        for font in fonts:
            name = font["familyName"] + (" (embedded)" if font.get("isCustomFont") else "")
            families[name] = families.get(name, 0) + int(font["glyphCount"])
            if font.get("isCustomFont") or KOREAN_FAMILIES.search(font["familyName"]):
                korean += int(font["glyphCount"])
        total += count
        if korean < count:
            bad.append(text)
    return total, families, bad


def _evaluate(browser: Chromium, session: str, expression: str) -> Any:
    return browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                        session=session)["result"]["value"]


def check_page(browser: Chromium, path: Path, width: int, fonts: str,
               shots: Path | None) -> PageReport:
    """Open ``path`` at ``width`` px and check it (see the module docstring)."""
    report = PageReport(path.name, width, fonts)
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"]
    browser.events.clear()
    for domain in ("Page", "Network", "Runtime"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        session=session)
    browser.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    browser.wait_for("Page.loadEventFired")
    # Wait for the fonts, then lay the page out afresh: text shaped before the embedded font
    # arrived would otherwise still be reported with the fallback font it was first shaped in.
    browser.send("Runtime.evaluate", {"expression": RELAYOUT_JS, "awaitPromise": True},
                 session=session)
    report.requests = [
        e["params"]["request"]["url"] for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
        and not e["params"]["request"]["url"].startswith(("file:", "data:"))
    ]
    measured = _evaluate(browser, session, MEASURE_JS)
    report.title, report.problems = measured["title"], list(measured["problems"])
    report.summary = bool(measured["summary"])
    if shots is not None:  # as the reader first sees it: folded sections folded
        browser.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(SHOT_HEIGHT, int(measured["height"])),
            "deviceScaleFactor": 1, "mobile": width < 600}, session=session)
        png = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        suffix = "" if fonts == "system" else f"-{fonts}"
        (shots / f"{path.stem}-{width}px{suffix}.png").write_bytes(base64.b64decode(png["data"]))
        browser.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
            session=session)
    # then every folded section opened: its tables and its Hangul are checked too
    _evaluate(browser, session, OPEN_DETAILS_JS)
    unfolded = _evaluate(browser, session, MEASURE_JS)
    report.problems += [p for p in unfolded["problems"] if p not in report.problems]
    report.hangul_chars, report.hangul_fonts, bad = _hangul_fonts(browser, session)
    report.problems += [f'Hangul in "{text}" is not drawn by a Korean font' for text in bad[:5]]
    browser.send("Target.closeTarget", {"targetId": target})
    return report


def broken_links(page: Path, root: Path) -> list[str]:
    """Relative links and sources of ``page`` that do not point to a file inside ``root``."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for ref in re.findall(r'(?:href|src)="([^"#]+)', text):
        parsed = urlparse(ref)
        if parsed.scheme or ref.startswith("//"):
            if parsed.scheme == "file":
                broken.append(ref)  # an absolute local path
            continue
        target = (page.parent / unquote(parsed.path)).resolve()
        if not target.exists() or root.resolve() not in target.parents:
            broken.append(ref)
    return broken


@contextmanager
def no_cjk_fontconfig() -> Iterator[dict[str, str]]:
    """An environment whose fontconfig sees only DejaVu and Liberation (no Korean font)."""
    folder = Path(tempfile.mkdtemp(prefix="check-pages-fonts-"))
    dirs = "".join(f"<dir>{d}</dir>" for d in NO_CJK_FONT_DIRS if Path(d).is_dir())
    conf = folder / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                    f"<fontconfig>{dirs}<include ignore_missing=\"yes\">/etc/fonts/conf.d</include>"
                    f"<cachedir>{folder / 'cache'}</cachedir></fontconfig>",
                    encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    try:
        if shutil.which("fc-list"):
            korean = subprocess.run(["fc-list", ":lang=ko", "family"], env=env, check=False,
                                    capture_output=True, text=True).stdout.strip()
            if korean:
                raise RuntimeError(f"the no-CJK fontconfig still sees Korean fonts: {korean}")
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def moved_copy(site: Path, into: Path) -> Path:
    """``site`` zipped and unzipped under ``into`` (as a reader receiving the zip would)."""
    archive = shutil.make_archive(str(into / "site"), "zip", root_dir=site)
    copy = into / "unzipped"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(copy)
    return copy


def failures(report: PageReport) -> list[str]:
    """One line per problem of ``report``."""
    where = f"{report.page} at {report.width} px ({report.fonts} fonts)"
    lines = [f"{where}: requested {url}" for url in report.requests]
    lines += [f"{where}: {problem}" for problem in report.problems]
    if Path(report.page).stem in LEADING_SUMMARY and not report.summary:
        lines.append(f"{where}: the page does not open with its summary block (the verdict)")
    if not re.search(r"\d{4}-\d{2}", report.title):
        lines.append(f"{where}: the title {report.title!r} has no month or date")
    return lines


def run_checks(site: Path, shots: Path | None, widths: list[int], chromium: str) -> list[str]:
    """Every check on every page of ``site``; the failures, one line each (empty: all good)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="check-pages-") as tmp:
        copy = moved_copy(site, Path(tmp))
        pages = sorted(copy.glob("*.html"))
        if not pages:
            return [f"no HTML pages in {site}"]
        for page in pages:
            problems += [f"{page.name}: broken link {ref}" for ref in broken_links(page, copy)]
        with no_cjk_fontconfig() as bare_env:
            for fonts, env in (("system", dict(os.environ)), ("no-cjk", bare_env)):
                browser = Chromium(chromium, env)
                try:
                    for page in pages:
                        for width in widths:
                            report = check_page(browser, page, width, fonts, shots)
                            problems += failures(report)
                            print(f"{page.name:<24} {width:>5} px {fonts:<7} "
                                  f"{report.hangul_chars:>6} Hangul  {report.title}  "
                                  f"{dict(sorted(report.hangul_fonts.items()))}")
                finally:
                    browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=Path("outputs/site"),
                        help="folder written by report-lib pipeline (default: %(default)s)")
    parser.add_argument("--shots", type=Path, default=Path("outputs/page-shots"),
                        help="folder for the screenshots (default: %(default)s)")
    parser.add_argument("--widths", type=int, nargs="+", default=[1280, 400],
                        help="viewport widths in px (default: 1280 400)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium",
                        help="the Chromium binary (default: %(default)s)")
    ns = parser.parse_args(argv)
    if not ns.site.is_dir():
        print(f"check_pages: {ns.site} is not a folder; run `report-lib pipeline` first",
              file=sys.stderr)
        return 2
    if shutil.which(ns.chromium) is None:
        print(f"check_pages: no Chromium at {ns.chromium!r}; apt-get install chromium",
              file=sys.stderr)
        return 2
    ns.shots.mkdir(parents=True, exist_ok=True)
    problems = run_checks(ns.site, ns.shots, ns.widths, ns.chromium)
    for line in problems:
        print(f"FAIL {line}", file=sys.stderr)
    print(f"{'all checks passed' if not problems else f'{len(problems)} failures'}; "
          f"screenshots in {ns.shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
