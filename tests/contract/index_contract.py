"""The ``Index`` contract (ingestion/indexing/base.py) as a reusable test mixin.

A test class inherits ``IndexContract`` and supplies one async fixture, ``index``, yielding a fresh, empty index of
``DIMENSIONS``-long vectors on which ``ensure()`` has already been called (and closing it afterwards). Every test below
then runs against that implementation; the file name does not start with ``test_`` so pytest only collects the
subclasses.

Search queries are plain user text: operator characters of any query syntax (FTS5, Lucene) must neither raise nor
change the meaning of the words around them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from ingestion.indexing.base import Index, IndexStats
from ingestion.indexing.fusion import ExactTermRule
from ingestion.keys import chunk_key, document_key, text_hash
from ingestion.models import DocumentRecord, IndexChunk, SearchMode

DIMENSIONS = 4
INDEXED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def vec(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def make_document(
    source_id: str,
    parts: Sequence[tuple[str, np.ndarray]],
    *,
    content_version: str = "sha256:v1",
    fingerprint: str = "fp-1",
    heading: str = "Intro",
) -> tuple[DocumentRecord, list[IndexChunk]]:
    """A record and its chunks: one chunk per ``(text, vector)``, keyed from ``source_id`` like the pipeline does."""
    key = document_key(source_id)
    chunks = [
        IndexChunk(
            key=chunk_key(key, ordinal),
            parent_key=key,
            ordinal=ordinal,
            content=text,
            title=f"{heading} > Part {ordinal}",
            source_path=source_id,
            chunk_hash=text_hash(text),
            vector=vector,
            page_start=ordinal + 1,
            page_end=ordinal + 2,
            start=ordinal * 100,
            end=ordinal * 100 + len(text),
            groups=("staff",),
        )
        for ordinal, (text, vector) in enumerate(parts)
    ]
    record = DocumentRecord(
        key=key,
        source_id=source_id,
        source_path=source_id,
        content_version=content_version,
        fingerprint=fingerprint,
        chunk_count=len(chunks),
        indexed_at=INDEXED_AT,
    )
    return record, chunks


async def put(index: Index, source_id: str, *parts: tuple[str, np.ndarray], **kwargs: str) -> DocumentRecord:
    record, chunks = make_document(source_id, parts, **kwargs)
    await index.replace_document(record, chunks)
    return record


async def listed(index: Index, prefix: str = "") -> list[str]:
    return [record.source_id async for record in index.list_documents(prefix=prefix)]


async def keys_of(index: Index, text: str, **kwargs: object) -> list[str]:
    return [hit.key for hit in await index.search(text, **kwargs)]


FOX = "/docs/animals/fox.txt"
DOG = "/docs/animals/dog.txt"
BACKUP = "/docs/ops/backup.txt"
SPECIAL_QUERIES = [
    'fox"', '"fox', '"', "'", "fox*", "*", "(fox", "fox)", "()", "NEAR(fox brown)", "fox NEAR brown", "NEAR",
    "-fox", "fox -brown", "title:fox", "content:", ":", "fox AND", "OR fox", "NOT", "AND OR NOT", "^fox", "fox^2",
    "fox + brown", "{fox}", "[fox]", "fox\\", "fox/brown", "fox's", "fox~", "fox?", "&&||!", "", "   ", "\x00fox",
]  # fmt: skip


class IndexContract:
    """Mixin: every promise of the ``Index`` docstrings, for the implementation the ``index`` fixture gives."""

    async def corpus(self, index: Index) -> None:
        await put(index, FOX, ("The quick brown fox jumps over the fence", vec(1, 0, 0, 0)))
        await put(index, DOG, ("A lazy dog sleeps all afternoon in the sun", vec(0, 1, 0, 0)))
        await put(
            index,
            BACKUP,
            ("Backups run nightly; each backup is copied to a second region; a backup is kept", vec(0, 0, 1, 0)),
            ("The storage account uses geo-redundant storage and a backup vault", vec(0, 0, 0.6, 0.8)),
        )

    # -- ensure, get, replace -----------------------------------------------------------------------------------

    async def test_new_index_is_empty(self, index: Index) -> None:
        key = document_key(FOX)
        assert await index.stats() == IndexStats(name=index.name, documents=0, chunks=0)
        assert await index.get_document(key) is None
        assert await index.get_vectors(key) == {}
        assert await listed(index) == []
        assert await index.search("fox", vector=vec(1, 0, 0, 0)) == []

    async def test_ensure_is_idempotent_and_keeps_data(self, index: Index) -> None:
        record = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
        await index.ensure()
        await index.ensure()
        assert await index.get_document(record.key) == record
        assert await index.stats() == IndexStats(name=index.name, documents=1, chunks=1)

    async def test_replace_then_get_document_returns_the_record(self, index: Index) -> None:
        record = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)), ("jumps high", vec(0, 1, 0, 0)))
        assert await index.get_document(record.key) == record
        newer = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)), content_version="sha256:v2")
        assert await index.get_document(record.key) == newer
        assert await index.get_document(document_key(DOG)) is None

    async def test_replace_with_fewer_chunks_removes_the_tail(self, index: Index) -> None:
        parts = [("alpha words", vec(1, 0, 0, 0)), ("bravo words", vec(0, 1, 0, 0)), ("charlie words", vec(0, 0, 1, 0))]
        record = await put(index, FOX, *parts)
        assert (await index.stats()).chunks == 3
        await put(index, FOX, parts[0])
        assert await index.stats() == IndexStats(name=index.name, documents=1, chunks=1)
        assert set(await index.get_vectors(record.key)) == {text_hash("alpha words")}
        assert await keys_of(index, "bravo charlie", mode=SearchMode.TEXT) == []
        assert await keys_of(index, "x", vector=vec(0, 0, 1, 0), mode=SearchMode.VECTOR, top=10) == [
            chunk_key(record.key, 0)
        ]

    async def test_replacing_changes_what_text_search_finds(self, index: Index) -> None:
        record = await put(index, FOX, ("old wording about ferrets", vec(1, 0, 0, 0)))
        await put(index, FOX, ("new wording about otters", vec(1, 0, 0, 0)))
        assert await keys_of(index, "ferrets", mode=SearchMode.TEXT) == []
        assert await keys_of(index, "otters", mode=SearchMode.TEXT) == [chunk_key(record.key, 0)]

    async def test_replacing_the_same_document_twice_leaves_no_duplicates(self, index: Index) -> None:
        parts = [("quick brown fox", vec(1, 0, 0, 0)), ("brown fox again", vec(0.9, 0.1, 0, 0))]
        record = await put(index, FOX, *parts)
        await put(index, FOX, *parts)
        assert await index.stats() == IndexStats(name=index.name, documents=1, chunks=2)
        assert await listed(index) == [FOX]
        for mode in SearchMode:
            found = await keys_of(index, "brown fox", vector=vec(1, 0, 0, 0), mode=mode, top=10)
            assert sorted(found) == [chunk_key(record.key, 0), chunk_key(record.key, 1)]

    async def test_get_vectors_maps_chunk_hash_to_vector(self, index: Index) -> None:
        record = await put(index, FOX, ("first part", vec(1, 2, 3, 4)), ("second part", vec(-1, 0.5, 0, 0.25)))
        await put(index, DOG, ("other document", vec(0, 0, 0, 1)))
        vectors = await index.get_vectors(record.key)
        assert set(vectors) == {text_hash("first part"), text_hash("second part")}
        np.testing.assert_allclose(vectors[text_hash("first part")], [1, 2, 3, 4], rtol=1e-6)
        np.testing.assert_allclose(vectors[text_hash("second part")], [-1, 0.5, 0, 0.25], rtol=1e-6)

    async def test_bad_chunks_raise_value_error_and_write_nothing(self, index: Index) -> None:
        old = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
        record, chunks = make_document(FOX, [("replacement text", vec(0, 1, 0, 0))], content_version="sha256:v2")
        wrong_parent = [chunks[0], replace(chunks[0], key=chunk_key(record.key, 1), parent_key=document_key(DOG))]
        wrong_dims = [chunks[0], replace(chunks[0], key=chunk_key(record.key, 1), vector=vec(1, 0, 0))]
        for bad in (wrong_parent, wrong_dims):
            with pytest.raises(ValueError):
                await index.replace_document(record, bad)
        new_record, new_chunks = make_document(DOG, [("a dog", vec(0, 1, 0, 0, 0))])
        with pytest.raises(ValueError):
            await index.replace_document(new_record, new_chunks)
        assert await index.get_document(old.key) == old
        assert await index.get_document(new_record.key) is None
        assert await index.stats() == IndexStats(name=index.name, documents=1, chunks=1)
        assert await keys_of(index, "replacement", mode=SearchMode.TEXT) == []

    async def test_concurrent_replacements_of_different_documents(self, index: Index) -> None:
        sources = [f"/docs/many/{n:02d}.txt" for n in range(20)]
        await asyncio.gather(*(put(index, s, (f"document {s}", vec(1, n, 0, 0))) for n, s in enumerate(sources)))
        assert await index.stats() == IndexStats(name=index.name, documents=20, chunks=20)
        assert sorted(await listed(index, "/docs/many/")) == sources

    # -- delete, list, stats ------------------------------------------------------------------------------------

    async def test_delete_document_is_idempotent_and_reports_presence(self, index: Index) -> None:
        fox = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)), ("more fox", vec(1, 1, 0, 0)))
        dog = await put(index, DOG, ("lazy dog", vec(0, 1, 0, 0)))
        assert await index.delete_document(fox.key) is True
        assert await index.delete_document(fox.key) is False
        assert await index.delete_document(document_key("/never/indexed")) is False
        assert await index.get_document(fox.key) is None
        assert await index.get_vectors(fox.key) == {}
        assert await index.get_document(dog.key) == dog
        assert await index.stats() == IndexStats(name=index.name, documents=1, chunks=1)
        assert await keys_of(index, "fox", vector=vec(1, 0, 0, 0), top=10) == [chunk_key(dog.key, 0)]

    async def test_list_documents_filters_by_prefix_literally(self, index: Index) -> None:
        sources = ["/data/a%b/x.txt", "/data/a_b/y.txt", "/data/aXb/z.txt", "/data/ab/w.txt", "/other/v.txt"]
        for n, source in enumerate(sources):
            await put(index, source, (f"text {n}", vec(1, 0, 0, 0)))
        assert sorted(await listed(index)) == sorted(sources)
        assert sorted(await listed(index, "/data/")) == sorted(sources[:4])
        assert await listed(index, "/data/a%b/") == ["/data/a%b/x.txt"]
        assert await listed(index, "/data/a_b") == ["/data/a_b/y.txt"]
        assert await listed(index, "/data/a%") == ["/data/a%b/x.txt"]
        assert await listed(index, "/data/ab/w.txt") == ["/data/ab/w.txt"]
        assert await listed(index, "/nothing") == []

    async def test_list_documents_yields_whole_records_each_once(self, index: Index) -> None:
        records = [await put(index, f"/docs/{n}.txt", (f"text {n}", vec(1, 0, 0, 0))) for n in range(5)]
        found = [record async for record in index.list_documents(prefix="/docs/")]
        assert sorted(found, key=lambda r: r.source_id) == records

    async def test_stats_count_documents_and_chunks(self, index: Index) -> None:
        await self.corpus(index)
        assert await index.stats() == IndexStats(name=index.name, documents=3, chunks=4)

    # -- search -------------------------------------------------------------------------------------------------

    async def test_text_search_ranks_by_bm25_and_skips_non_matching(self, index: Index) -> None:
        await self.corpus(index)
        backup = document_key(BACKUP)
        assert await keys_of(index, "fox", mode=SearchMode.TEXT) == [chunk_key(document_key(FOX), 0)]
        # Three mentions in the first chunk beat one in the second.
        assert await keys_of(index, "backup", mode=SearchMode.TEXT) == [chunk_key(backup, 0), chunk_key(backup, 1)]
        assert await keys_of(index, "zebra", mode=SearchMode.TEXT) == []
        # Every title is "Intro > Part N" and no content says "part": titles are searched too.
        all_chunks = [chunk_key(document_key(s), 0) for s in (FOX, DOG, BACKUP)] + [chunk_key(backup, 1)]
        assert sorted(await keys_of(index, "part", mode=SearchMode.TEXT, top=10)) == sorted(all_chunks)

    async def test_hits_carry_the_chunk_fields(self, index: Index) -> None:
        await self.corpus(index)
        (hit,) = await index.search("geo-redundant vault", mode=SearchMode.TEXT, top=1)
        assert hit.key == chunk_key(document_key(BACKUP), 1)
        assert hit.parent_key == document_key(BACKUP)
        assert hit.source_path == BACKUP
        assert hit.title == "Intro > Part 1"
        assert hit.content == "The storage account uses geo-redundant storage and a backup vault"
        assert (hit.ordinal, hit.page_start, hit.page_end) == (1, 2, 3)
        assert hit.score > 0

    async def test_vector_search_orders_by_cosine_similarity(self, index: Index) -> None:
        await self.corpus(index)
        backup = document_key(BACKUP)
        expected = [chunk_key(backup, 1), chunk_key(backup, 0), chunk_key(document_key(FOX), 0)]
        hits = await index.search("", vector=vec(0.1, 0, 0.5, 1), mode=SearchMode.VECTOR, top=3)
        assert [h.key for h in hits] == expected
        assert hits[0].score > hits[1].score > hits[2].score
        scaled = await keys_of(index, "", vector=vec(0, 0, 5, 10), mode=SearchMode.VECTOR, top=2)
        assert scaled == [chunk_key(backup, 1), chunk_key(backup, 0)]  # cosine ignores length

    async def test_hybrid_fuses_text_and_vector_rankings(self, index: Index) -> None:
        both = await put(index, "/docs/x.txt", ("solar panels on the roof", vec(0.8, 0.6, 0, 0)))
        vector_only = await put(index, "/docs/y.txt", ("wind turbines offshore", vec(1, 0, 0, 0)))
        last = await put(index, "/docs/z.txt", ("rain gauges", vec(0.1, 0, 0.995, 0)))
        keys = [chunk_key(r.key, 0) for r in (both, vector_only, last)]
        query = vec(1, 0, 0, 0)
        assert await keys_of(index, "solar panels", mode=SearchMode.TEXT, top=10) == keys[:1]
        by_vector = await keys_of(index, "solar panels", vector=query, mode=SearchMode.VECTOR, top=10)
        assert by_vector == [keys[1], keys[0], keys[2]]
        # First in text and second in vector beats first in vector only.
        hits = await index.search("solar panels", vector=query, mode=SearchMode.HYBRID, top=10)
        assert [h.key for h in hits] == keys
        assert hits[0].score > hits[1].score > hits[2].score

    async def test_the_vector_weight_scales_the_vector_ranking_in_hybrid(self, index: Index) -> None:
        # Fifteen chunks ever further from the query vector; only the last one contains the query's words.
        angles = np.linspace(0.0, 1.2, 15)
        for i, angle in enumerate(angles):
            text = "solar panels on the roof" if i == 14 else f"wind turbine number {i}"
            await put(index, f"/docs/w{i:02}.txt", (text, vec(float(np.cos(angle)), float(np.sin(angle)), 0, 0)))
        first, last = (chunk_key(document_key(f"/docs/w{i:02}.txt"), 0) for i in (0, 14))
        query = vec(1, 0, 0, 0)
        # Weight 1: first in text and 15th in vector (1/61 + 1/75) beats first in vector alone (1/61).
        assert index.vector_weight == 1.0  # type: ignore[attr-defined]
        assert (await keys_of(index, "solar panels", vector=query, mode=SearchMode.HYBRID, top=2))[0] == last
        # Weight 6: 6/61 beats 1/61 + 6/75; the text match stays in the results.
        index.vector_weight = 6.0  # type: ignore[attr-defined]
        weighted = await keys_of(index, "solar panels", vector=query, mode=SearchMode.HYBRID, top=15)
        assert weighted[0] == first and last in weighted
        # Text-only and vector-only searches are not weighted.
        assert await keys_of(index, "solar panels", mode=SearchMode.TEXT, top=2) == [last]
        assert (await keys_of(index, "", vector=query, mode=SearchMode.VECTOR, top=15))[-1] == last

    async def test_a_rare_exact_term_moves_hybrid_to_the_text_ranking(self, index: Index) -> None:
        # As above, but the text match names a setting; the index fuses with weight 6 unless the exact-term rule
        # (weight 0.5) applies: the query names an identifier that occurs in 1 to 50 chunks.
        for i, angle in enumerate(np.linspace(0.0, 1.2, 15)):
            text = "max_wal_senders limits the wal senders" if i == 14 else f"wind turbine number {i}"
            await put(index, f"/docs/w{i:02}.txt", (text, vec(float(np.cos(angle)), float(np.sin(angle)), 0, 0)))
        first, last = (chunk_key(document_key(f"/docs/w{i:02}.txt"), 0) for i in (0, 14))
        query = vec(1, 0, 0, 0)
        index.vector_weight = 6.0  # type: ignore[attr-defined]
        question = "What does max_wal_senders do?"
        assert (await keys_of(index, question, vector=query, mode=SearchMode.HYBRID, top=1)) == [first]
        index.exact_term_rule = ExactTermRule(0.5)  # type: ignore[attr-defined]
        hits = await index.search(question, vector=query, mode=SearchMode.HYBRID, top=15)
        assert [hits[0].key, hits[1].key] == [last, first]
        assert hits[0].score == pytest.approx(1 / 61 + 0.5 / 75)
        # A name the index does not contain, or plain words, keep the usual weight.
        for other in ("What does max_wal_receivers do?", "wal senders"):
            assert (await keys_of(index, other, vector=query, mode=SearchMode.HYBRID, top=1)) == [first], other
        assert await index.count_exact(["max_wal_senders", "max_wal_receivers", "turbine"]) == [1, 0, 14]
        for hostile in ("`a\x00b`", '`"*"x`', "`NEAR(a_b)`", "x_y AND", "`" + "é" * 99 + "`", "a.b.c" * 40):
            assert len(await index.search(hostile, vector=query, mode=SearchMode.HYBRID, top=3)) == 3, hostile  # type: ignore[attr-defined]

    async def test_top_limits_the_number_of_hits(self, index: Index) -> None:
        await self.corpus(index)
        for mode in SearchMode:
            hits = await index.search("fox dog backup", vector=vec(1, 1, 1, 1), mode=mode, top=2)
            assert len(hits) == 2

    async def test_source_path_keeps_only_that_document(self, index: Index) -> None:
        await self.corpus(index)
        for mode in SearchMode:
            hits = await index.search("backup fox dog", vector=vec(1, 1, 0, 0), mode=mode, top=10, source_path=BACKUP)
            assert {h.source_path for h in hits} == {BACKUP}, mode
            assert len(hits) == 2, mode
        hits = await index.search("fox", vector=vec(1, 0, 0, 0), top=10, source_path=DOG)
        assert [h.source_path for h in hits] == [DOG]
        assert await index.search("fox", vector=vec(1, 0, 0, 0), top=10, source_path="/no/such/file") == []

    @pytest.mark.parametrize("mode", [SearchMode.VECTOR, SearchMode.HYBRID])
    async def test_vector_modes_need_a_vector(self, index: Index, mode: SearchMode) -> None:
        await self.corpus(index)
        with pytest.raises(ValueError):
            await index.search("fox", mode=mode)

    @pytest.mark.parametrize("query", SPECIAL_QUERIES)
    async def test_query_syntax_characters_are_plain_text(self, index: Index, query: str) -> None:
        await self.corpus(index)
        fox = chunk_key(document_key(FOX), 0)
        text_keys = await keys_of(index, query, mode=SearchMode.TEXT, top=10)
        hybrid_keys = await keys_of(index, query, vector=vec(0, 1, 0, 0), mode=SearchMode.HYBRID, top=10)
        if re.search(r"\bfox\b", query):
            assert fox in text_keys
            assert fox in hybrid_keys
        else:
            assert fox not in text_keys
