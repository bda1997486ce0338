"""The fake Document Intelligence service's "layout model": builds an ``analyzeResult`` with true spans.

``Result`` assembles ``content`` block by block (markdown or plain text) and records ``pages``, ``paragraphs`` and
``tables`` with spans into it. ``analyze_pdf`` reads a PDF's text layer with pypdf (see docintel_server);
``analyze_markdown`` wraps given markdown (``respond_with``); docintel_content analyses the other formats. Content
the service would refuse raises ``Refused`` (a 400 ``InvalidRequest`` with that innererror code).
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from typing import Any

from pypdf import PasswordType, PdfReader

CORRUPT = "The file is corrupted or format is unsupported. Refer to documentation for the list of supported formats."
_PAGE_LABEL = re.compile(r"^(?:page\s+)?\d+(?:\s+(?:of|/)\s+\d+)?$", re.IGNORECASE)


class Refused(Exception):
    """The service refuses this content: 400 InvalidRequest with innererror ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Result:
    """Builds ``content`` block by block and records true spans for pages, paragraphs and tables."""

    def __init__(self, *, markdown: bool) -> None:
        self.markdown = markdown
        self.content = ""
        self.pages: list[dict[str, Any]] = []
        self.paragraphs: list[dict[str, Any]] = []
        self.tables: list[dict[str, Any]] = []
        self._page_start = 0

    def block(self, text: str) -> dict[str, int]:
        if self.content:
            self.content += "\n\n" if self.markdown else "\n"
        span = {"offset": len(self.content), "length": len(text)}
        self.content += text
        return span

    def paragraph(self, text: str, role: str | None = None) -> None:
        prefix = {"title": "# ", "sectionHeading": "## "}.get(role or "", "") if self.markdown else ""
        shown = f'<!-- PageNumber="{html.escape(text)}" -->' if role == "pageNumber" and self.markdown else text
        span = self.block(prefix + shown)
        paragraph: dict[str, Any] = {"content": text, "spans": [span], "boundingRegions": self._region()}
        if role:
            paragraph["role"] = role
        self.paragraphs.append(paragraph)

    def table(self, rows: list[list[str]]) -> None:
        width = max(len(row) for row in rows)
        if self.markdown:
            lines = ["<table>"]
            for index, row in enumerate(rows):
                tag = "th" if index == 0 else "td"
                lines.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>")
            span = self.block("\n".join([*lines, "</table>"]))
        else:
            span = self.block("\n".join(" ".join(row) for row in rows))
        cells = [
            {"rowIndex": r, "columnIndex": c, "content": text, **({"kind": "columnHeader"} if r == 0 else {})}
            for r, row in enumerate(rows)
            for c, text in enumerate(row)
        ]
        self.tables.append(
            {
                "rowCount": len(rows),
                "columnCount": width,
                "cells": cells,
                "spans": [span],
                "boundingRegions": self._region(),
            }
        )

    def end_page(self, *, last: bool) -> None:
        number = len(self.pages) + 1
        span = {"offset": self._page_start, "length": len(self.content) - self._page_start}
        self.pages.append(
            {
                "pageNumber": number,
                "angle": 0.0,
                "width": 8.5,
                "height": 11.0,
                "unit": "inch",
                "words": [],
                "lines": [],
                "spans": [span],
            }
        )
        if not last:
            if self.markdown:
                self.block("<!-- PageBreak -->")
            self._page_start = len(self.content) + (2 if self.markdown else 1)

    def _region(self) -> list[dict[str, Any]]:
        return [{"pageNumber": len(self.pages) + 1, "polygon": [1.0, 1.0, 7.5, 1.0, 7.5, 1.3, 1.0, 1.3]}]

    def as_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "contentFormat": "markdown" if self.markdown else "text",
            "pages": self.pages,
            "paragraphs": self.paragraphs,
            "tables": self.tables,
            "sections": [],
            "styles": [],
        }


def analyze_pdf(data: bytes, *, markdown: bool, max_pages: int | None = None) -> dict[str, Any]:
    """The fake's layout analysis of a PDF's text layer (see the module docstring)."""
    reader = PdfReader(io.BytesIO(data))
    pages = [page_lines(page) for page in reader.pages[:max_pages]]
    sizes = Counter(size for lines in pages for _, size in lines)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    largest = max(sizes, default=0.0)
    result = Result(markdown=markdown)
    for number, lines in enumerate(pages, start=1):
        table: list[list[str]] = []
        for index, (text, size) in enumerate(lines):
            if " | " in text:
                table.append([cell.strip() for cell in text.split("|")])
                continue
            if table:
                result.table(table)
                table = []
            if number == 1 and index == 0 and size == largest > body:
                result.paragraph(text, "title")
            elif size > body:
                result.paragraph(text, "sectionHeading")
            elif _PAGE_LABEL.match(text):
                result.paragraph(text, "pageNumber")
            else:
                result.paragraph(text)
        if table:
            result.table(table)
        result.end_page(last=number == len(pages))
    return result.as_dict()


def analyze_markdown(markdown_text: str, *, markdown: bool, max_pages: int | None = None) -> dict[str, Any]:
    """A canned answer: ``markdown_text`` as given (or stripped of markup for the text format), with page spans."""
    pages = re.split(r"\n*<!-- PageBreak -->\n*", markdown_text.strip())[:max_pages]
    result = Result(markdown=markdown)
    for number, page in enumerate(pages, start=1):
        shown = page if markdown else re.sub(r"<[^>]+>|^#+ ", "", page, flags=re.MULTILINE).strip()
        result.block(shown)
        result.end_page(last=number == len(pages))
    return result.as_dict()


def check_pdf(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        pages = len(reader.pages)
    except Exception:  # whatever pypdf raises, the service would call it corrupt
        raise Refused("InvalidContent", CORRUPT) from None
    if locked:
        raise Refused("InvalidContent", "The document is password protected.")
    if pages == 0:
        raise Refused("InvalidContent", CORRUPT)


def page_lines(page: Any) -> list[tuple[str, float]]:
    """(text, font size) of each line on a page, in reading order."""
    lines: list[tuple[str, float]] = []

    def visit(text: str, _cm: object, _tm: object, _font: object, size: float) -> None:
        for part in text.split("\n"):
            if part.strip():
                lines.append((" ".join(part.split()), float(size)))

    page.extract_text(visitor_text=visit)
    return lines
