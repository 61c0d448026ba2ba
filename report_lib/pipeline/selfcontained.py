"""Does a page load anything from elsewhere? Every reference that would make a browser fetch.

Links a reader may follow (``<a href>``) are not fetched and not counted; everything a browser
loads on its own is: script/img/iframe/embed/source/track/audio/video/object sources, ``srcset``,
``<link href>`` (stylesheets, icons, preloads), ``url(...)`` and ``@import`` in stylesheets and
``style`` attributes, ``<meta http-equiv="refresh">``. A reference counts as external when it is
``http:``, ``https:`` or protocol-relative (``//host``); ``data:`` and relative files do not.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
_CSS_REF = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
_SOURCE_ATTRS = {"src", "data", "poster", "background", "action", "formaction"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def _css(self, text: str) -> None:
        for match in _CSS_REF.finditer(text):
            ref = match.group(1) or match.group(2)
            if _EXTERNAL.match(ref):
                self.found.append(ref)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        refs = [value for name, value in values.items() if name in _SOURCE_ATTRS]
        if tag in ("link", "image", "use", "feimage"):  # stylesheets, icons; SVG images
            refs += [values.get("href", ""), values.get("xlink:href", "")]
        if "srcset" in values:
            refs += [part.strip().split(" ")[0] for part in values["srcset"].split(",")]
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            refs.append(values.get("content", "").partition("url=")[2])
        self.found += [ref for ref in refs if _EXTERNAL.match(ref)]
        self._css(values.get("style", ""))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)


def external_resources(page: str) -> list[str]:
    """Every external reference a browser would fetch while showing ``page`` (see module doc)."""
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector.found
