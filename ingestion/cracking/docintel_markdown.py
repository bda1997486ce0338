"""Document Intelligence markdown -> our CrackedDocument text: pages, tables and markers made plain.

``prebuilt-layout`` with ``outputContentFormat=markdown`` returns one markdown string with HTML mixed in::

    # Title                          (the "title" paragraph)         -> kept
    ## Section                       (a "sectionHeading")            -> kept
    <table><caption>..</caption>     (HTML, with colspan/rowspan)    -> a pipe table with a |---| header separator
    <figure><figcaption>..</figure>  (figure text and caption)       -> the tags dropped, the text kept
    <!-- PageHeader="..." -->        (also PageFooter, PageNumber)   -> dropped (repeated noise on every page)
    <!-- PageBreak -->               (between physical pages)        -> dropped; where it stood becomes a PageSpan

The content is split at the page breaks, each page cleaned on its own and added to a ``DocumentBuilder`` as one
block, so every ``PageSpan`` offset is exact in the final text by construction. Pages are numbered physically
(1, 2, 3, ... or the service's ``pageNumber`` list when it matches): printed ``PageNumber`` labels can be roman,
"Page 3 of 10" or missing, and a citation should open the right page of the file. Everything here is pure.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from bs4 import BeautifulSoup, Tag

from ingestion.cracking.structure import DocumentBuilder, TableLimits, collect_rows, normalize_inline, pipe_table
from ingestion.models import CrackedDocument

PAGE_BREAK = re.compile(r"<!--\s*PageBreak\s*-->")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TABLE = re.compile(r"<table\b.*?</table\s*>", re.DOTALL | re.IGNORECASE)
_FIGURE_TAG = re.compile(r"</?(?:figure|figcaption)\b[^>]*>", re.IGNORECASE)
_TITLE = re.compile(r"^# +(\S.*)$", re.MULTILINE)
_MAX_SPAN = 1000  # cap on rowspan/colspan values (the service never needs more; a bad value must not blow up)


def split_pages(content: str) -> list[str]:
    """The markdown of each physical page, in order (one element when there is no page break)."""
    return PAGE_BREAK.split(content)


def clean_page(markdown: str, limits: TableLimits) -> str:
    """One page's markdown without HTML comments or figure tags, with every HTML table as a pipe table."""
    text = _balance_tables(_COMMENT.sub("", markdown))
    text = _TABLE.sub(lambda match: "\n\n" + html_table_to_markdown(match.group(0), limits) + "\n\n", text)
    return _FIGURE_TAG.sub("\n", text)


def _balance_tables(text: str) -> str:
    """Close a table a page break cut off at the end of a page, and open one it continues at the start of a page."""
    lowered = text.lower()
    if lowered.rfind("<table") > lowered.rfind("</table"):
        text += "</table>"
    first_close = lowered.find("</table")
    if first_close != -1 and not 0 <= lowered.find("<table") < first_close:
        text = "<table>" + text
    return text


def html_table_to_markdown(html: str, limits: TableLimits) -> str:
    """An HTML ``<table>`` as a markdown pipe table (first row = header), preceded by its caption if any.

    ``rowspan`` repeats the cell's text on every row it covers (each row stays self-contained when a chunk boundary
    splits the table); ``colspan`` puts the text in the first column it covers and leaves the others empty.
    """
    table = BeautifulSoup(html, "html.parser").find("table")
    if not isinstance(table, Tag):
        return ""
    caption = table.find("caption")
    title = normalize_inline(caption.get_text(" ")) if isinstance(caption, Tag) else ""
    kept, truncated = collect_rows(_grid(table, limits), limits)
    parts = [part for part in (title, pipe_table(kept)) if part]
    if truncated:
        parts.append(f"(table truncated: at most {limits.max_rows} rows are kept)")
    return "\n\n".join(parts)


def _grid(table: Tag, limits: TableLimits) -> list[list[str]]:
    rows: list[list[str]] = []
    carried: dict[int, tuple[str, int]] = {}  # column -> (text, rows still to fill) from a rowspan above
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a nested table's row
        row: list[str] = []
        cells = [cell for cell in tr.find_all(["th", "td"]) if cell.find_parent("tr") is tr]
        for cell in cells:
            _fill_carried(row, carried)
            text = cell.get_text(" ")
            rowspan = _span(cell.get("rowspan"))
            for offset in range(min(_span(cell.get("colspan")), limits.max_columns)):
                value = text if offset == 0 else ""
                if rowspan > 1:
                    carried[len(row)] = (value, rowspan - 1)
                row.append(value)
        _fill_carried(row, carried, to_end=True)
        rows.append(row)
    return rows


def _fill_carried(row: list[str], carried: dict[int, tuple[str, int]], *, to_end: bool = False) -> None:
    """Put rowspan values from rows above into ``row`` at the columns they cover (all remaining ones if ``to_end``)."""
    while len(row) in carried or (to_end and any(column >= len(row) for column in carried)):
        column = len(row)
        if column not in carried:
            row.append("")
            continue
        text, remaining = carried.pop(column)
        if remaining > 1:
            carried[column] = (text, remaining - 1)
        row.append(text)


def _span(value: object) -> int:
    try:
        return max(1, min(int(str(value)), _MAX_SPAN))
    except ValueError:
        return 1


def first_title(text: str) -> str:
    """The text of the first ``# `` heading, or ""."""
    match = _TITLE.search(text)
    return normalize_inline(match.group(1)) if match else ""


def markdown_to_document(
    content: str,
    *,
    page_numbers: Sequence[int] = (),
    fallback_title: str,
    content_type: str,
    limits: TableLimits | None = None,
) -> CrackedDocument:
    """Build the document from the service's markdown ``content``; ``page_numbers`` label the pages in order.

    When ``page_numbers`` does not have one entry per page break-separated segment, pages are numbered 1, 2, 3...
    A page that is empty after cleaning gets no span. The result may have empty text: the caller decides what that
    means.
    """
    builder = DocumentBuilder(content_type=content_type, limits=limits)
    pages = split_pages(content)
    numbers = list(page_numbers) if len(page_numbers) == len(pages) else list(range(1, len(pages) + 1))
    for number, page in zip(numbers, pages, strict=True):
        builder.start_page(number)
        builder.add(clean_page(page, builder.limits))
    document = builder.build(title=fallback_title)
    title = first_title(document.text)
    return dataclasses.replace(document, title=title) if title else document
