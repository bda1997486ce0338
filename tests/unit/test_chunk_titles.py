"""Titled chunking: the heading path (or document title) embedded in front of a chunk never pushes it over the cap.

Regression: the SQLite docs' ``keyword_index.html`` cracks to a ``## `` heading holding the page's whole navigation
list (13,792 tokens) over a long keyword list; each 512-token chunk was embedded as a 14,304-token input."""

from __future__ import annotations

import pytest

from ingestion.chunking import Chunker
from ingestion.chunking.titles import bound_path, title_budget, truncate
from ingestion.models import CrackedDocument
from ingestion.tokenizer import get_tokenizer

TOKENIZER = get_tokenizer()


def keyword_index_like(keywords: int = 2_500) -> str:
    """The cracked shape of keyword_index.html: a title, one huge heading line, then a long bulleted keyword list."""
    nav = " ".join(f"Document{i} Index Of Things{i} ALTER TABLE RENAME COLUMN {i}" for i in range(1_500))
    items = "\n".join(f"- sqlite3_keyword_{i} ({i % 7} refs) PRAGMA option_{i}" for i in range(keywords))
    return f"# Keyword Index\n\n## Other Documentation Indexes: {nav}\n\n{items}\n"


def embedded(chunker: Chunker, document: CrackedDocument) -> list[str]:
    """What the pipeline embeds with EMBED_HEADINGS (``Pipeline.embedding_text``)."""
    fallback = chunker.title_of(document)
    return [f"{title}\n\n{chunk.text}" if (title := chunk.title or fallback) else chunk.text
            for chunk in chunker.chunk(document)]


@pytest.mark.parametrize(("cap", "overlap"), [(512, 64), (256, 64), (16, 8), (8191, 64)])
def test_a_huge_heading_never_pushes_an_embedded_chunk_over_the_cap(cap: int, overlap: int) -> None:
    text = keyword_index_like()
    assert TOKENIZER.count(text.split("\n\n")[1]) > 8_191  # the heading alone is over the model's limit
    chunker = Chunker(TOKENIZER, max_tokens=cap, overlap_tokens=overlap, titled=True)
    inputs = embedded(chunker, CrackedDocument(text=text, title="keyword_index.html"))
    assert len(inputs) > 1
    assert max(TOKENIZER.count(item) for item in inputs) <= cap
    chunks = chunker.chunk(CrackedDocument(text=text, title="keyword_index.html"))
    assert all(TOKENIZER.count(chunk.title) <= title_budget(cap) for chunk in chunks)
    assert chunks[-1].heading_path[0] == "Keyword Index" or cap < 64  # bounded, not dropped
    assert chunks[-1].text.rstrip().endswith("option_2499")


def test_a_huge_document_title_is_bounded_too() -> None:
    title = "word " * 20_000
    chunker = Chunker(TOKENIZER, max_tokens=64, overlap_tokens=8, titled=True)
    inputs = embedded(chunker, CrackedDocument(text="plain text, no heading. " * 200, title=title))
    assert max(TOKENIZER.count(item) for item in inputs) <= 64
    assert TOKENIZER.count(chunker.title_of(CrackedDocument(text="x", title=title))) <= 16


def test_short_titles_are_kept_whole_and_untitled_chunking_is_unchanged() -> None:
    text = "# Intro\n\n" + "word " * 2000
    document = CrackedDocument(text=text, title="doc.md")
    titled = Chunker(TOKENIZER, max_tokens=128, overlap_tokens=16, titled=True).chunk(document)
    plain = Chunker(TOKENIZER, max_tokens=128, overlap_tokens=16).chunk(document)
    assert {chunk.heading_path for chunk in titled} == {("Intro",)}
    room = 128 - TOKENIZER.count("Intro\n\n")
    assert max(chunk.tokens for chunk in plain) > room  # untitled: the whole cap for the text
    assert max(chunk.tokens for chunk in titled) <= room


def test_truncate_and_bound_path() -> None:
    assert truncate(TOKENIZER, "short", 10) == "short"
    cut = truncate(TOKENIZER, "漢字かな交じり文。" * 50, 7)
    assert TOKENIZER.count(cut) <= 7 and "\ufffd" not in cut and cut
    path = ("A" * 5000, "Short", "B " * 3000)
    bounded = bound_path(TOKENIZER, path, 40)
    assert TOKENIZER.count(" > ".join(bounded)) <= 40 and "Short" in bounded
    assert bound_path(TOKENIZER, ("One", "Two"), 40) == ("One", "Two")


def test_the_pipeline_chunker_bounds_titles_but_keeps_the_whole_cap_for_the_text() -> None:
    """wiring's chunker: a huge heading is cut to a quarter of the cap, and chunk boundaries do not move for it (no
    re-embedding of existing indexes on upgrade)."""
    from ingestion import wiring
    from ingestion.settings import Settings

    settings = Settings.from_env({"EMBEDDING_BACKEND": "hash", "CHUNK_MAX_TOKENS": "64", "CHUNK_OVERLAP_TOKENS": "8"})
    chunker = wiring.build_chunker(settings)
    plain = Chunker(TOKENIZER, max_tokens=64, overlap_tokens=8)
    heading = " ".join(f"keyword{i}" for i in range(2000))
    document = CrackedDocument(text=f"## {heading}\n\n" + "word " * 400, title="keyword_index.html")
    chunks = chunker.chunk(document)
    assert max(TOKENIZER.count(chunk.title) for chunk in chunks) <= title_budget(64)
    assert [(c.start, c.end) for c in chunks] == [(c.start, c.end) for c in plain.chunk(document)]
