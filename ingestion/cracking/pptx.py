"""PowerPoint (.pptx) with python-pptx: one page span per slide.

Each slide starts with ``## Slide N: <title>``; then its shapes top-to-bottom, left-to-right (groups entered, text
frames as lines, tables as pipe tables), then its speaker notes. Pictures and charts carry no text and are skipped.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pptx
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from ingestion.cracking.structure import DocumentBuilder, TableLimits, normalize_inline
from ingestion.errors import NoTextError
from ingestion.models import CrackedDocument

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def crack(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    presentation = pptx.Presentation(io.BytesIO(data))
    builder = DocumentBuilder(content_type=CONTENT_TYPE, limits=limits)
    has_content = False
    for number, slide in enumerate(presentation.slides, start=1):
        builder.start_page(number)
        has_content |= _slide(builder, slide, number)
    if not has_content:
        raise NoTextError("no text on any slide")
    title = normalize_inline(presentation.core_properties.title or "")
    return builder.build(title=title or name)


def _slide(builder: DocumentBuilder, slide: Slide, number: int) -> bool:
    """Add one slide; True when it had any text besides its generated heading."""
    title_shape = slide.shapes.title
    title = normalize_inline(title_shape.text_frame.text) if title_shape is not None else ""
    builder.heading(f"Slide {number}: {title}" if title else f"Slide {number}", 2)
    title_id = title_shape.shape_id if title_shape is not None else None
    has_content = bool(title)
    for shape in _ordered(slide.shapes):
        if shape.shape_id != title_id:
            has_content |= _shape(builder, shape)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = normalize_inline(notes.text) if notes is not None else ""
        if text:
            builder.paragraph(f"Notes: {text}")
            has_content = True
    return has_content


def _ordered(shapes: Iterable[BaseShape]) -> list[BaseShape]:
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _shape(builder: DocumentBuilder, shape: BaseShape) -> bool:
    if isinstance(shape, GroupShape):
        found = False
        for child in _ordered(shape.shapes):
            found |= _shape(builder, child)
        return found
    if getattr(shape, "has_table", False):
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        builder.table(rows)
        return any(any(cell.strip() for cell in row) for row in rows)
    if shape.has_text_frame:
        lines = [paragraph.text for paragraph in shape.text_frame.paragraphs]
        builder.lines(line for line in lines if line.strip())
        return any(line.strip() for line in lines)
    return False
