"""Excel (.xlsx) with openpyxl in read-only mode: one ``# Sheet: <name>`` heading and pipe table per sheet.

Cells are read as their cached values (formulas show their last computed result). Each sheet with data is one page
span numbered by its position in the workbook; empty sheets are skipped. Rows and columns are capped by TableLimits.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, time

import openpyxl

from ingestion.cracking.structure import DocumentBuilder, TableLimits, collect_rows, normalize_inline
from ingestion.errors import DocumentTooLargeError, NoTextError
from ingestion.models import CrackedDocument

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def crack(data: bytes, *, name: str, limits: TableLimits) -> CrackedDocument:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        builder = DocumentBuilder(content_type=CONTENT_TYPE, limits=limits)
        cells = _CellCount(limits.max_workbook_cells)
        for number, sheet in enumerate(workbook.worksheets, start=1):
            rows = sheet.iter_rows(values_only=True, max_col=limits.max_columns)
            _sheet(builder, number, sheet.title, cells.counted(rows))
        title = normalize_inline(workbook.properties.title or "")
    finally:
        workbook.close()
    if not builder.has_text:
        raise NoTextError("no data in any sheet")
    return builder.build(title=title or name)


class _CellCount:
    """Cells read from the whole workbook; past ``cap`` the workbook is too large (MAX_WORKBOOK_CELLS)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen = 0

    def counted(self, rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
        for row in rows:
            self.seen += len(row)
            if self.seen > self.cap:
                raise DocumentTooLargeError(f"workbook has more than {self.cap:,} cells (MAX_WORKBOOK_CELLS)")
            yield row


def _sheet(builder: DocumentBuilder, number: int, title: str, rows: Iterator[tuple[object, ...]]) -> None:
    kept, truncated = collect_rows(([cell_text(value) for value in row] for row in rows), builder.limits)
    if not kept:
        return
    builder.start_page(number)
    builder.heading(f"Sheet: {title}", 1)
    builder.collected_table(kept, truncated=truncated)


def cell_text(value: object) -> str:
    """A cell value as text: whole floats without ``.0``, dates in ISO form, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
