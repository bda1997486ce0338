"""Word (.docx) with python-docx: body paragraphs and tables in document order.

``Title`` style -> ``#``, ``Heading N`` -> N ``#`` (at most 6), list styles -> ``- `` items, tables -> pipe tables.
Headers, footers, comments and text boxes are not read. The title is core_properties.title, else the file name.
"""

from __future__ import annotations

import io
import re

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingestion.cracking.structure import DocumentBuilder, TableLimits, normalize_inline
from ingestion.errors import NoTextError
from ingestion.models import CrackedDocument

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def crack(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    document = docx.Document(io.BytesIO(data))
    builder = DocumentBuilder(content_type=CONTENT_TYPE, limits=limits)
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.table([cell.text for cell in row.cells] for row in block.rows)
        else:
            _paragraph(builder, block)
    if not builder.has_text:
        raise NoTextError("no text in document")
    title = normalize_inline(document.core_properties.title or "")
    return builder.build(title=title or name)


def _paragraph(builder: DocumentBuilder, paragraph: Paragraph) -> None:
    style = _style_name(paragraph)
    level = heading_level(style)
    if level:
        builder.heading(paragraph.text, level)
    elif style.lower().startswith("list"):
        builder.paragraph(paragraph.text, prefix="- ")
    else:
        builder.paragraph(paragraph.text)


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def heading_level(style_name: str) -> int:
    """1 for Title, N for ``Heading N``, 0 for anything else."""
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name.strip())
    return min(int(match.group(1)), 6) if match else 0
