"""Text -> token-bounded chunks that follow the document's structure.

Each section (a heading and its body) is chunked on its own, so a chunk's heading path is exact. Inside a section a
chunk is packed up to the cap and ends at the best boundary in the second half of its budget: a paragraph break or
the edge of a code block or table, else a line break, else a sentence end, else any whitespace, else a token
boundary (a 5 MB line without spaces). A code block or table that fits in one chunk is never cut: the chunk ends
before it instead. A table that does not fit is cut between rows and every later piece repeats its header row and
separator. Consecutive chunks of one section overlap by up to ``overlap_tokens`` tokens, starting at a sentence or
word boundary; overlap never crosses a section and never pushes a chunk over the cap.

The cap is hard: ``Chunk.tokens`` is the exact count of ``Chunk.text`` and never exceeds ``max_tokens``. A
``titled`` chunker (the pipeline's, when headings are embedded) bounds the title embedded in front of the text to
a quarter of the cap (``titles.py``); with ``reserve_title`` (not the pipeline's default: it would move every chunk
boundary of existing indexes) it also keeps room for it, so ``title + "\n\n" + text`` never exceeds ``max_tokens``
(exactly so with our cl100k tokenizer, whose counts add up across a newline followed by a visible character).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from ingestion.chunking.markdown import Block, Section, Structure, parse
from ingestion.chunking.meter import AdditiveMeter, CountingMeter, Meter, is_additive, tables_for
from ingestion.chunking.titles import TITLE_SEPARATOR, bound_path, title_budget, truncate
from ingestion.errors import BadInputError
from ingestion.models import Chunk, CrackedDocument
from ingestion.tokenizer import Tokenizer

MIN_MAX_TOKENS = 16
_NON_SPACE = re.compile(r"\S")
_SENTENCE_END = re.compile(r"(?s).*(?:[.!?][\"'”’)\]]*\s|[。！？])")
_LAST_SPACE = re.compile(r"(?s).*\s")
_SENTENCE_START = re.compile(r"(?:[.!?][\"'”’)\]]*\s|\n|[。！？])\s*(?=\S)")
_WORD_START = re.compile(r"(?<=\s)(?=\S)")
_LINE_START = re.compile(r"(?<=\n)(?=\S)")


class _NoRoom(Exception):
    """Not even one more character fits in the budget from this start."""


@dataclass
class _Document:
    """Per-document working state."""

    text: str
    meter: Meter
    structure: Structure
    block_tokens: dict[int, int] = field(default_factory=dict)
    headers: dict[int, tuple[str, int]] = field(default_factory=dict)
    cap: int = 0  # tokens for the text of the current section's chunks (the cap less its title's cost)
    overlap: int = 0


class Chunker:
    """Splits a ``CrackedDocument`` into chunks of at most ``max_tokens`` tokens (see the module docstring)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        max_tokens: int,
        overlap_tokens: int,
        titled: bool = False,
        reserve_title: bool = True,
    ) -> None:
        if max_tokens < MIN_MAX_TOKENS:
            raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
        if not 0 <= overlap_tokens < max_tokens:
            raise ValueError(f"overlap_tokens must be >= 0 and < max_tokens ({max_tokens}), got {overlap_tokens}")
        self._tokenizer = tokenizer
        self._max = max_tokens
        self._overlap = overlap_tokens
        self._titled = titled
        self._reserve_title = reserve_title
        # Built once per encoding, here rather than in the middle of a run.
        self._tables = tables_for(tokenizer.encoding) if is_additive(tokenizer) else None  # type: ignore[attr-defined]

    @property
    def max_tokens(self) -> int:
        return self._max

    @property
    def overlap_tokens(self) -> int:
        return self._overlap

    def title_of(self, document: CrackedDocument) -> str:
        """The title embedded for chunks without a heading path: the document's, bounded when ``titled``."""
        if not self._titled:
            return document.title
        return truncate(self._tokenizer, document.title, title_budget(self._max))

    def _title_cost(self, doc: _Document, title: str) -> int:
        return doc.meter.count(title + TITLE_SEPARATOR) if self._titled and self._reserve_title and title else 0

    def chunk(self, document: CrackedDocument) -> list[Chunk]:
        """The document's chunks in order (ordinals 0..n-1); ``[]`` for a document with no visible text."""
        text = document.text
        if _NON_SPACE.search(text) is None:
            return []
        doc = _Document(text, self._meter(text), parse(text))
        page_at = _PageIndex(document)
        chunks: list[Chunk] = []
        fallback = self.title_of(document)
        try:
            for section in doc.structure.sections:
                path = section.heading_path
                if self._titled:
                    path = bound_path(self._tokenizer, path, title_budget(self._max))
                doc.cap = self._max - self._title_cost(doc, " > ".join(path) or fallback)
                doc.overlap = min(self._overlap, doc.cap - 1)
                for start, end, prefix, tokens in self._section(doc, section):
                    chunks.append(
                        Chunk(
                            ordinal=len(chunks),
                            text=prefix + text[start:end],
                            heading_path=path,
                            start=start,
                            end=end,
                            tokens=tokens,
                            page_start=page_at(start),
                            page_end=page_at(end - 1),
                        )
                    )
        except _NoRoom as exc:
            raise BadInputError(f"{document.title}: a single character needs more than {self._max} tokens") from exc
        return chunks

    def _meter(self, text: str) -> Meter:
        if self._tables is not None:
            try:
                return AdditiveMeter(text, self._tables)
            except UnicodeEncodeError:  # lone surrogates, which tiktoken rewrites: count spans one by one instead
                pass
        return CountingMeter(text, self._tokenizer)

    # -- one section -------------------------------------------------------------------------------------------

    def _section(self, doc: _Document, section: Section) -> Iterator[tuple[int, int, str, int]]:
        """(start, end, header prefix, tokens) of each chunk of one section."""
        text = doc.text
        limit = _visible_end(text, section.start, section.end)
        limit_tokens = doc.meter.tok_at(limit)
        start = _next_visible(text, section.start, limit)
        floor = start + 1
        while start < limit:
            prefix, prefix_tokens = self._header(doc, start)
            try:
                end, tokens = self._fit(doc, start, (limit, limit_tokens), prefix, prefix_tokens, floor)
            except _NoRoom:
                if start >= floor - 1:
                    raise
                start = floor - 1  # the overlap left no room: start this chunk without it
                continue
            yield start, end, prefix, tokens
            following = _next_visible(text, end, limit)
            if following >= limit:
                return
            start = self._overlap_start(doc, start, end, following)
            floor = following + 1

    def _header(self, doc: _Document, start: int) -> tuple[str, int]:
        """The header row and separator to repeat when a chunk starts inside a table's rows."""
        block = doc.structure.block_at(start)
        if block is None or not block.is_table or start < block.rows_start:
            return "", 0
        if block.start not in doc.headers:
            header = doc.text[block.start : block.rows_start]
            tokens = doc.meter.count(header)
            doc.headers[block.start] = (header, tokens) if tokens <= doc.cap // 2 else ("", 0)
        return doc.headers[block.start]

    def _fit(
        self, doc: _Document, start: int, limit: tuple[int, int], prefix: str, prefix_tokens: int, floor: int
    ) -> tuple[int, int]:
        """The end and exact token count of the chunk from ``start`` (ending after ``floor``, by ``limit``)."""
        meter, text = doc.meter, doc.text
        (limit, limit_tokens), budget = limit, doc.cap - prefix_tokens
        first = meter.tok_at(start)
        hi = limit if first + budget >= limit_tokens else meter.pos_at(first + budget)
        while hi >= floor:
            cut = limit if hi >= limit else self._cut(doc, (start, first), hi, budget, floor)
            end = _visible_end(text, start, cut)
            tokens = meter.exact_prefixed(prefix, prefix_tokens, start, end) if prefix else meter.exact(start, end)
            if tokens <= doc.cap:
                return end, tokens
            hi = min(end - 1, meter.pos_at(meter.tok_at(end) - (tokens - doc.cap)))
        raise _NoRoom

    def _cut(self, doc: _Document, start: tuple[int, int], hi: int, budget: int, floor: int) -> int:
        """Where to end a chunk from ``start`` (offset, token) that must end in ``[floor, hi]``: the best boundary."""
        text, structure, meter = doc.text, doc.structure, doc.meter
        (start, first), block = start, structure.block_at(hi)
        if block is not None and block.start >= floor and block.start > start and self._fits(doc, block):
            return block.start
        lo = max(floor, meter.pos_at(first + budget // 2))
        paragraph = structure.last_break(text, lo, hi)
        if paragraph >= 0:
            return paragraph
        newline = text.rfind("\n", floor if block is not None and block.is_table else lo, hi)
        if newline >= 0:
            return _off_table_header(structure, newline + 1, floor)
        for pattern, low in ((_SENTENCE_END, lo), (_LAST_SPACE, floor)):
            match = pattern.match(text, low, hi)
            if match is not None:
                return match.end()
        return hi

    def _fits(self, doc: _Document, block: Block) -> bool:
        if block.start not in doc.block_tokens:
            doc.block_tokens[block.start] = doc.meter.exact(block.start, block.end)
        return doc.block_tokens[block.start] <= doc.cap

    def _overlap_start(self, doc: _Document, start: int, end: int, following: int) -> int:
        """Where the chunk after ``text[start:end]`` starts: up to ``overlap_tokens`` back, at a boundary."""
        structure, meter, text = doc.structure, doc.meter, doc.text
        if not doc.overlap or _starts_block(structure, following):
            return following
        end_tokens = meter.tok_at(end)
        begin = max(start + 1, meter.pos_at(end_tokens - doc.overlap))
        table = structure.block_at(begin)
        if table is not None and table.is_table:  # whole rows, and only when the next chunk continues the table
            row = _LINE_START.search(text, max(begin, table.rows_start), end) if following < table.end else None
            if row is None:
                return following
            candidate, step = row.start(), _LINE_START
        else:  # a sentence start in the first half of the overlap, else a word start, else (no spaces) right here
            middle = meter.pos_at(end_tokens - doc.overlap // 2)
            sentence = _SENTENCE_START.search(text, begin, max(begin, middle))
            word = _WORD_START.search(text, begin, end) if sentence is None else None
            candidate = sentence.end() if sentence else word.start() if word else begin
            step = _WORD_START
        while candidate < end and meter.exact(candidate, end) > doc.overlap:
            match = step.search(text, candidate + 1, end)
            candidate = match.end() if match else end
        return candidate if candidate < end else following


class _PageIndex:
    """``CrackedDocument.page_at`` by binary search."""

    def __init__(self, document: CrackedDocument) -> None:
        self._starts = [span.start for span in document.pages]
        self._numbers = [span.number for span in document.pages]

    def __call__(self, offset: int) -> int | None:
        if not self._starts:
            return None
        index = bisect_right(self._starts, offset) - 1
        return self._numbers[index] if index >= 0 else None


def _next_visible(text: str, pos: int, limit: int) -> int:
    match = _NON_SPACE.search(text, pos, limit)
    return match.start() if match else limit


def _visible_end(text: str, start: int, end: int) -> int:
    """``end`` moved back over trailing whitespace (looking at the tail only, not copying the whole span)."""
    while end > start:
        window = max(start, end - 256)
        visible = len(text[window:end].rstrip())
        if visible:
            return window + visible
        end = window
    return start


def _starts_block(structure: Structure, pos: int) -> bool:
    index = bisect_right(structure.block_starts, pos) - 1
    return index >= 0 and structure.block_starts[index] == pos


def _off_table_header(structure: Structure, cut: int, floor: int) -> int:
    """Never leave a table's header row without its separator: move such a cut to the table's start."""
    block = structure.block_at(cut)
    if block is not None and block.is_table and cut < block.rows_start and block.start >= floor:
        return block.start
    return cut
