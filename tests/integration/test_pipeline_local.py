"""The pipeline end to end on the embedded default stack: local parsers, chunker, hash embedder, SQLite index."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from ingestion.chunking import Chunker
from ingestion.cracking.registry import LocalCracker
from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import TransientError
from ingestion.indexing.local.index import LocalIndex
from ingestion.keys import document_key
from ingestion.models import DocumentRecord, IndexChunk, SearchMode
from ingestion.pipeline import Pipeline, PipelineOptions
from ingestion.sources.local import LocalFolderSource
from ingestion.tokenizer import get_tokenizer
from tests.support.bad_corpus import build_bad_corpus, build_good_corpus


class CountingEmbedder:
    """Delegates to the hash embedder and counts what it was asked to embed; can be told to fail."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.model_id = self.inner.model_id
        self.dimensions = self.inner.dimensions
        self.max_input_tokens = self.inner.max_input_tokens
        self.texts: list[str] = []
        self.fail_with: Exception | None = None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_with is not None:
            raise self.fail_with
        self.texts.extend(texts)
        return await self.inner.embed(texts)

    async def close(self) -> None:
        return None


def make_pipeline(db: Path, embedder: CountingEmbedder, *, max_tokens: int = 96, overlap: int = 16) -> Pipeline:
    return Pipeline(
        cracker=LocalCracker(),
        chunker=Chunker(get_tokenizer(), max_tokens=max_tokens, overlap_tokens=overlap),
        tokenizer=get_tokenizer(),
        embedder=embedder,
        index=LocalIndex(db, name="grounding-v1", dimensions=embedder.dimensions),
        options=PipelineOptions(max_concurrency=3),
    )


SECTION = "The quick brown fox jumps over the lazy dog. " * 12


def write_docs(root: Path) -> None:
    (root / "guides").mkdir(parents=True, exist_ok=True)
    (root / "guides" / "backup.md").write_text(
        "# Backups\n\nBackups run nightly to the geo-redundant vault in West Europe.\n\n"
        f"## Restore\n\n{SECTION}\n\nRestores need the backup operator role.\n"
    )
    (root / "guides" / "tokens.md").write_text(
        f"# Token limits\n\nEvery chunk stays under the token cap of the embedding model.\n\n{SECTION}\n"
    )
    (root / "faq.txt").write_text("Frequently asked: where do invoices go? Invoices go to the finance mailbox.\n")


async def chunk_rows(index: LocalIndex, source_path: str) -> list[tuple[int, str]]:
    hits = await index.search("fox backups invoices token", mode=SearchMode.TEXT, top=1000, source_path=source_path)
    return sorted((hit.ordinal, hit.key) for hit in hits)


@pytest.fixture
async def setup(tmp_path: Path):
    root = tmp_path / "docs"
    write_docs(root)
    embedder = CountingEmbedder()
    pipeline = make_pipeline(tmp_path / "index.sqlite", embedder)
    await pipeline.index.ensure()
    yield root, embedder, pipeline
    await pipeline.close()


async def test_first_ingest_then_unchanged_rerun_embeds_nothing(setup) -> None:
    root, embedder, pipeline = setup
    first = await pipeline.run(LocalFolderSource(root))
    assert (first.documents, first.added, first.updated, first.unchanged, first.deleted, first.failed) == (
        3,
        3,
        0,
        0,
        0,
        0,
    )
    assert first.chunks >= 4 and first.tokens_embedded > 0 and first.failures == []
    stats = await pipeline.index.stats()
    assert (stats.documents, stats.chunks) == (3, first.chunks)

    embedder.texts.clear()
    second = await pipeline.run(LocalFolderSource(root))
    assert second.as_dict() | {"seconds": 0} == {
        "documents": 3,
        "added": 0,
        "updated": 0,
        "unchanged": 3,
        "deleted": 0,
        "failed": 0,
        "chunks": 0,
        "tokens_embedded": 0,
        "seconds": 0,
        "failures": [],
    }
    assert embedder.texts == []


async def test_changed_document_reuses_unchanged_chunk_vectors_and_drops_stale_tail(setup) -> None:
    root, embedder, pipeline = setup
    await pipeline.run(LocalFolderSource(root))
    backup = root / "guides" / "backup.md"
    key = document_key(str(backup.resolve()))
    before = await pipeline.index.get_document(key)
    assert before is not None and before.chunk_count >= 2

    # Append one paragraph: only the changed tail is embedded again.
    embedder.texts.clear()
    backup.write_text(backup.read_text() + "\nRestores of single files take about ten minutes.\n")
    result = await pipeline.run(LocalFolderSource(root))
    assert (result.updated, result.unchanged, result.added) == (1, 2, 0)
    assert 0 < len(embedder.texts) < before.chunk_count
    hits = await pipeline.index.search("single files ten minutes", mode=SearchMode.TEXT, top=3)
    assert hits and hits[0].source_path == str(backup.resolve())

    # Shrink it to one short paragraph: exactly one chunk remains, ordinals 0..n-1, nothing stale.
    backup.write_text("# Backups\n\nBackups moved to a new vault.\n")
    await pipeline.run(LocalFolderSource(root))
    after = await pipeline.index.get_document(key)
    assert after is not None and after.chunk_count == 1
    assert len(await pipeline.index.get_vectors(key)) == 1
    rows = await chunk_rows(pipeline.index, str(backup.resolve()))
    assert [ordinal for ordinal, _ in rows] == [0]
    assert (await pipeline.index.stats()).chunks == sum(
        rec.chunk_count for rec in [d async for d in pipeline.index.list_documents()]
    )


async def test_deleted_file_leaves_the_index_and_other_folders_are_untouched(setup, tmp_path: Path) -> None:
    root, _, pipeline = setup
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.md").write_text("# Keep\n\nThis document belongs to another source folder.\n")
    await pipeline.run(LocalFolderSource(other))
    await pipeline.run(LocalFolderSource(root))
    (root / "faq.txt").unlink()
    result = await pipeline.run(LocalFolderSource(root))
    assert (result.deleted, result.unchanged) == (1, 2)
    assert await pipeline.index.search("invoices finance mailbox", mode=SearchMode.TEXT, top=5) == []
    paths = sorted([doc.source_path async for doc in pipeline.index.list_documents()])
    assert paths == sorted([str((other / "keep.md").resolve()), *(str(p.resolve()) for p in root.rglob("*.md"))])


async def test_ingesting_one_file_deletes_nothing_that_only_shares_its_prefix(setup) -> None:
    root, _, pipeline = setup
    (root / "faq.txt-old.txt").write_text("An older copy of the invoices answer.\n")
    await pipeline.run(LocalFolderSource(root))
    single = await pipeline.run(LocalFolderSource(root / "faq.txt"))
    assert (single.documents, single.unchanged, single.deleted) == (1, 1, 0)
    paths = {Path(doc.source_path).name async for doc in pipeline.index.list_documents()}
    assert paths == {"backup.md", "tokens.md", "faq.txt", "faq.txt-old.txt"}


async def test_changing_chunk_settings_reprocesses_every_document(setup, tmp_path: Path) -> None:
    root, embedder, pipeline = setup
    await pipeline.run(LocalFolderSource(root))
    other = make_pipeline(tmp_path / "index.sqlite", embedder, max_tokens=64, overlap=8)
    try:
        result = await other.run(LocalFolderSource(root))
    finally:
        await other.close()
    assert (result.updated, result.unchanged) == (3, 0)
    assert other.fingerprint != pipeline.fingerprint


async def test_failure_mid_document_leaves_previous_version_intact(setup) -> None:
    root, embedder, pipeline = setup
    await pipeline.run(LocalFolderSource(root))
    tokens = root / "guides" / "tokens.md"
    key = document_key(str(tokens.resolve()))
    record_before = await pipeline.index.get_document(key)
    rows_before = await chunk_rows(pipeline.index, str(tokens.resolve()))

    tokens.write_text("# Token limits\n\nCompletely rewritten: limits are now per deployment.\n")
    embedder.fail_with = TransientError("embedding service unavailable")
    result = await pipeline.run(LocalFolderSource(root))
    assert result.failed == 1 and result.unchanged == 2
    assert result.failures[0]["source"] == str(tokens.resolve())
    assert "embedding service unavailable" in result.failures[0]["error"]
    assert await pipeline.index.get_document(key) == record_before
    assert await chunk_rows(pipeline.index, str(tokens.resolve())) == rows_before
    assert await pipeline.index.search("per deployment", mode=SearchMode.TEXT, top=5) == []

    embedder.fail_with = None
    healed = await pipeline.run(LocalFolderSource(root))
    assert (healed.updated, healed.failed) == (1, 0)


async def test_bad_input_corpus_is_reported_and_good_files_all_indexed(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    expected_bad = build_bad_corpus(root)
    good = build_good_corpus(root)
    embedder = CountingEmbedder()
    pipeline = make_pipeline(tmp_path / "index.sqlite", embedder, max_tokens=256, overlap=32)
    await pipeline.index.ensure()
    tracemalloc.start()
    try:
        result = await pipeline.run(LocalFolderSource(root))
        _, peak = tracemalloc.get_traced_memory()
        indexed = {Path(doc.source_path).name async for doc in pipeline.index.list_documents()}
    finally:
        tracemalloc.stop()
        await pipeline.close()

    failures = {Path(f["source"]).name: f["error"] for f in result.failures}
    assert set(failures) == {Path(name).name for name in expected_bad}
    for name, error in failures.items():
        assert name in error, error
        assert "\n" not in error
    assert indexed == {Path(name).name for name in good}
    assert result.failed == len(expected_bad) and result.added == len(good)
    assert peak < 400 * 1024 * 1024, f"peak traced memory {peak / 1e6:.0f} MB"


class PacedLocalIndex(LocalIndex):
    """A local index that takes the pipeline's pacing hint (``indexing.base.PacedWrites``) and notes what it says
    at each write."""

    in_flight: Callable[[], int] | None = None
    seen: list[int]

    def pace_by(self, in_flight: Callable[[], int]) -> None:
        self.in_flight = in_flight

    async def replace_document(self, record: DocumentRecord, chunks: Sequence[IndexChunk]) -> None:
        assert self.in_flight is not None
        self.seen.append(self.in_flight())
        await super().replace_document(record, chunks)


async def test_the_pipeline_tells_a_paced_index_how_many_documents_are_in_flight(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_docs(root)
    index = PacedLocalIndex(tmp_path / "index.sqlite", name="grounding-v1", dimensions=HashEmbedder().dimensions)
    index.seen = []
    pipeline = Pipeline(
        cracker=LocalCracker(),
        chunker=Chunker(get_tokenizer(), max_tokens=96, overlap_tokens=16),
        tokenizer=get_tokenizer(),
        embedder=CountingEmbedder(),
        index=index,
    )
    await index.ensure()
    try:
        result = await pipeline.run(LocalFolderSource(root))
        assert index.in_flight is not None
        assert result.added == 3 and len(index.seen) == 3
        assert all(1 <= seen <= 3 for seen in index.seen)  # the writer itself is in flight, and at most all three
        assert index.in_flight() == 0  # every document let go of the budget
    finally:
        await pipeline.close()
