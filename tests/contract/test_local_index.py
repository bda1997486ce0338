"""The local SQLite index: the shared Index contract, plus what only a local file can promise."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from index_schemas import LATEST, VERSIONS, SchemaParams, field_specs
from ingestion.errors import ConfigurationError, DocumentRejectedError, TransientError
from ingestion.indexing.base import IndexStats
from ingestion.indexing.local.index import LocalIndex
from ingestion.indexing.local.schema import table_prefix
from ingestion.keys import chunk_key, document_key, text_hash
from ingestion.models import SearchMode
from tests.contract.index_contract import DIMENSIONS, FOX, IndexContract, keys_of, listed, make_document, put, vec

NAME = "grounding-v1"


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    """A fresh, ensured LocalIndex: what the contract mixin and the local-only tests below run against."""
    index = LocalIndex(tmp_path / "index.sqlite", NAME, DIMENSIONS)
    await index.ensure()
    yield index
    await index.close()


class TestLocalIndexContract(IndexContract):
    """The shared contract; the module's ``index`` fixture supplies the implementation."""


@contextmanager
def raw(index: LocalIndex) -> Iterator[sqlite3.Connection]:
    """A second, independent connection to the index file (what another process would see)."""
    conn = sqlite3.connect(index.path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


# -- atomicity ------------------------------------------------------------------------------------------------------

FAULTS = {
    # The third chunk's insert fails after two chunks (one an update of an existing key) were written.
    "third chunk": "BEFORE INSERT ON {prefix}_chunks WHEN NEW.content = 'poison'",
    # Every chunk is written and the stale tail deleted; then writing the record fails.
    "record": "BEFORE UPDATE ON {prefix}_documents",
}


@pytest.mark.parametrize("where", FAULTS)
async def test_failed_replace_leaves_the_previous_version_intact(index: LocalIndex, where: str) -> None:
    old_parts = [("original alpha", vec(1, 0, 0, 0)), ("original bravo", vec(0, 1, 0, 0)), ("tail", vec(0, 0, 1, 0))]
    old = await put(index, FOX, *old_parts)
    before = (await index.get_vectors(old.key), await index.stats())
    when = FAULTS[where].format(prefix=table_prefix(NAME))
    with raw(index) as conn:
        conn.execute(f"CREATE TRIGGER fault {when} BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
    new_parts = [("changed alpha", vec(0, 0, 0, 1)), ("brand new", vec(0, 0, 0, 1)), ("poison", vec(0, 0, 0, 1))]
    record, chunks = make_document(FOX, new_parts, content_version="sha256:v2")
    with pytest.raises(DocumentRejectedError, match="injected fault"):
        await index.replace_document(record, chunks if where == "third chunk" else chunks[:1])

    assert await index.get_document(old.key) == old
    vectors, stats = before
    after = await index.get_vectors(old.key)
    assert after.keys() == vectors.keys() and all((after[h] == vectors[h]).all() for h in vectors)
    assert await index.stats() == stats
    assert await keys_of(index, "changed brand", mode=SearchMode.TEXT) == []
    found = await keys_of(index, "original tail", mode=SearchMode.TEXT, top=10)
    assert sorted(found) == [chunk_key(old.key, n) for n in range(3)]
    assert (await keys_of(index, "", vector=vec(0, 0, 0, 1), mode=SearchMode.VECTOR, top=1))[0].startswith(old.key)
    with raw(index) as conn:
        conn.execute("DROP TRIGGER fault")
    await index.replace_document(record, chunks)
    assert await index.get_document(old.key) == record


async def test_a_database_locked_by_another_process_is_transient(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index.sqlite", NAME, DIMENSIONS, busy_timeout=0.05)
    await index.ensure()
    record, chunks = make_document(FOX, [("quick brown fox", vec(1, 0, 0, 0))])
    with raw(index) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(TransientError, match="locked"):
            await index.replace_document(record, chunks)
        other.execute("ROLLBACK")
    assert await index.get_document(record.key) is None
    await index.replace_document(record, chunks)
    assert await index.get_document(record.key) == record
    await index.close()


async def test_concurrent_replacements_of_one_document_stay_consistent(index: LocalIndex) -> None:
    versions = [[(f"version {v} part {p}", vec(1, v, p, 0)) for p in range(v + 1)] for v in range(8)]
    await asyncio.gather(*(put(index, FOX, *parts, content_version=f"sha256:{n}") for n, parts in enumerate(versions)))
    record = await index.get_document(document_key(FOX))
    assert record is not None
    winner = versions[int(record.content_version.split(":")[1])]
    assert set(await index.get_vectors(record.key)) == {text_hash(text) for text, _ in winner}
    assert await index.stats() == IndexStats(name=NAME, documents=1, chunks=len(winner))


# -- storage --------------------------------------------------------------------------------------------------------


async def test_tables_derive_from_the_v1_definition(index: LocalIndex) -> None:
    specs = field_specs(VERSIONS[LATEST](SchemaParams(name=NAME, dimensions=DIMENSIONS)))
    prefix = table_prefix(NAME)
    with raw(index) as conn:
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{prefix}_chunks")')]
        fts_columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{prefix}_fts")')]
        indexed = {row[1] for row in conn.execute(f'PRAGMA index_list("{prefix}_chunks")')}
    assert columns == ["rid"] + [s.name for s in specs]
    assert fts_columns == ["title", "content"]
    assert f"{prefix}_chunks_source_path" in indexed
    assert not any(name.endswith("_content") for name in indexed)


async def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "index.sqlite"
    first = LocalIndex(path, NAME, DIMENSIONS)
    await first.ensure()
    record = await put(first, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    await first.close()
    second = LocalIndex(path, NAME, DIMENSIONS)
    await second.ensure()
    assert await second.get_document(record.key) == record
    assert await keys_of(second, "fox", vector=vec(1, 0, 0, 0)) == [chunk_key(record.key, 0)]
    await second.close()


async def test_indexes_in_one_file_are_independent(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    small, large = LocalIndex(path, "grounding-v1", 4), LocalIndex(path, "grounding_v1", 6)
    await asyncio.gather(small.ensure(), large.ensure())
    fox = await put(small, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    record, chunks = make_document("/docs/other.txt", [("a fox elsewhere", vec(0, 1, 0, 0, 0, 0))])
    await large.replace_document(record, chunks)
    assert await small.stats() == IndexStats(name="grounding-v1", documents=1, chunks=1)
    assert await large.stats() == IndexStats(name="grounding_v1", documents=1, chunks=1)
    assert await keys_of(small, "fox", vector=vec(1, 0, 0, 0), top=10) == [chunk_key(fox.key, 0)]
    assert await keys_of(large, "fox", vector=vec(1, 0, 0, 0, 0, 0), top=10) == [chunk_key(record.key, 0)]
    assert await large.delete_document(fox.key) is False
    assert await small.get_document(fox.key) == fox
    await asyncio.gather(small.close(), large.close())


async def test_writes_through_another_object_are_seen_by_vector_search(index: LocalIndex) -> None:
    first = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    assert await keys_of(index, "", vector=vec(0, 1, 0, 0), mode=SearchMode.VECTOR) == [chunk_key(first.key, 0)]
    other = LocalIndex(index.path, NAME, DIMENSIONS)
    second = await put(other, "/docs/dog.txt", ("lazy dog", vec(0, 1, 0, 0)))
    await other.close()
    found = await keys_of(index, "", vector=vec(0, 1, 0, 0), mode=SearchMode.VECTOR)
    assert found == [chunk_key(second.key, 0), chunk_key(first.key, 0)]


async def test_missing_timestamp_is_filled_when_recorded(index: LocalIndex) -> None:
    record, chunks = make_document(FOX, [("quick brown fox", vec(1, 0, 0, 0))])
    await index.replace_document(replace(record, indexed_at=None), chunks)
    stored = await index.get_document(record.key)
    assert stored is not None and stored.indexed_at is not None and stored.indexed_at.tzinfo is not None
    assert replace(stored, indexed_at=record.indexed_at) == record


async def test_listing_pages_through_every_record_once(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index.sqlite", NAME, DIMENSIONS, page_size=2)
    await index.ensure()
    sources = [f"/docs/{n}.txt" for n in range(5)] + ["/docs/\U0010ffff.txt", "/docs\U0010ffff"]
    for source in sources:
        await put(index, source, ("text", vec(1, 0, 0, 0)))
    assert await listed(index, "/docs/") == sorted(sources[:6])
    assert await listed(index, "/docs\U0010ffff") == ["/docs\U0010ffff"]
    assert await listed(index) == sorted(sources)
    await index.close()


# -- configuration errors and aliases -------------------------------------------------------------------------------


async def test_using_an_index_before_ensure_is_a_configuration_error(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index.sqlite", NAME, DIMENSIONS)
    with pytest.raises(ConfigurationError, match="ensure"):
        await index.stats()
    await index.close()


async def test_reopening_with_other_dimensions_is_a_configuration_error(index: LocalIndex) -> None:
    other = LocalIndex(index.path, NAME, DIMENSIONS + 1)
    with pytest.raises(ConfigurationError, match="dimension"):
        await other.ensure()
    with pytest.raises(ConfigurationError, match="dimension"):
        await other.stats()
    await other.close()


async def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    index = LocalIndex(path, NAME, DIMENSIONS)
    with pytest.raises(ConfigurationError):
        await index.ensure()
    await index.close()


@pytest.mark.parametrize(("name", "dimensions"), [("Bad Name", 4), ("grounding--v1", 4), ("ok", 0), ("ok", 4097)])
def test_invalid_names_and_dimensions_are_refused(tmp_path: Path, name: str, dimensions: int) -> None:
    with pytest.raises(ConfigurationError):
        LocalIndex(tmp_path / "index.sqlite", name, dimensions)


async def test_aliases_point_at_one_index_and_move(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    v1, v2 = LocalIndex(path, "grounding-v1", DIMENSIONS), LocalIndex(path, "grounding-v2", DIMENSIONS)
    await v1.ensure()
    assert await v1.resolve_alias("grounding") is None
    await v1.set_alias("grounding")
    assert await v1.resolve_alias("grounding") == "grounding-v1"
    await v2.ensure()
    await v2.set_alias("grounding")
    assert await v1.resolve_alias("grounding") == "grounding-v2"
    unrelated = LocalIndex(path, "unrelated", DIMENSIONS)
    assert await unrelated.resolve_alias("grounding") == "grounding-v2"
    await unrelated.close()
    for bad in ("grounding-v2", "grounding-v1", "Bad Alias"):
        with pytest.raises(ConfigurationError):
            await v2.set_alias(bad)
    assert await v2.resolve_alias("grounding") == "grounding-v2"
    await asyncio.gather(v1.close(), v2.close())
