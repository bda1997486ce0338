"""Token accounting for one document: where a token budget lands in the text, and the exact count of any span.

``AdditiveMeter`` (tiktoken ``cl100k_base``) encodes the document once. Its pre-tokenizer regex never lets a
pre-token cross two kinds of position, so at those positions token counts add up exactly (any substring containing
the position splits there into two substrings whose counts sum to the whole):

* (a) a space or tab whose previous character is not whitespace (the pre-token before it cannot absorb it);
* (b) a non-whitespace character right after ``\\n`` (every whitespace alternative ends at the last newline of
  a run, and the punctuation alternative absorbs newlines but nothing after them).

The exact count of ``text[s:e]`` is then the count of the few characters before the first such position, plus the
document's own tokens between the first and the last such position, plus the few characters after the last: two
tiny encodes per chunk instead of re-encoding it. The tests check this against the tokenizer on random text.

``CountingMeter`` serves any other tokenizer: it estimates positions from the token density and counts exactly by
encoding the span.
"""

from __future__ import annotations

import functools
import itertools
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ingestion.tokenizer import TiktokenTokenizer, Tokenizer

# The cl100k_base pre-tokenizer the additivity argument above was made for (tiktoken_ext.openai_public).
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
# The document is encoded in units of about this size, so that a long run without whitespace (whose encoding time
# grows faster than its length) is encoded piecewise.
UNIT_CHARS = 1 << 16
_UNIT_SLACK = 4096
_SMALL_PIECE = 32  # pieces up to this many characters have their counts cached ...
_SMALL_CACHE = 1 << 16  # ... and the cache starts afresh when it holds this many
_FIRST_SPLIT = re.compile(r"(?<=\S)[ \t]|(?<=\n)(?=\S)")
_LAST_SPLIT = re.compile(r"(?s).*(?:(?<=\S)(?=[ \t])|(?<=\n)(?=\S))")
_LINE_START = re.compile(r"(?<=\n)(?=\S)")


class Meter(Protocol):
    total: int  # tokens in the whole document (estimate for CountingMeter)

    def tok_at(self, pos: int) -> int:
        """How many of the document's tokens end at or before character ``pos``."""
        ...

    def pos_at(self, tokens: int) -> int:
        """The character offset where the first ``tokens`` tokens end, rounded down to a whole character."""
        ...

    def exact(self, start: int, end: int) -> int:
        """The exact token count of ``text[start:end]``."""
        ...

    def exact_prefixed(self, prefix: str, prefix_tokens: int, start: int, end: int) -> int:
        """The exact token count of ``prefix + text[start:end]``; ``prefix`` ends with a newline."""
        ...

    def count(self, text: str) -> int: ...


def is_additive(tokenizer: Tokenizer) -> bool:
    """True for a tiktoken tokenizer with the cl100k_base pre-tokenizer and no special tokens (ours)."""
    encoding = getattr(tokenizer, "encoding", None)
    return isinstance(tokenizer, TiktokenTokenizer) and getattr(encoding, "_pat_str", None) == CL100K_PATTERN


@dataclass(frozen=True)
class EncodingTables:
    """What an AdditiveMeter needs from one tiktoken encoding, built once per encoding (see ``tables_for``)."""

    encode: Callable[[str], np.ndarray]  # text -> token ids, no special tokens
    encode_list: Callable[[str], list[int]]
    chars: np.ndarray  # per token id: how many characters start in its UTF-8 bytes
    inside: np.ndarray  # per token id: whether it starts inside a character
    small_counts: dict[str, int]  # token counts of short pieces (a chunk's first or last word)


@functools.lru_cache(maxsize=4)
def tables_for(encoding: object) -> EncodingTables:
    """With these, a token sequence's character offsets are a cumulative sum: no decoding or re-encoding."""
    size = encoding.n_vocab  # type: ignore[attr-defined]
    chars = np.zeros(size, dtype=np.int64)
    inside = np.zeros(size, dtype=bool)
    for token in range(size):
        try:
            data = encoding.decode_single_token_bytes(token)  # type: ignore[attr-defined]
        except KeyError:  # an unused id
            continue
        continuation = sum(1 for byte in data if byte & 0xC0 == 0x80)
        chars[token] = len(data) - continuation
        inside[token] = bool(continuation) and data[0] & 0xC0 == 0x80
    return EncodingTables(
        encode=functools.partial(encoding.encode_to_numpy, disallowed_special=()),  # type: ignore[attr-defined]
        encode_list=encoding.encode_ordinary,  # type: ignore[attr-defined]
        chars=chars,
        inside=inside,
        small_counts={},
    )


def unit_bounds(text: str) -> tuple[list[int], list[int]]:
    """Cut ``text`` into encoding units of about UNIT_CHARS at line starts or spaces where possible.

    Returns the bounds (0 ... len) and the "dirty" cuts: ones inside a long run without whitespace, where counts
    are not additive.
    """
    bounds, dirty = [0], []
    while len(text) - bounds[-1] > UNIT_CHARS + _UNIT_SLACK:
        target = bounds[-1] + UNIT_CHARS
        match = _LINE_START.search(text, target, target + _UNIT_SLACK) or _FIRST_SPLIT.search(
            text, target, target + _UNIT_SLACK
        )
        if match is None:
            dirty.append(target)
        bounds.append(match.start() if match else target)
    bounds.append(len(text))
    return bounds, dirty


class AdditiveMeter:
    """Exact counts for our cl100k_base tokenizer: one encode of the document plus two tiny encodes per span."""

    def __init__(self, text: str, tables: EncodingTables) -> None:
        self._text = text
        self._encode = tables.encode_list
        self._small_counts = tables.small_counts
        self._tail = (-1, 0)  # (end, tokens from the document's start to end) of the last exact() call
        if len(text) <= UNIT_CHARS + _UNIT_SLACK:
            self._dirty: list[int] = []
            tokens = tables.encode(text)
        else:
            bounds, self._dirty = unit_bounds(text)
            tokens = np.concatenate([tables.encode(text[a:b]) for a, b in itertools.pairwise(bounds)])
        self._ceil = tables.chars[tokens].cumsum()  # units end on whole characters, so one sum serves them all
        self._floor = self._ceil
        if not text.isascii():
            starts_inside = tables.inside[tokens]
            if starts_inside.any():  # token i ends inside a character iff token i+1 starts inside it: round down
                self._floor = self._ceil.copy()
                self._floor[:-1] -= starts_inside[1:]
        self.total = len(tokens)

    def tok_at(self, pos: int) -> int:
        return int(self._ceil.searchsorted(pos, side="right"))  # ceil: a token ending mid-character counts

    def pos_at(self, tokens: int) -> int:
        if tokens <= 0:
            return 0
        return len(self._text) if tokens >= self.total else int(self._floor[tokens - 1])

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def exact(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        text = self._text
        first = _FIRST_SPLIT.search(text, start, end + 1)
        if first is None or (self._dirty and self._crosses_dirty(start, end)):
            return len(self._encode(text[start:end]))
        split_start = first.start()
        if self._tail[0] != end:  # the same end comes back when the next chunk's overlap is measured
            split_end = _LAST_SPLIT.match(text, split_start, end + 1)
            last = split_end.end() if split_end else split_start
            self._tail = (end, self.tok_at(last) + self._small_count(last, end))
        head = self._small_count(start, split_start)
        return head + self._tail[1] - self.tok_at(split_start)

    def _small_count(self, start: int, end: int) -> int:
        """The count of a piece that is usually a word or two, through a cache shared by the encoding's meters."""
        if end - start > _SMALL_PIECE:
            return len(self._encode(self._text[start:end]))
        if end <= start:
            return 0
        piece = self._text[start:end]
        count = self._small_counts.get(piece)
        if count is None:
            if len(self._small_counts) >= _SMALL_CACHE:
                self._small_counts.clear()
            count = self._small_counts[piece] = len(self._encode(piece))
        return count

    def exact_prefixed(self, prefix: str, prefix_tokens: int, start: int, end: int) -> int:
        text = self._text
        if start > 0 and text[start - 1] == "\n" and not text[start].isspace():
            return prefix_tokens + self.exact(start, end)  # a (b)-position joins prefix and span
        return len(self._encode(prefix + text[start:end]))

    def _crosses_dirty(self, start: int, end: int) -> bool:
        index = bisect_left(self._dirty, start + 1)
        return index < len(self._dirty) and self._dirty[index] < end


class CountingMeter:
    """Positions estimated from token density per unit; exact counts by encoding the span with the tokenizer."""

    def __init__(self, text: str, tokenizer: Tokenizer) -> None:
        self._text = text
        self._tokenizer = tokenizer
        bounds, _ = unit_bounds(text)
        parts = []
        for a, b in itertools.pairwise(bounds):
            count = tokenizer.count(text[a:b])
            if count:
                parts.append(np.linspace(a, b, count + 1)[1:])
        self._ends = np.floor(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
        self.total = len(self._ends)

    def tok_at(self, pos: int) -> int:
        return int(self._ends.searchsorted(pos, side="right"))

    def pos_at(self, tokens: int) -> int:
        if tokens <= 0:
            return 0
        return len(self._text) if tokens >= self.total else int(self._ends[tokens - 1])

    def count(self, text: str) -> int:
        return self._tokenizer.count(text)

    def exact(self, start: int, end: int) -> int:
        return self._tokenizer.count(self._text[start:end]) if end > start else 0

    def exact_prefixed(self, prefix: str, prefix_tokens: int, start: int, end: int) -> int:
        return self._tokenizer.count(prefix + self._text[start:end])
