"""The title embedded in front of each chunk (its heading path, else the document title), bounded in tokens.

A heading is not always short: the SQLite docs' ``keyword_index.html`` cracks to one 13,792-token "heading" (a nav
list inside an ``<h2>``). Embedded as ``title + "\\n\\n" + text`` it made a 14,304-token input from a 512-token chunk,
over the model's 8,191. So a title costs at most ``title_budget(max_tokens)`` tokens, cut at a token boundary, and
a titled chunker packs each chunk's text in what is left of the cap.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingestion.chunking.meter import is_additive
from ingestion.models import Chunk
from ingestion.tokenizer import Tokenizer

TITLE_SEPARATOR = "\n\n"  # between the title and the chunk text in the embedded input
_PATH_JOIN = " > "  # Chunk.title joins the heading path with this


def embedded_counts(tokenizer: Tokenizer, titles: Sequence[str], chunks: Sequence[Chunk]) -> list[int]:
    """Token counts of ``title + "\n\n" + chunk.text`` (``chunk.tokens`` for an empty title), without re-encoding
    the chunks: with our cl100k tokenizer counts add up across a newline followed by a visible character, so each
    distinct title is counted once; other tokenizers, or a chunk starting with whitespace, are counted whole."""
    additive = is_additive(tokenizer)
    costs: dict[str, int] = {}
    counts = []
    for title, chunk in zip(titles, chunks, strict=True):
        if not title:
            counts.append(chunk.tokens)
        elif additive and chunk.text[:1] and not chunk.text[0].isspace():
            if title not in costs:
                costs[title] = tokenizer.count(title + TITLE_SEPARATOR)
            counts.append(costs[title] + chunk.tokens)
        else:
            counts.append(tokenizer.count(title + TITLE_SEPARATOR + chunk.text))
    return counts


def title_budget(max_tokens: int) -> int:
    """The most tokens a chunk's title may cost: a quarter of the cap."""
    return max_tokens // 4


def truncate(tokenizer: Tokenizer, text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` tokens at a token boundary (no partial character), right-stripped."""
    tokens = tokenizer.encode(text)
    if len(tokens) <= limit:
        return text
    keep = limit
    while keep > 0:
        cut = tokenizer.decode(tokens[:keep]).rstrip().rstrip("\ufffd").rstrip()
        if tokenizer.count(cut) <= limit:
            return cut
        keep -= 1
    return ""


def bound_path(tokenizer: Tokenizer, path: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """``path`` with its headings cut so that ``" > ".join(path)`` costs at most ``limit`` tokens."""
    if not path or tokenizer.count(_PATH_JOIN.join(path)) <= limit:
        return path
    shares = _shares(tokenizer, path, limit)
    cut = tuple(h for h in (truncate(tokenizer, h, n) for h, n in zip(path, shares, strict=True)) if h)
    if cut and tokenizer.count(_PATH_JOIN.join(cut)) <= limit:
        return cut
    whole = truncate(tokenizer, _PATH_JOIN.join(path), limit)
    return (whole,) if whole else ()


def _shares(tokenizer: Tokenizer, path: tuple[str, ...], limit: int) -> list[int]:
    """Tokens for each heading: short ones whole, the rest split evenly (separators and joins counted as 3 each)."""
    costs = [tokenizer.count(heading) for heading in path]
    room = max(len(path), limit - 3 * (len(path) - 1))
    shares = [0] * len(path)
    for done, index in enumerate(sorted(range(len(path)), key=costs.__getitem__)):
        shares[index] = min(costs[index], max(1, room // (len(path) - done)))
        room -= shares[index]
    return shares
