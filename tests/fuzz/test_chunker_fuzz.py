"""The chunker on arbitrary text and structure: the hard cap, true offsets, and every visible character covered.

Text is drawn from markdown's structural characters (headings, tables, fences, lists) mixed with arbitrary Unicode,
including lone surrogates, combining marks, CJK and emoji, so that the structure parser sees broken structure too.
Headings and titles can be huge (a whole navigation list in one heading, as in the SQLite docs' keyword index), and
the titled chunker is checked on what the pipeline embeds: ``title + "\n\n" + text`` within the cap."""

from __future__ import annotations

import itertools
from functools import cache

from hypothesis import example, given
from hypothesis import strategies as st

from ingestion.chunking import Chunker
from ingestion.errors import BadInputError
from ingestion.models import Chunk, CrackedDocument, PageSpan
from ingestion.tokenizer import Tokenizer, get_tokenizer

STRUCTURE = ["# ", "## ", "###### ", "\n", "\n\n", "|", "|---|", "```", "~~~", "- ", "1. ", "> ", "    ", "\t", "**"]


@cache
def tokenizer() -> Tokenizer:
    return get_tokenizer()


pieces = st.one_of(
    st.sampled_from(STRUCTURE),
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
    st.sampled_from(["漢字かな交じり文。", "🙂👍🏽", "e\u0301", "\u200b", "\ufeff", "x" * 300, "word " * 50]),
)
huge_heading = st.builds(
    lambda level, words, n: "\n" + "#" * level + " " + " ".join(words * n) + "\n",
    st.integers(1, 6),
    st.lists(st.sampled_from(["Index", "ALTER", "TABLE", "漢字", "x" * 40, "🙂"]), min_size=1, max_size=5),
    st.integers(1, 400),
)
documents = st.lists(st.one_of(pieces, huge_heading), max_size=60).map("".join)
titles = st.one_of(
    st.just("fuzz.md"), st.text(max_size=30), st.builds(lambda n: "Title words " * n, st.integers(0, 2000))
)
limits = st.sampled_from([(16, 0), (16, 8), (40, 8), (128, 32), (512, 64)])


def check(
    text: str, cap: int, overlap: int, pages: tuple[PageSpan, ...] = (), *, title: str = "fuzz.md", titled: bool = False
) -> list[Chunk]:
    document = CrackedDocument(text=text, title=title, pages=pages)
    chunker = Chunker(tokenizer(), max_tokens=cap, overlap_tokens=overlap, titled=titled)
    refusal = ""
    try:
        chunks = chunker.chunk(document)
    except BadInputError as error:  # allowed only for a character that alone exceeds the cap
        refusal, chunks = str(error), []
    if refusal:
        assert "a single character needs more than" in refusal and "\n" not in refusal
        return []
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    covered = bytearray(len(text))
    for chunk in chunks:
        assert chunk.tokens == tokenizer().count(chunk.text) and chunk.tokens <= cap
        if titled:  # what the pipeline embeds with EMBED_HEADINGS
            heading = chunk.title or chunker.title_of(document)
            assert tokenizer().count(f"{heading}\n\n{chunk.text}" if heading else chunk.text) <= cap
        assert 0 <= chunk.start < chunk.end <= len(text)
        body = text[chunk.start : chunk.end]
        assert chunk.text.endswith(body) and body.strip()
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        assert chunk.page_start == document.page_at(chunk.start)
    missing = [i for i, char in enumerate(text) if not covered[i] and not char.isspace()]
    assert not missing, f"characters in no chunk at {missing[:5]}"
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start
    if not text.strip():
        assert chunks == []
    return chunks


@given(text=documents, limit=limits)
@example(text="|a|b|\n|---|---|\n" + "|x|y|\n" * 300, limit=(16, 8))
@example(text="```\n" + "code line\n" * 200, limit=(16, 0))
@example(text="#" * 5000, limit=(16, 0))
@example(text="\ud800 lone \udfff surrogates", limit=(16, 0))
def test_arbitrary_text_keeps_every_invariant(text: str, limit: tuple[int, int]) -> None:
    check(text, *limit)


@given(text=documents, limit=limits, title=titles)
@example(text="## Indexes: " + "Index Of Things " * 3000 + "\n\n" + "- keyword\n" * 500, limit=(512, 64), title="")
@example(text="|a|b|\n|---|---|\n" + "|x|y|\n" * 300, limit=(16, 8), title="t " * 500)
def test_titled_chunks_fit_the_cap_with_their_title(text: str, limit: tuple[int, int], title: str) -> None:
    check(text, *limit, title=title, titled=True)


@given(text=documents, limit=limits, starts=st.lists(st.integers(0, 20_000), max_size=8, unique=True))
def test_pages_map_for_arbitrary_page_starts(text: str, limit: tuple[int, int], starts: list[int]) -> None:
    offsets = sorted({start % (len(text) + 1) for start in starts})
    pages = tuple(PageSpan(start, number) for number, start in enumerate(offsets, 1))
    check(text, *limit, pages=pages)


@given(text=documents)
def test_chunking_is_deterministic(text: str) -> None:
    assert check(text, 40, 8) == check(text, 40, 8)
