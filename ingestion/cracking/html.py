"""HTML with BeautifulSoup (lxml parser): headings, paragraphs, lists, pipe tables and fenced code.

The main content is kept when the page marks it (``[role=main]``, ``<main>``, a single ``<article>``, Sphinx's
``div.body``, or a ``#content``-style id); otherwise the whole body minus page chrome. Always dropped: scripts,
styles, form controls, ``<nav>``, ``<footer>``, hidden elements, navigation/search/banner roles, Sphinx sidebars and
``¶`` header links; ``<header>`` and ``<aside>`` too when no main content element was found (or it was empty).
Link text is kept.
Tables with one column or with block content inside their cells are layout tables: their cells are read as blocks.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Callable

from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import PageElement, PreformattedString

from ingestion.cracking.structure import DocumentBuilder, TableLimits, normalize_inline
from ingestion.cracking.text import decode_text, has_bom, looks_binary
from ingestion.errors import NoTextError, UndecodableTextError
from ingestion.models import CrackedDocument

CONTENT_TYPE = "text/html"
# XHTML pages (an <?xml ...?> declaration first) are parsed as HTML on purpose.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "object",
        "embed",
        "canvas",
        "audio",
        "video",
        "map",
        "button",
        "input",
        "select",
        "textarea",
        "label",
        "option",
        "head",
        "title",
        "meta",
        "link",
        "nav",
        "footer",
    }
)
_PAGE_CHROME_TAGS = frozenset({"header", "aside"})  # dropped only when the page does not mark its main content
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_CHROME_CLASSES = frozenset({"headerlink", "sphinxsidebar", "related", "navheader", "navfooter", "breadcrumbs"})
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "center",
        "fieldset",
        "form",
        "hr",
        "body",
        "html",
        "header",
        "aside",
        "caption",
        "legend",
        "hgroup",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "ol",
        "li",
        "pre",
    }
) | frozenset(_HEADINGS)
_MAIN_IDS = ("main-content", "content", "main", "docs-content", "yui-main")
_LANGUAGE = re.compile(r"^(?:language|lang|highlight)-([\w+#.-]{1,30})$")


def crack(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    soup = BeautifulSoup(_markup(data), "lxml")
    builder = DocumentBuilder(content_type=CONTENT_TYPE, limits=limits)
    root, marked = _main_root(soup)
    _Walker(builder, drop_page_chrome=not marked).blocks(root)
    if not builder.has_text and marked:  # the marked element was empty: fall back to the whole body
        _Walker(builder, drop_page_chrome=True).blocks(soup.body or soup)
    if not builder.has_text:
        raise NoTextError("no text in HTML page")
    title = normalize_inline(soup.title.get_text()) if soup.title is not None else ""
    return builder.build(title=title or name)


def _markup(data: bytes) -> str | bytes:
    """UTF-8 (and BOM-marked) pages as text; pages declaring another charset as bytes for bs4 to decode."""
    if looks_binary(data):
        raise UndecodableTextError("binary content (NUL bytes), not HTML")
    if has_bom(data):
        return decode_text(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = EncodingDetector.find_declared_encoding(data, is_html=True, search_entire_document=False)
    if declared and _known_codec(declared):
        return data
    return decode_text(data)


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _main_root(soup: BeautifulSoup) -> tuple[Tag, bool]:
    """The element holding the page's main content and whether the page marked it; else the body."""
    body = soup.body or soup
    found: dict[str, Tag] = {}
    articles = 0
    for tag in body.find_all(True):
        attrs = tag.attrs
        if attrs.get("role") == "main":
            return tag, True
        if tag.name in ("main", "article"):
            key = tag.name
            articles += tag.name == "article"
        elif tag.name == "div" and "body" in (attrs.get("class") or ()):
            key = "div.body"
        elif attrs.get("id") in _MAIN_IDS:
            key = f"#{attrs['id']}"
        else:
            continue
        found.setdefault(key, tag)
    if articles > 1:  # a listing of several articles: none of them is the page
        found.pop("article", None)
    for key in ("main", "article", "div.body", *(f"#{name}" for name in _MAIN_IDS)):
        if key in found:
            return found[key], True
    return body, False


def _is_text(node: object) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


class _Walker:
    """Depth-first walk that buffers inline text and emits a block at each block-level boundary.

    The walk is iterative (an explicit stack holding nodes and end-of-element actions), so pathologically deep
    markup, such as thousands of unclosed ``<font>`` tags, cannot exhaust Python's recursion limit.
    """

    def __init__(self, builder: DocumentBuilder, *, drop_page_chrome: bool) -> None:
        self._builder = builder
        self._drop_page_chrome = drop_page_chrome
        self._inline: list[str] = []
        self._prefix = ""
        self._lists: list[list[int]] = []  # [ordered (0/1), items so far] per open list
        self._stack: list[PageElement | Callable[[], None]] = []

    def blocks(self, node: Tag) -> None:
        self._push_children(node)
        while self._stack:
            item = self._stack.pop()
            if isinstance(item, Tag):
                self._element(item)
            elif _is_text(item):
                self._inline.append(item)
            elif callable(item):
                item()
        self._flush()

    def _push_children(self, tag: Tag, *, then: Callable[[], None] | None = None) -> None:
        """Visit ``tag``'s children next, then run ``then``."""
        if then is not None:
            self._stack.append(then)
        self._stack.extend(reversed(tag.contents))

    def _flush(self) -> None:
        if self._inline:
            text = "".join(self._inline)
            self._inline.clear()
            if text.strip():
                self._builder.paragraph(text, prefix=self._prefix)
                self._prefix = ""

    def _element(self, tag: Tag) -> None:
        if self._is_chrome(tag):
            return
        name = tag.name
        if name == "br":
            self._inline.append(" ")
        elif name not in _BLOCK_TAGS:
            self._push_children(tag)  # inline element: its text joins the current paragraph
        else:
            self._flush()
            self._block(tag, name)

    def _block(self, tag: Tag, name: str) -> None:
        if name in _HEADINGS:
            self._builder.heading(self._inline_text(tag), _HEADINGS[name])
        elif name == "pre":
            self._builder.code(tag.get_text(), _language(tag))
        elif name == "table":
            self._table(tag)
        elif name in ("ul", "ol"):
            start = tag.get("start") if name == "ol" else None
            first = int(start) - 1 if isinstance(start, str) and start.isdigit() else 0
            self._lists.append([int(name == "ol"), first])
            self._push_children(tag, then=self._end_list)
        elif name == "li":
            self._prefix = self._marker()
            self._push_children(tag, then=self._end_item)
        else:
            self._push_children(tag, then=self._flush)

    def _end_list(self) -> None:
        self._flush()
        self._lists.pop()

    def _end_item(self) -> None:
        self._flush()
        self._prefix = ""

    def _marker(self) -> str:
        if not self._lists:
            return "- "
        current = self._lists[-1]
        current[1] += 1
        indent = "  " * (len(self._lists) - 1)
        return f"{indent}{current[1]}. " if current[0] else f"{indent}- "

    def _table(self, table: Tag) -> None:
        rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
        cells = [tr.find_all(("td", "th"), recursive=False) for tr in rows]
        layout = table.find(("table", "pre", *_HEADINGS)) is not None
        if not rows or layout or max(len(row) for row in cells) <= 1:
            self._push_children(table, then=self._flush)
            return
        caption = table.find("caption")
        if caption is not None:
            self._builder.paragraph(self._inline_text(caption))
        self._builder.table(self._row(row) for row in cells)

    def _row(self, cells: list[Tag]) -> list[str]:
        texts: list[str] = []
        for cell in cells:
            texts.append(self._inline_text(cell))
            span = cell.get("colspan")
            if isinstance(span, str) and span.isdigit():
                texts.extend([""] * min(int(span) - 1, self._builder.limits.max_columns))
        return texts

    def _inline_text(self, tag: Tag) -> str:
        """All text under ``tag`` on one line, chrome skipped, block boundaries as spaces (iteratively)."""
        parts: list[str] = []
        stack: list[PageElement | str] = list(reversed(tag.contents))
        while stack:
            node = stack.pop()
            if isinstance(node, Tag):
                if self._is_chrome(node):
                    continue
                if node.name in _BLOCK_TAGS or node.name == "br":
                    parts.append(" ")
                    stack.append(" ")
                stack.extend(reversed(node.contents))
            elif type(node) is str or _is_text(node):
                parts.append(node)
        return normalize_inline("".join(parts))

    def _is_chrome(self, tag: Tag) -> bool:
        name = tag.name
        if name in _SKIP_TAGS or (self._drop_page_chrome and name in _PAGE_CHROME_TAGS):
            return True
        attrs = tag.attrs
        if not attrs:
            return False
        classes = attrs.get("class")
        if attrs.get("role") in _CHROME_ROLES or (classes and not _CHROME_CLASSES.isdisjoint(classes)):
            return True
        if "hidden" in attrs or attrs.get("aria-hidden") == "true":
            return True
        style = attrs.get("style")
        return isinstance(style, str) and "display:none" in style.replace(" ", "").lower()


def _language(pre: Tag) -> str:
    """The code language from ``language-x`` / ``lang-x`` / Sphinx ``highlight-x`` classes near the ``<pre>``."""
    candidates = [pre, pre.find("code"), pre.parent, pre.parent.parent if pre.parent is not None else None]
    for tag in candidates:
        if not isinstance(tag, Tag):
            continue
        for css_class in tag.get("class") or ():
            match = _LANGUAGE.match(css_class)
            if match and match.group(1) != "default":
                return match.group(1)
    return ""
