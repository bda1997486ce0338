"""Fault injection through the real azure-search-documents SDK: the writer against a misbehaving fake service.

After every scenario the index holds exactly the expected chunks, each once, and a document is recorded (chunk 0
written) only when every one of its chunks was confirmed by the service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.search.documents.aio import SearchClient

from ingestion.chunking import Chunker
from ingestion.cracking.registry import LocalCracker
from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import ConfigurationError, DocumentRejectedError, ThrottledError, TransientError
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.keys import chunk_key, document_key
from ingestion.models import DocumentRecord, SearchMode
from ingestion.pipeline import Pipeline, PipelineOptions
from ingestion.sources.local import LocalFolderSource
from ingestion.tokenizer import get_tokenizer
from tests.contract.index_contract import DIMENSIONS, FOX, make_document, put, vec
from tests.fakes.search_server import FakeSearchServer

MAX_REQUEST_BYTES = 16_000_000


@pytest.fixture
def server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer() as server:
        yield server


def make_index(server: FakeSearchServer, *, dimensions: int = DIMENSIONS, **options: object) -> AzureSearchIndex:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    credential = AzureKeyCredential(server.api_key)
    options = {"backoff_seconds": 0.01, "backoff_max_seconds": 0.05, **options}
    return AzureSearchIndex(server.url, name, dimensions, credential=credential, **options)  # type: ignore[arg-type]


@pytest.fixture
async def index(server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
    index = make_index(server)
    await index.ensure()
    yield index
    await index.close()


def parts(count: int, *, word: str = "part") -> list[tuple[str, np.ndarray]]:
    return [(f"{word} number {n}", vec(1, n % 7, n % 3, 1)) for n in range(count)]


def chunk_keys(source_id: str, count: int) -> set[str]:
    return {chunk_key(document_key(source_id), n) for n in range(count)}


def assert_holds_exactly(server: FakeSearchServer, index: AzureSearchIndex, expected: dict[str, str]) -> None:
    """``expected``: chunk key -> content. The service holds those chunks and nothing else."""
    stored = server.documents(index.name)
    assert {key: doc["content"] for key, doc in stored.items()} == expected


def contents(source_id: str, texts: list[tuple[str, np.ndarray]]) -> dict[str, str]:
    return {chunk_key(document_key(source_id), n): text for n, (text, _) in enumerate(texts)}


# -- partial results (207) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [409, 422, 503])
async def test_retryable_items_are_resent_until_written(
    server: FakeSearchServer, index: AzureSearchIndex, status: int
) -> None:
    texts = parts(6)
    keys = sorted(chunk_keys(FOX, 6))
    flaky = [chunk_key(document_key(FOX), n) for n in (0, 2, 5)]
    server.fail_items(flaky, status=status, times=2)
    record = await put(index, FOX, *texts)
    assert_holds_exactly(server, index, contents(FOX, texts))
    assert {key: server.writes[key] for key in keys} == dict.fromkeys(keys, 1)
    assert await index.get_document(record.key) == record
    sent = [[key for _, key in batch.actions] for batch in server.batches]
    # Only the failing items are resent: never a whole batch again, never two actions for one key in a batch.
    assert sorted(sent[1:3]) == [[flaky[1], flaky[2]], [flaky[1], flaky[2]]]
    assert server.counters()["duplicate_key_batches"] == 0
    assert [b.status for b in server.batches] == [207, 207, 200, 207, 207, 200]


async def test_items_still_failing_after_the_retry_budget_are_transient(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    old_texts = parts(3, word="old")
    old = await put(index, FOX, *old_texts)
    new_texts = parts(4, word="new")
    stubborn = chunk_key(old.key, 3)
    server.fail_items([stubborn], status=503, times=5)  # as many times as the writer tries
    record, chunks = make_document(FOX, new_texts, content_version="sha256:v2")
    with pytest.raises(TransientError, match="still failing after 5 attempts"):
        await index.replace_document(record, chunks)
    # Not recorded: chunk 0 keeps the old record, so the next run redoes the document.
    assert await index.get_document(old.key) == old
    assert server.documents(index.name)[chunk_key(old.key, 0)]["content"] == "old number 0"
    await index.replace_document(record, chunks)
    assert await index.get_document(old.key) == record
    assert_holds_exactly(server, index, contents(FOX, new_texts))


async def test_a_rejected_item_fails_the_document_and_it_is_not_recorded(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    texts = parts(5)
    bad = chunk_key(document_key(FOX), 3)
    server.fail_items([bad], status=400, message="Field 'content' holds a value the service refuses.")
    record, chunks = make_document(FOX, texts)
    with pytest.raises(DocumentRejectedError, match="refuses") as caught:
        await index.replace_document(record, chunks)
    assert FOX in str(caught.value) and bad in str(caught.value)
    assert await index.get_document(record.key) is None
    assert chunk_key(record.key, 0) not in server.documents(index.name)
    assert [r async for r in index.list_documents()] == []
    assert server.writes[bad] == 0  # a 400 is not retried
    await index.replace_document(record, chunks)
    assert_holds_exactly(server, index, contents(FOX, texts))


async def test_a_rejected_update_keeps_the_previous_record(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    old = await put(index, FOX, *parts(2, word="old"))
    record, chunks = make_document(FOX, parts(3, word="new"), content_version="sha256:v2")
    server.fail_items([chunk_key(old.key, 2)], status=400)
    with pytest.raises(DocumentRejectedError):
        await index.replace_document(record, chunks)
    assert await index.get_document(old.key) == old


async def test_an_invalid_key_is_a_value_error_before_anything_is_written(index: AzureSearchIndex) -> None:
    record, chunks = make_document(FOX, parts(2))
    bad = [chunks[0], replace(chunks[1], key="_starts-with-underscore")]
    with pytest.raises(ValueError, match="key"):
        await index.replace_document(record, bad)
    assert (await index.stats()).chunks == 0


# -- whole-request failures -------------------------------------------------------------------------------------------


async def test_413_splits_the_batch_in_halves(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    texts = [(f"chunk {n} " + "lorem ipsum " * 60, vec(1, n, 0, 0)) for n in range(40)]
    server.max_body_bytes = 8_000  # a service with a lower limit than the writer assumes
    await put(index, FOX, *texts)
    statuses = [b.status for b in server.batches]
    assert 413 in statuses
    accepted = [b for b in server.batches if b.status == 200]
    assert all(b.bytes <= 8_000 for b in accepted)
    assert sum(len(b.actions) for b in accepted) == 40
    assert_holds_exactly(server, index, contents(FOX, texts))
    assert all(server.writes[key] == 1 for key in chunk_keys(FOX, 40))


async def test_a_chunk_too_large_for_any_request_is_rejected(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    server.max_body_bytes = 4_000
    record, chunks = make_document(FOX, [("small", vec(1, 0, 0, 0)), ("big " * 2_000, vec(0, 1, 0, 0))])
    with pytest.raises(DocumentRejectedError, match="too large"):
        await index.replace_document(record, chunks)
    assert await index.get_document(record.key) is None


async def test_a_503_storm_slows_down_then_recovers(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    server.fail_requests(4, kind="index", status=503, retry_after=0.02)
    texts = parts(3)
    record = await put(index, FOX, *texts)
    # The four refused requests never reached the batch log; chunks 1-2 and then chunk 0 went through.
    assert [(b.status, len(b.actions)) for b in server.batches] == [(200, 2), (200, 1)]
    assert server.counters()["throttled"] == 4
    assert await index.get_document(record.key) == record
    assert_holds_exactly(server, index, contents(FOX, texts))


async def test_a_503_storm_past_the_budget_is_transient_and_not_recorded(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    record, chunks = make_document(FOX, parts(3))
    server.fail_requests(5, kind="index", status=503, retry_after=0)
    with pytest.raises(TransientError, match="503") as caught:
        await index.replace_document(record, chunks)
    assert "5 attempts" in str(caught.value)
    assert await index.get_document(record.key) is None
    await index.replace_document(record, chunks)
    assert await index.get_document(record.key) == record


async def test_a_429_on_indexing_is_an_exhausted_quota(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    server.fail_requests(1, kind="index", status=429, retry_after=None, message="Document quota exceeded.")
    record, chunks = make_document(FOX, parts(2))
    with pytest.raises(ConfigurationError, match="quota"):
        await index.replace_document(record, chunks)


async def test_a_failure_writing_chunk_0_leaves_the_old_record(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    old = await put(index, FOX, *parts(4, word="old"))
    new_texts = parts(2, word="new")
    record, chunks = make_document(FOX, new_texts, content_version="sha256:v2")
    before = len(server.batches)
    # Chunk 1 is written and the stale tail deleted; then every attempt to write chunk 0 fails.
    server.fail_items([chunk_key(old.key, 0)], status=503, times=5)
    with pytest.raises(TransientError):
        await index.replace_document(record, chunks)
    assert await index.get_document(old.key) == old
    stored = server.documents(index.name)
    assert set(stored) == {chunk_key(old.key, 0), chunk_key(old.key, 1)}
    assert stored[chunk_key(old.key, 0)]["content"] == "old number 0"
    assert [key for b in server.batches[before:] for _, key in b.actions][-1] == chunk_key(old.key, 0)
    await index.replace_document(record, chunks)
    assert await index.get_document(old.key) == record
    assert_holds_exactly(server, index, contents(FOX, new_texts))


def impatient(
    server: FakeSearchServer, index: AzureSearchIndex, *, timeout: float, **options: object
) -> AzureSearchIndex:
    """A second writer on ``index`` (already ensured) that gives up on a request after ``timeout`` seconds."""
    credential = AzureKeyCredential(server.api_key)
    return AzureSearchIndex(
        server.url, index.name, DIMENSIONS, credential=credential, timeout_seconds=timeout, backoff_seconds=0.01,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_timeouts_are_retried_and_writes_stay_exact(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    writer = impatient(server, index, timeout=0.5)
    texts = parts(3)
    server.delay_requests(2, 1.5, kind="index")  # applied, then answered too late: twice
    record = await put(writer, FOX, *texts)
    assert await index.get_document(record.key) == record
    assert_holds_exactly(server, index, contents(FOX, texts))
    assert server.writes[chunk_key(record.key, 1)] == 3  # written by each timed-out try and the last one
    await writer.close()


async def test_timeouts_past_the_budget_are_transient(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    writer = impatient(server, index, timeout=0.2, max_attempts=2)
    server.delay_requests(2, 0.8, kind="index")
    record, chunks = make_document(FOX, parts(2))
    with pytest.raises(TransientError, match="did not answer"):
        await writer.replace_document(record, chunks)
    # Chunk 1 was applied (the client could not know), chunk 0 was never sent: the document is not recorded.
    assert set(server.documents(index.name)) == {chunk_key(record.key, 1)}
    assert await index.get_document(record.key) is None
    await writer.close()


async def test_throttled_searches_are_retried_then_reported(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    server.fail_requests(2, kind="search", status=503, retry_after=0)
    assert len(await index.search("fox", vector=vec(1, 0, 0, 0))) == 1
    server.fail_requests(1, kind="search", status=429, retry_after=None)
    assert len(await index.search("fox", mode=SearchMode.TEXT)) == 1
    server.fail_requests(10, kind="search", status=429, retry_after=None)
    with pytest.raises(ThrottledError):
        await index.search("fox", mode=SearchMode.TEXT)


# -- batch limits and paging ------------------------------------------------------------------------------------------


async def test_many_chunks_go_in_batches_of_at_most_1000_and_stale_ones_are_paged_out(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    texts = parts(2_500)
    record = await put(index, FOX, *texts)
    writes = [b for b in server.batches if b.status == 200]
    assert len(writes) >= 3 and all(len(b.actions) <= 1000 for b in writes)
    assert server.counters()["batch_actions"] == 2_500
    assert (await index.stats()).chunks == 2_500
    assert len(await index.get_vectors(record.key)) == 2_500
    searches_before = server.counters()["requests_search"]
    before = len(server.batches)

    kept = parts(3, word="kept")
    newer = await put(index, FOX, *kept, content_version="sha256:v2")
    # The stale query pages through 2,500 keys (1,000 per response), then 2,497 deletes go in batches of <= 1,000.
    assert server.counters()["requests_search"] - searches_before >= 3
    deletes = [b for b in server.batches[before:] if b.actions and b.actions[0][0] == "delete"]
    assert sum(len(b.actions) for b in deletes) == 2_497 and all(len(b.actions) <= 1000 for b in deletes)
    assert_holds_exactly(server, index, contents(FOX, kept))
    assert await index.get_document(record.key) == newer
    assert server.counters()["duplicate_key_batches"] == 0


@pytest.mark.slow
async def test_big_chunks_stay_under_16_mb_per_request(server: FakeSearchServer) -> None:
    index = make_index(server, dimensions=1536)
    await index.ensure()
    rng = np.random.default_rng(7)
    filler = "word " * 2_400  # 12 kB of text per chunk
    # ~31 kB of JSON per chunk (vectors in float32's shortest form): 700 chunks are over 16 MB.
    texts = [(f"chunk {n} {filler}", rng.standard_normal(1536).astype(np.float32)) for n in range(700)]
    record, chunks = make_document(FOX, texts)
    await index.replace_document(record, chunks)
    uploads = [b for b in server.batches if b.actions and b.actions[0][0] == "upload"]
    assert len(uploads) >= 3  # >16 MB of JSON in all, plus chunk 0 on its own
    assert all(b.status == 200 and b.bytes <= MAX_REQUEST_BYTES for b in uploads)
    assert max(b.bytes for b in uploads) > MAX_REQUEST_BYTES // 2
    assert len(server.documents(index.name)) == 700
    vectors = await index.get_vectors(record.key)
    np.testing.assert_allclose(vectors[chunks[7].chunk_hash], chunks[7].vector, rtol=1e-6)
    await index.close()


async def test_listing_more_than_one_page_of_documents(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    record, chunks = make_document(FOX, parts(1))
    await index.replace_document(record, chunks)
    # 1,200 more records written straight through the SDK, as chunk 0s of their own documents.
    template = {k: v for k, v in server.documents(index.name)[chunks[0].key].items()}
    bodies = []
    for n in range(1_200):
        key = document_key(f"/bulk/{n:04d}.txt")
        body = {**template, "id": chunk_key(key, 0), "parent_id": key, "source_id": f"/bulk/{n:04d}.txt"}
        bodies.append(body)
    async with SearchClient(server.url, index.name, AzureKeyCredential(server.api_key)) as client:
        for start in range(0, 1_200, 600):
            await client.upload_documents(bodies[start : start + 600])
    listed = [r async for r in index.list_documents(prefix="/bulk/")]
    assert len(listed) == 1_200 and len({r.key for r in listed}) == 1_200
    assert all(isinstance(r, DocumentRecord) for r in listed)
    assert [r.source_id async for r in index.list_documents(prefix=FOX)] == [FOX]


async def test_the_sdk_split_on_413_is_still_broken(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    """Why the writer sends batches itself: azure-search-documents 12.0.0 crashes halfway through its own split.

    When this starts failing, the SDK was fixed and ``indexing.azure.batches`` could use ``index_documents`` again.
    """
    server.max_body_bytes = 1_000
    docs = [{"id": f"k{n}", "content": "x" * 200} for n in range(8)]
    async with SearchClient(server.url, index.name, AzureKeyCredential(server.api_key)) as client:
        with pytest.raises(TypeError, match="batch"):
            await client.upload_documents(docs)
    assert 0 < len(server.documents(index.name)) < 8  # the first half was written before the crash


# -- the pipeline on the fake service ---------------------------------------------------------------------------------


async def test_pipeline_redoes_only_the_document_that_failed(server: FakeSearchServer, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for name, words in (("a.txt", "alpha apples"), ("b.txt", "bravo bananas"), ("c.txt", "charlie cherries")):
        (root / name).write_text(f"{words} " * 40 + "\n")
    embedder = HashEmbedder(dimensions=8)
    index = make_index(server, dimensions=8)
    await index.ensure()
    pipeline = Pipeline(
        cracker=LocalCracker(),
        chunker=Chunker(get_tokenizer(), max_tokens=32, overlap_tokens=4),
        tokenizer=get_tokenizer(),
        embedder=embedder,
        index=index,
        options=PipelineOptions(max_concurrency=2),
    )
    try:
        await check_pipeline_runs(server, index, pipeline, root)
    finally:
        await pipeline.close()


async def check_pipeline_runs(
    server: FakeSearchServer, index: AzureSearchIndex, pipeline: Pipeline, root: Path
) -> None:
    path = {name: str((root / name).resolve()) for name in ("a.txt", "b.txt", "c.txt")}
    broken = chunk_key(document_key(path["b.txt"]), 1)
    server.fail_items([broken], status=400, message="The document is malformed.")
    first = await pipeline.run(LocalFolderSource(root))
    assert (first.added, first.failed) == (2, 1) and "malformed" in first.failures[0]["error"]
    assert {r.source_path async for r in index.list_documents()} == {path["a.txt"], path["c.txt"]}

    second = await pipeline.run(LocalFolderSource(root))  # the service accepts b.txt now
    assert (second.added, second.unchanged, second.failed, second.deleted) == (1, 2, 0, 0)
    (root / "c.txt").unlink()
    third = await pipeline.run(LocalFolderSource(root))
    assert (third.unchanged, third.deleted) == (2, 1)
    stored = server.documents(index.name)
    assert {doc["source_id"] for doc in stored.values()} == {path["a.txt"], path["b.txt"]}
    assert (await index.stats()).documents == 2 and len(stored) == (await index.stats()).chunks
    assert server.counters()["duplicate_key_batches"] == 0


# -- what the writer makes of item statuses (each checked against a deliberate mutant of azure_batches) ---------------


async def test_an_item_the_answer_leaves_out_is_not_taken_as_written(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    texts = parts(3)
    missing = chunk_key(document_key(FOX), 2)
    server.fail_items([missing], status=0, times=1)  # absent from the 207 once: resent, then written
    record = await put(index, FOX, *texts)
    assert server.writes[missing] == 1 and await index.get_document(record.key) == record
    server.fail_items([missing], status=0, times=5)
    changed, chunks = make_document(FOX, parts(3, word="changed"), content_version="sha256:v2")
    with pytest.raises(TransientError, match="still failing"):
        await index.replace_document(changed, chunks)
    assert await index.get_document(record.key) == record  # never recorded on an unconfirmed chunk


async def test_a_404_item_is_rejected_without_a_retry(server: FakeSearchServer, index: AzureSearchIndex) -> None:
    gone = chunk_key(document_key(FOX), 1)
    server.fail_items([gone], status=404, times=5, message="Document not found.")
    record, chunks = make_document(FOX, parts(3))
    with pytest.raises(DocumentRejectedError, match="404"):
        await index.replace_document(record, chunks)
    assert server.writes[gone] == 0
    assert sum(1 for batch in server.batches for _, key in batch.actions if key == gone) == 1


async def test_a_failed_rewrite_deletes_nothing_of_the_old_version(
    server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    old_texts = parts(4, word="old")
    old = await put(index, FOX, *old_texts)
    server.fail_items([chunk_key(old.key, 1)], status=400)  # the new version's second chunk is refused
    record, chunks = make_document(FOX, parts(2, word="new"), content_version="sha256:v2")
    with pytest.raises(DocumentRejectedError):
        await index.replace_document(record, chunks)
    # Write first, delete stale after: the old tail (chunks 2 and 3) is still there, and so is the old record.
    stored = server.documents(index.name)
    assert set(stored) == chunk_keys(FOX, 4)
    assert [stored[chunk_key(old.key, n)]["content"] for n in (2, 3)] == ["old number 2", "old number 3"]
    assert await index.get_document(old.key) == old
