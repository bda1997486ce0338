"""Count once: the pipeline hands a counting embedder the chunker's token counts of what it embeds, exact, and
never a count past the cap; a giant heading (the SQLite keyword index shape) embeds within the cap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import Chunker
from ingestion.cracking.registry import LocalCracker
from ingestion.embedding.base import CountedEmbedder
from ingestion.embedding.hashing import HashEmbedder
from ingestion.indexing.local.index import LocalIndex
from ingestion.pipeline import Pipeline, PipelineOptions
from ingestion.sources.local import LocalFolderSource
from ingestion.tokenizer import get_tokenizer

CAP = 128


class RecordingCountedEmbedder:
    """A CountedEmbedder over the hash embedder that records the counts it was given (and fails on plain embed)."""

    tokenizer_name = get_tokenizer().name

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.model_id = self.inner.model_id
        self.dimensions = self.inner.dimensions
        self.max_input_tokens = self.inner.max_input_tokens
        self.seen: list[tuple[str, int]] = []

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the pipeline re-counted instead of carrying the chunker's counts")

    async def embed_counted(self, texts: Sequence[str], counts: Sequence[int]) -> np.ndarray:
        self.seen.extend(zip(texts, counts, strict=True))
        return await self.inner.embed(texts)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("embed_headings", [True, False])
async def test_counts_are_carried_exactly_and_stay_within_the_cap(tmp_path: Path, embed_headings: bool) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    nav = " ".join(f"Index{i} ALTER TABLE" for i in range(2_000))
    (docs / "keyword_index.md").write_text(
        f"# Keyword Index\n\n## Other Indexes: {nav}\n\n" + "\n".join(f"- keyword_{i} x" for i in range(600))
    )
    (docs / "guide.md").write_text("# Guide\n\n## Setup\n\n" + "Install it, then run it. " * 80 + "\n\n|a|b|\n|-|-|\n")
    (docs / "plain.txt").write_text("No headings here at all. " * 60)
    embedder = RecordingCountedEmbedder()
    assert isinstance(embedder, CountedEmbedder)
    tokenizer = get_tokenizer()
    pipeline = Pipeline(
        cracker=LocalCracker(),
        chunker=Chunker(tokenizer, max_tokens=CAP, overlap_tokens=16, titled=embed_headings),
        tokenizer=tokenizer,
        embedder=embedder,
        index=LocalIndex(tmp_path / "index.db", name="grounding-v1", dimensions=embedder.dimensions),
        options=PipelineOptions(max_concurrency=2, embed_headings=embed_headings),
    )
    await pipeline.index.ensure()
    try:
        result = await pipeline.run(LocalFolderSource(docs))
    finally:
        await pipeline.close()
    assert result.failed == 0
    assert embedder.seen
    assert [count for _, count in embedder.seen] == [tokenizer.count(text) for text, _ in embedder.seen]
    assert max(count for _, count in embedder.seen) <= CAP
    assert result.tokens_embedded == sum(count for _, count in embedder.seen)
