"""The markdown structure the chunker respects, found with a handful of linear regex scans (no per-line Python loop).

``parse(text)`` returns the document's sections (a heading line and its body; the text before the first heading is a
section with an empty heading path), its atomic blocks (fenced code and pipe tables, which are only split when they
do not fit in one chunk); ``Structure.last_break`` finds the preferred place to end a chunk: a paragraph start or a
block edge.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

# Line patterns start with the newline before the line (a literal prefix lets `re` skip ahead fast); the first line
# of the text is matched separately by _lines().
_FENCE = re.compile(r"\n {0,3}(`{3,}|~{3,})([^\n]*)")
_HEADING = re.compile(r"\n(#{1,6})[ \t]+([^\n]*?\S)(?:[ \t]+#+)?[ \t]*(?=\n|\Z)")
_TABLE_SEPARATOR = re.compile(r"\n[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*(?=\n|\Z)")
_MAYBE_SEPARATOR = re.compile(r"\|[ \t]*:?-")
_TABLE_ROWS = re.compile(r"(?:\n[ \t]*\|[^\n]*)*")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class Block:
    """A fenced code block or a pipe table: ``text[start:end]``, never split inside unless it exceeds the budget.

    For a table, ``rows_start`` is where the first row after the ``|---|`` separator begins, so
    ``text[start:rows_start]`` is the header row and separator (ending in a newline) that continuation chunks repeat.
    For a code block ``rows_start == start``.
    """

    start: int
    end: int
    rows_start: int
    is_table: bool


@dataclass(frozen=True)
class Section:
    """``text[start:end]`` under one heading path (outermost first); ``start`` is the heading line when there is one."""

    start: int
    end: int
    heading_path: tuple[str, ...]


@dataclass(frozen=True)
class Structure:
    sections: list[Section]
    blocks: list[Block]
    block_starts: list[int]
    edges: list[int]  # sorted starts and ends of blocks

    def block_at(self, pos: int) -> Block | None:
        """The block with ``start < pos < end``, if any."""
        index = bisect_right(self.block_starts, pos - 1) - 1
        if index >= 0 and self.blocks[index].end > pos:
            return self.blocks[index]
        return None

    def last_break(self, text: str, lo: int, hi: int) -> int:
        """The last paragraph start (after a blank line) or block edge in ``[lo, hi]`` outside blocks, else -1."""
        index = bisect_right(self.edges, hi) - 1
        best = self.edges[index] if index >= 0 and self.edges[index] >= lo else -1
        top = hi
        while (blank := text.rfind("\n\n", max(lo, best), top)) >= 0:
            block = self.block_at(blank + 1)
            if block is None:
                return blank + 1
            top = block.start
        return best


def parse(text: str) -> Structure:
    fences = _fences(text)
    tables = _tables(text, fences)
    blocks = sorted(fences + tables, key=lambda block: block.start) if tables else fences
    starts = [block.start for block in blocks]
    edges = sorted({edge for block in blocks for edge in (block.start, block.end)})
    return Structure(sections=_sections(text, blocks, starts), blocks=blocks, block_starts=starts, edges=edges)


def _lines(pattern: re.Pattern[str], text: str, marker: str = "") -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(line start, match end, groups) of every line matching ``pattern`` (which starts with a newline).

    With a one-character ``marker``, only lines starting with it are tried: ``str.find`` skips from one to the next
    much faster than a regex scan.
    """
    newline = text.find("\n")
    first = pattern.match("\n" + (text if newline < 0 else text[:newline]))
    if first is not None:
        yield 0, first.end() - 1, first.groups()
    if not marker:
        yield from ((match.start() + 1, match.end(), match.groups()) for match in pattern.finditer(text))
        return
    at = text.find(marker, 1)
    while at >= 0:
        match = pattern.match(text, at - 1) if text[at - 1] == "\n" else None
        if match is not None:
            yield at, match.end(), match.groups()
        at = text.find(marker, at + 1)


def _fences(text: str) -> list[Block]:
    if not any(fence[0] in text and fence in text for fence in ("```", "~~~")):  # one-character checks are fast
        return []
    blocks: list[Block] = []
    opened: tuple[int, str] | None = None
    for start, end, (marker, rest) in _lines(_FENCE, text):
        if opened is None:
            opened = (start, marker)
        elif marker[0] == opened[1][0] and len(marker) >= len(opened[1]) and not rest.strip():
            blocks.append(Block(opened[0], end, opened[0], is_table=False))
            opened = None
    if opened is not None:  # CommonMark: an unclosed fence runs to the end of the document
        blocks.append(Block(opened[0], len(text.rstrip()), opened[0], is_table=False))
    return blocks


def _inside(pos: int, blocks: list[Block], starts: list[int]) -> bool:
    index = bisect_right(starts, pos) - 1
    return index >= 0 and blocks[index].start < pos < blocks[index].end


def _tables(text: str, fences: list[Block]) -> list[Block]:
    if "|" not in text or _MAYBE_SEPARATOR.search(text) is None:
        return []
    fence_starts = [fence.start for fence in fences]
    tables: list[Block] = []
    for match in _TABLE_SEPARATOR.finditer(text):
        sep_start = match.start() + 1
        if (tables and sep_start < tables[-1].end) or _inside(sep_start, fences, fence_starts):
            continue
        header_start = text.rfind("\n", 0, sep_start - 1) + 1
        if not text[header_start:sep_start].lstrip(" \t").startswith("|"):
            continue
        rows = _TABLE_ROWS.match(text, match.end())
        end = rows.end() if rows else match.end()
        rows_start = min(match.end() + 1, end)
        tables.append(Block(header_start, end, rows_start, is_table=True))
    return tables


def _sections(text: str, blocks: list[Block], starts: list[int]) -> list[Section]:
    """Sections under headings; a heading with no body is folded into the section that follows it."""
    headings = [line for line in _lines(_HEADING, text, "#") if not _inside(line[0], blocks, starts)]
    if not headings:
        return [Section(0, len(text), ())] if _NON_SPACE.search(text) else []
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    folded_start: int | None = None
    bounds = [0, *(line[0] for line in headings), len(text)]
    for index, bound in enumerate(bounds[:-1]):
        end = bounds[index + 1]
        path = tuple(title for _, title in stack)
        if index > 0:
            _, heading_end, (hashes, title) = headings[index - 1]
            while stack and stack[-1][0] >= len(hashes):
                stack.pop()
            stack.append((len(hashes), title.strip()))
            path = tuple(title for _, title in stack)
            body_empty = _NON_SPACE.search(text, heading_end, end) is None
            if body_empty and index + 1 < len(bounds) - 1:
                folded_start = bound if folded_start is None else folded_start
                continue
        elif _NON_SPACE.search(text, 0, end) is None:
            continue
        start = bound if folded_start is None else folded_start
        folded_start = None
        sections.append(Section(start, end, path))
    return sections
