"""The chunker against the real cl100k_base tokenizer: hard cap, exact counts, structure, overlap, offsets, pages."""

from __future__ import annotations

import base64
import itertools
import random
from dataclasses import dataclass, field

import pytest

from ingestion.chunking import Chunker
from ingestion.chunking.meter import AdditiveMeter, tables_for
from ingestion.models import Chunk, CrackedDocument, PageSpan
from ingestion.tokenizer import get_tokenizer

WORDS = [
    *("the", "of", "and", "to", "in", "is", "for", "on", "that", "with", "as", "are", "this", "by", "be", "it"),
    *("from", "at", "or", "an", "data", "index", "chunk", "token", "search", "configuration"),
    *("Überprüfung", "naïve", "café", "résumé", "Ελληνικά", "русский", "עברית", "العربية"),
]
ODD = ["😀", "👍🏽", "🇩🇪", "e\u0301", "\u00a0", "\u3000", "\t", "\x1c", "<|endoftext|>", "'s", "'ll", "—", "...", "¶"]
CJK = "日本語の文章は空白を使わずに書かれます。中文句子也没有空格！한국어 문장도 있습니다？"


@pytest.fixture(scope="module")
def tokenizer():
    return get_tokenizer()


class CountingOnly:
    """The real tokenizer behind the bare Tokenizer protocol, so the chunker takes its generic (re-counting) path."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.name = "wrapped"

    def encode(self, text: str) -> list[int]:
        return self._inner.encode(text)

    def decode(self, tokens: list[int]) -> str:
        return self._inner.decode(tokens)

    def count(self, text: str) -> int:
        return self._inner.count(text)


@dataclass
class Generated:
    text: str = ""
    headings: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, level, title)

    def add(self, part: str) -> None:
        self.text += part


def _word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.75:
        return rng.choice(WORDS)
    if roll < 0.85:
        return rng.choice(ODD) + rng.choice(WORDS)
    if roll < 0.93:
        return CJK[rng.randrange(len(CJK)) :][: rng.randint(1, 40)]
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789/_-.") for _ in range(rng.randint(20, 200)))


def _paragraph(rng: random.Random) -> str:
    words = [_word(rng) for _ in range(rng.choice([3, 10, 40, 150]))]
    for index in range(len(words) - 1):
        if rng.random() < 0.1:
            words[index] += rng.choice([".", "!", "?", ".\n", ":"])
    return rng.choice([" ", " ", "  ", "\t"]).join(words)


def _table(rng: random.Random) -> str:
    width = rng.randint(1, 5)
    header = "| " + " | ".join(f"Column {i}" for i in range(width)) + " |"
    rows = [
        "| " + " | ".join(" ".join(_word(rng) for _ in range(rng.choice([1, 3, 8, 100]))) for _ in range(width)) + " |"
        for _ in range(rng.randint(0, 30))
    ]
    return "\n".join([header, "|" + "---|" * width, *rows])


def _code(rng: random.Random) -> str:
    lines = [
        rng.choice(["def f(x):", "    return x + 1", "", "# comment, not a heading", "print('hi')"]) for _ in range(40)
    ]
    return "```python\n" + "\n".join(lines[: rng.randint(1, 40)]) + "\n```"


def random_document(seed: int) -> Generated:
    rng = random.Random(seed)
    doc = Generated()
    for _ in range(rng.randint(1, 25)):
        kind = rng.random()
        if doc.text:
            doc.add(rng.choice(["\n\n", "\n\n", "\n", "\n\n\n", "\n \n"]))
        if kind < 0.2:
            level = rng.randint(1, 4)
            title = " ".join(f"Heading {len(doc.headings)} {_word(rng)}".split())
            doc.headings.append((len(doc.text), level, title))
            doc.add("#" * level + " " + title)
        elif kind < 0.3:
            doc.add(_table(rng))
        elif kind < 0.38:
            doc.add(_code(rng))
        else:
            doc.add(_paragraph(rng))
    return doc


def expected_path(doc: Generated, position: int) -> tuple[str, ...]:
    """Headings above ``position``; a heading with an empty body belongs to the next heading's section."""
    paths, stack = [], []
    for offset, level, title in doc.headings:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        paths.append((offset, tuple(title for _, title in stack)))
    owner = max((index for index, (offset, _) in enumerate(paths) if offset <= position), default=None)
    if owner is None:
        return ()
    while owner + 1 < len(paths) and not doc.text[doc.text.index("\n", paths[owner][0]) : paths[owner + 1][0]].strip():
        owner += 1
    return paths[owner][1]


def check_invariants(chunks: list[Chunk], doc: Generated, document: CrackedDocument, tokenizer, cap: int, overlap: int):
    text = document.text
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    covered = bytearray(len(text))
    for chunk in chunks:
        assert chunk.tokens == tokenizer.count(chunk.text)
        assert chunk.tokens <= cap
        body = text[chunk.start : chunk.end]
        assert body.strip() == body and body
        if chunk.text != body:  # a table continuation: header row + separator, then rows
            header = chunk.text[: len(chunk.text) - len(body)]
            assert chunk.text.endswith(body)
            assert header.startswith("|") and header.endswith("|\n") and "\n|---|" in header
        assert chunk.heading_path == expected_path(doc, chunk.end - 1)
        assert chunk.page_start == document.page_at(chunk.start)
        assert chunk.page_end == document.page_at(chunk.end - 1)
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missing = [i for i, char in enumerate(text) if not covered[i] and not char.isspace()]
    assert not missing, f"text not in any chunk at {missing[:5]}"
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start
        if after.start < before.end:  # overlap: same section, bounded
            assert after.heading_path == before.heading_path
            assert tokenizer.count(text[after.start : before.end]) <= overlap


@pytest.mark.parametrize(("cap", "overlap"), [(16, 0), (40, 8), (128, 32), (512, 64)])
def test_random_documents_respect_every_invariant(tokenizer, cap, overlap):
    chunker = Chunker(tokenizer, max_tokens=cap, overlap_tokens=overlap)
    for seed in range(12):
        doc = random_document(seed * 1000 + cap)
        pages = tuple(PageSpan(start, number) for number, start in enumerate(range(3, len(doc.text), 997), start=1))
        document = CrackedDocument(text=doc.text, title=f"random-{seed}", pages=pages)
        check_invariants(chunker.chunk(document), doc, document, tokenizer, cap, overlap)


def test_span_counts_from_one_encoding_match_the_tokenizer(tokenizer):
    """The additivity argument in ingestion/chunking/meter.py, checked on arbitrary spans of messy text."""
    rng = random.Random(11)
    pieces = [*WORDS, *ODD, CJK[:9], "12345", " ", "  ", "\n", "\n\n", " \n ", ".\n", "|", "x" * 40]
    for _ in range(60):
        text = "".join(rng.choice(pieces) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(1, 200)))
        meter = AdditiveMeter(text, tables_for(tokenizer.encoding))
        assert meter.total == tokenizer.count(text)
        for _ in range(25):
            start = rng.randint(0, len(text))
            end = rng.randint(start, len(text))
            assert meter.exact(start, end) == tokenizer.count(text[start:end]), (text, start, end)


def test_generic_tokenizer_path_keeps_the_same_invariants(tokenizer):
    chunker = Chunker(CountingOnly(tokenizer), max_tokens=64, overlap_tokens=16)
    for seed in range(4):
        doc = random_document(seed + 77)
        document = CrackedDocument(text=doc.text, title="generic")
        check_invariants(chunker.chunk(document), doc, document, tokenizer, 64, 16)


def test_large_mixed_document_spanning_many_encoding_units(tokenizer):
    parts = [random_document(seed) for seed in range(500, 540)]
    doc = Generated()
    for part in parts:
        offset = len(doc.text) + 2 if doc.text else 0
        doc.add(("\n\n" if doc.text else "") + part.text)
        doc.headings += [(offset + at, level, title) for at, level, title in part.headings]
    assert len(doc.text) > 200_000
    document = CrackedDocument(text=doc.text, title="large")
    check_invariants(
        Chunker(tokenizer, max_tokens=256, overlap_tokens=32).chunk(document), doc, document, tokenizer, 256, 32
    )


def _document(text: str, pages: tuple[PageSpan, ...] = ()) -> CrackedDocument:
    return CrackedDocument(text=text, title="doc.md", pages=pages)


def _prose(sentences: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(
        " ".join(rng.choice(WORDS[:24]) for _ in range(rng.randint(6, 14))).capitalize() + "." for _ in range(sentences)
    )


def test_headings_give_each_chunk_its_heading_path(tokenizer):
    text = "\n\n".join(
        [
            "Preamble before any heading.",
            "# Guide",
            "## Install",
            "Run the installer.",
            "### Linux",
            "Use the package manager.",
            "## Configure",
            "Edit the settings file. ## not a heading",
            "```\n# a comment inside code, not a heading\n```",
            "# Reference",
            "Look things up here.",
        ]
    )
    chunks = Chunker(tokenizer, max_tokens=512, overlap_tokens=0).chunk(_document(text))
    assert [(chunk.heading_path, chunk.text.splitlines()[0]) for chunk in chunks] == [
        ((), "Preamble before any heading."),
        (("Guide", "Install"), "# Guide"),  # the empty "Guide" heading is folded into the next section
        (("Guide", "Install", "Linux"), "### Linux"),
        (("Guide", "Configure"), "## Configure"),
        (("Reference",), "# Reference"),
    ]
    assert chunks[3].text.endswith("```")
    assert chunks[1].text == "# Guide\n\n## Install\n\nRun the installer."
    assert chunks[1].title == "Guide > Install"


def test_a_section_is_never_mixed_with_the_next(tokenizer):
    text = "# A\n\nshort body\n\n# B\n\nanother short body"
    chunks = Chunker(tokenizer, max_tokens=512, overlap_tokens=64).chunk(_document(text))
    assert [chunk.text for chunk in chunks] == ["# A\n\nshort body", "# B\n\nanother short body"]
    assert [chunk.heading_path for chunk in chunks] == [("A",), ("B",)]


def test_table_too_large_is_split_by_rows_repeating_the_header(tokenizer):
    header = "| Name | Region | Notes |\n|---|---|---|\n"
    rows = [f"| item {i} | westeurope | backup copy number {i} kept for thirty days |" for i in range(80)]
    text = "# Inventory\n\n" + header + "\n".join(rows) + "\n\nAfter the table."
    chunks = Chunker(tokenizer, max_tokens=120, overlap_tokens=0).chunk(_document(text))
    table_chunks = [chunk for chunk in chunks if "| item " in chunk.text]
    assert len(table_chunks) > 3
    for chunk in table_chunks[1:]:
        assert chunk.text.startswith(header)
        assert chunk.text == header + text[chunk.start : chunk.end]
        body_rows = [line for line in text[chunk.start : chunk.end].split("\n") if line.startswith("|")]
        assert body_rows and all(row in rows for row in body_rows)  # whole rows only
        assert chunk.tokens == tokenizer.count(chunk.text) <= 120
    carried = [row for chunk in table_chunks for row in chunk.text.split("\n") if row.startswith("| item ")]
    assert carried == rows
    assert chunks[-1].text.endswith("After the table.")


def test_table_row_larger_than_the_cap_is_split_by_tokens(tokenizer):
    huge_cell = " ".join(f"value{i}" for i in range(400))
    text = "| Key | Value |\n|---|---|\n| a | small |\n| b | " + huge_cell + " |\n| c | small |"
    chunks = Chunker(tokenizer, max_tokens=64, overlap_tokens=8).chunk(_document(text))
    assert len(chunks) > 5
    assert all(chunk.tokens == tokenizer.count(chunk.text) <= 64 for chunk in chunks)
    assert all(chunk.text.startswith("| Key | Value |\n|---|---|\n") for chunk in chunks)
    assert "value399 |" in chunks[-1].text or "value399 |" in chunks[-2].text


def test_code_block_that_fits_is_kept_whole(tokenizer):
    code = "```python\n" + "\n\n".join(f"def function_{i}(x):\n    return x * {i}" for i in range(12)) + "\n```"
    text = _prose(14, seed=1) + "\n\n" + code + "\n\n" + _prose(5, seed=2)
    chunker = Chunker(tokenizer, max_tokens=256, overlap_tokens=32)
    assert tokenizer.count(code) <= 256 < tokenizer.count(text)
    chunks = chunker.chunk(_document(text))
    assert sum(code in chunk.text for chunk in chunks) == 1
    assert all(chunk.tokens <= 256 for chunk in chunks)


def test_a_block_that_starts_a_chunk_gets_no_overlap_in_front(tokenizer):
    code = "```python\n" + "\n\n".join(f"def function_{i}(x):\n    return x * {i}" for i in range(12)) + "\n```"
    text = _prose(14, seed=1) + "\n\n" + code + "\n\n" + _prose(5, seed=2)
    chunks = Chunker(tokenizer, max_tokens=256, overlap_tokens=32).chunk(_document(text))
    (holder,) = [chunk for chunk in chunks if code in chunk.text]
    assert holder.start == text.index(code) and holder.text.startswith("```python")


def test_code_block_larger_than_the_cap_is_split_between_lines(tokenizer):
    code = "```\n" + "\n\n".join(f"line_{i} = compute({i}, {i + 1})" for i in range(200)) + "\n```"
    chunks = Chunker(tokenizer, max_tokens=64, overlap_tokens=0).chunk(_document(code))
    assert len(chunks) > 5
    assert all(chunk.tokens <= 64 for chunk in chunks)
    assert all(chunk.text.endswith(("```", ")")) for chunk in chunks)


def test_overlap_is_present_bounded_and_starts_at_a_word(tokenizer):
    text = "# Notes\n\n" + _prose(120, seed=3)
    chunks = Chunker(tokenizer, max_tokens=100, overlap_tokens=20).chunk(_document(text))
    assert len(chunks) > 10
    shared = [tokenizer.count(text[after.start : before.end]) for before, after in itertools.pairwise(chunks)]
    assert all(0 < count <= 20 for count in shared)
    assert sum(shared) / len(shared) >= 8
    assert all(text[chunk.start - 1].isspace() for chunk in chunks[1:])
    assert all(chunk.heading_path == ("Notes",) for chunk in chunks)


def test_no_overlap_between_sections_or_when_disabled(tokenizer):
    text = "# A\n\n" + _prose(40, seed=4) + "\n\n# B\n\n" + _prose(40, seed=5)
    with_overlap = Chunker(tokenizer, max_tokens=100, overlap_tokens=30).chunk(_document(text))
    first_of_b = next(chunk for chunk in with_overlap if chunk.heading_path == ("B",))
    assert first_of_b.text.startswith("# B")
    without = Chunker(tokenizer, max_tokens=100, overlap_tokens=0).chunk(_document(text))
    assert all(after.start >= before.end for before, after in itertools.pairwise(without))


def test_packing_fills_chunks_close_to_the_cap(tokenizer):
    paragraphs = [_prose(random.Random(seed).randint(1, 4), seed=seed) for seed in range(300)]
    chunks = Chunker(tokenizer, max_tokens=256, overlap_tokens=0).chunk(_document("\n\n".join(paragraphs)))
    assert sum(chunk.tokens for chunk in chunks[:-1]) / (len(chunks) - 1) >= 0.8 * 256
    assert all(chunk.text.endswith(".") for chunk in chunks)  # every cut at a paragraph or sentence end


def test_offsets_are_true(tokenizer):
    text = "  \n\nLeading blank lines.\n\n" + _prose(60, seed=6) + "\n\n   trailing text   \n\n"
    chunks = Chunker(tokenizer, max_tokens=64, overlap_tokens=16).chunk(_document(text))
    assert chunks[0].start == text.index("Leading")
    assert chunks[-1].end == text.index("trailing text") + len("trailing text")
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)


def test_pages_are_mapped_from_the_document(tokenizer):
    pages_text = [_prose(30, seed=page) for page in range(4)]
    text = "\n\n".join(pages_text)
    starts = [text.index(page_text) for page_text in pages_text]
    document = _document(text, pages=tuple(PageSpan(start, number) for number, start in enumerate(starts, start=1)))
    chunks = Chunker(tokenizer, max_tokens=200, overlap_tokens=20).chunk(document)
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 4
    assert any(chunk.page_start != chunk.page_end for chunk in chunks)
    for chunk in chunks:
        assert (chunk.page_start, chunk.page_end) == (document.page_at(chunk.start), document.page_at(chunk.end - 1))
    assert {
        chunk.page_start for chunk in Chunker(tokenizer, max_tokens=200, overlap_tokens=0).chunk(_document(text))
    } == {None}


def test_five_megabyte_line_without_spaces_stays_within_the_cap(tokenizer):
    line = base64.b64encode(random.Random(5).randbytes(3_750_000)).decode()
    assert len(line) == 5_000_000
    chunks = Chunker(tokenizer, max_tokens=512, overlap_tokens=0).chunk(_document(line))
    assert "".join(chunk.text for chunk in chunks) == line
    assert max(chunk.tokens for chunk in chunks) <= 512
    assert sum(chunk.tokens for chunk in chunks) / len(chunks) > 500
    sample = random.Random(0).sample(chunks, 50)
    assert all(chunk.tokens == tokenizer.count(chunk.text) for chunk in sample)


def test_cjk_and_emoji_without_spaces(tokenizer):
    text = (CJK * 80) + "\n\n" + ("😀👍🏽🇩🇪" * 300)
    chunks = Chunker(tokenizer, max_tokens=32, overlap_tokens=4).chunk(_document(text))
    assert all(chunk.tokens == tokenizer.count(chunk.text) <= 32 for chunk in chunks)
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_text_gives_no_chunks(tokenizer, text):
    assert Chunker(tokenizer, max_tokens=64, overlap_tokens=8).chunk(_document(text)) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(15, 0), (0, 0), (64, -1), (64, 64), (64, 100)])
def test_constructor_rejects_bad_limits(tokenizer, max_tokens, overlap):
    with pytest.raises(ValueError, match="tokens"):
        Chunker(tokenizer, max_tokens=max_tokens, overlap_tokens=overlap)


def test_constructor_accepts_the_smallest_limits(tokenizer):
    chunker = Chunker(tokenizer, max_tokens=16, overlap_tokens=15)
    chunks = chunker.chunk(_document(_prose(20, seed=7)))
    assert chunks and all(chunk.tokens <= 16 for chunk in chunks)


def test_output_is_deterministic(tokenizer):
    doc = random_document(4242)
    document = _document(doc.text)
    first = Chunker(tokenizer, max_tokens=128, overlap_tokens=16).chunk(document)
    assert first == Chunker(tokenizer, max_tokens=128, overlap_tokens=16).chunk(document)
    assert first == Chunker(tokenizer, max_tokens=128, overlap_tokens=16).chunk(_document(doc.text))


def test_text_with_surrogates_is_still_counted_exactly(tokenizer):
    text = _prose(30, seed=8) + " broken \ud800 surrogate and a pair \ud83d\ude00 here. " + _prose(30, seed=9)
    chunks = Chunker(tokenizer, max_tokens=48, overlap_tokens=8).chunk(_document(text))
    assert all(chunk.tokens == tokenizer.count(chunk.text) <= 48 for chunk in chunks)
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)
