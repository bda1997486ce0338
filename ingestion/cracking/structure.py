"""Shared building blocks for the format crackers: text normalization, markdown pipe tables, and a builder.

Every cracker emits *blocks* (a heading line, a paragraph, a pipe table, a fenced code block) into a
``DocumentBuilder``; the builder tidies each block, joins blocks with one blank line and records where each page
(slide, sheet) starts in the final text, so ``PageSpan`` offsets are exact by construction.

All helpers here are linear in their input: a 5 MB line without spaces goes through them in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingestion.models import CrackedDocument, PageSpan

# C0 controls except tab/newline/carriage return, DEL, and the Unicode line/paragraph separators.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")


@dataclass(frozen=True)
class TableLimits:
    """Caps applied to every table (docx/html/pptx tables, xlsx sheets, csv files)."""

    max_rows: int = 5_000
    max_columns: int = 64
    max_cell_chars: int = 2_000
    # Empty rows are skipped but still cost time: stop scanning a sheet after this many rows in total.
    max_scanned_rows: int = 200_000
    # Whole-document expansion caps (DocumentTooLargeError): cells read from all sheets of a workbook, and the
    # UTF-8 size of a JSON document once re-printed with indentation.
    max_workbook_cells: int = 1_000_000
    max_json_text_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        caps = (self.max_rows, self.max_columns, self.max_cell_chars, self.max_scanned_rows, self.max_workbook_cells)
        if min(*caps, self.max_json_text_bytes) < 1:
            raise ValueError("table limits must all be at least 1")


def normalize_inline(text: str) -> str:
    """Collapse every run of whitespace (newlines, tabs, no-break spaces) into one space; strip the ends."""
    return " ".join(_CONTROL_CHARS.sub(" ", text).split())


def tidy_block(block: str) -> str:
    """Normalize newlines, drop control characters and trailing spaces, keep at most one blank line in a row."""
    block = _CONTROL_CHARS.sub("", _NEWLINES.sub("\n", block))
    lines: list[str] = []
    blank = True  # drops leading blank lines too
    for line in block.split("\n"):
        line = line.rstrip()
        if not line:
            if not blank:
                lines.append("")
            blank = True
            continue
        blank = False
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _cell(value: str, limits: TableLimits) -> str:
    text = normalize_inline(value)
    if len(text) > limits.max_cell_chars:
        text = text[: limits.max_cell_chars - 1] + "…"
    return text.replace("|", "\\|")


def collect_rows(rows: Iterable[Iterable[str]], limits: TableLimits) -> tuple[list[list[str]], bool]:
    """Normalize table rows for ``pipe_table``: cells cleaned and capped, empty rows dropped.

    Consumes ``rows`` lazily and stops at the caps; returns the rows and whether anything was left out.
    """
    kept: list[list[str]] = []
    for scanned, row in enumerate(rows, start=1):
        cells = [_cell(value, limits) for _, value in zip(range(limits.max_columns), row, strict=False)]
        if any(cells):
            if len(kept) == limits.max_rows:
                return kept, True
            kept.append(cells)
        if scanned >= limits.max_scanned_rows:
            return kept, True
    return kept, False


def pipe_table(rows: Sequence[Sequence[str]]) -> str:
    """A markdown pipe table: the first row is the header, then a ``|---|`` separator, then the other rows.

    ``rows`` should come from ``collect_rows`` (cells already escaped). Trailing all-empty columns are dropped and
    short rows padded. Returns "" when there is nothing in the table.
    """
    width = 0
    for row in rows:
        used = max((i + 1 for i, cell in enumerate(row) if cell), default=0)
        width = max(width, used)
    if width == 0:
        return ""
    lines = []
    for index, row in enumerate(rows):
        cells = [*row[:width], *([""] * (width - len(row)))]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "---|" * width)
    return "\n".join(lines)


def code_fence(code: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside ``code``."""
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{language}\n{code.strip(chr(10))}\n{fence}"


class DocumentBuilder:
    """Accumulates blocks into the final text and records page spans at their true offsets."""

    def __init__(self, *, content_type: str, limits: TableLimits | None = None) -> None:
        self.content_type = content_type
        self.limits = limits or TableLimits()
        self._parts: list[str] = []
        self._length = 0
        self._pages: list[PageSpan] = []
        self._pending_page: int | None = None

    @property
    def has_text(self) -> bool:
        return self._length > 0

    def start_page(self, number: int) -> None:
        """The next non-empty block starts page ``number``; a page that adds no text gets no span."""
        self._pending_page = number

    def add(self, block: str) -> None:
        """Add one block as is (tidied); empty blocks are ignored."""
        block = tidy_block(block)
        if not block:
            return
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        if self._pending_page is not None:
            self._pages.append(PageSpan(start=self._length, number=self._pending_page))
            self._pending_page = None
        self._parts.append(block)
        self._length += len(block)

    def heading(self, text: str, level: int) -> None:
        text = normalize_inline(text)
        if text:
            self.add("#" * min(max(level, 1), 6) + " " + text)

    def paragraph(self, text: str, *, prefix: str = "") -> None:
        text = normalize_inline(text)
        if text:
            self.add(prefix + text)

    def lines(self, lines: Iterable[str]) -> None:
        """One block of short lines kept on their own lines (slide bullets, PDF text lines)."""
        self.add("\n".join(normalize_inline(line) for line in lines))

    def table(self, rows: Iterable[Iterable[str]]) -> None:
        kept, truncated = collect_rows(rows, self.limits)
        self.collected_table(kept, truncated=truncated)

    def collected_table(self, kept: Sequence[Sequence[str]], *, truncated: bool) -> None:
        """Add rows already passed through ``collect_rows``, with a note when some were left out."""
        self.add(pipe_table(kept))
        if truncated:
            self.add(f"(table truncated: at most {self.limits.max_rows} rows are kept)")

    def code(self, code: str, language: str = "") -> None:
        if code.strip():
            self.add(code_fence(code, language))

    def build(self, *, title: str) -> CrackedDocument:
        return CrackedDocument(
            text="".join(self._parts),
            title=normalize_inline(title),
            pages=tuple(self._pages),
            content_type=self.content_type,
        )


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters (for one-line error messages)."""
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
