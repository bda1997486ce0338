"""The process-wide batching embedder: concurrent documents share requests, each keeps its rows and its own fate."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ingestion.embedding.batching import BatchingEmbedder
from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import BadInputError, ConfigurationError, TransientError
from ingestion.tokenizer import get_tokenizer


class Inner:
    """Records each request; refuses a request holding ``BAD`` as a whole (400), like the service does."""

    def __init__(self, *, latency: float = 0.01, fail: type[Exception] | None = None) -> None:
        self.hash = HashEmbedder(16)
        self.model_id, self.dimensions, self.max_input_tokens = "test/hash", 16, 8191
        self.requests: list[list[str]] = []
        self.tokens: list[int] = []
        self.latency = latency
        self.fail = fail
        self.gate: asyncio.Event | None = None
        """When set, each request waits for it: the test decides when the service answers."""

    async def embed_request(self, texts: list[str], tokens: int) -> np.ndarray:
        self.requests.append(list(texts))
        self.tokens.append(tokens)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.latency)
        if any("BAD" in text for text in texts):
            raise BadInputError("the service rejected an input (HTTP 400)")
        if self.fail is not None:
            raise self.fail("injected")
        return await self.hash.embed(texts)

    async def close(self) -> None:
        return None


def batching(inner: Inner, *, max_inputs: int = 2048, max_tokens: int = 100_000, slots: int = 8) -> BatchingEmbedder:
    return BatchingEmbedder(
        inner, tokenizer=get_tokenizer(), max_inputs=max_inputs, max_tokens=max_tokens, slots=lambda: slots
    )


def documents(count: int, chunks: int) -> list[list[str]]:
    return [[f"document {d} chunk {c} text" for c in range(chunks)] for d in range(count)]


async def test_concurrent_documents_share_requests_and_get_their_own_rows() -> None:
    inner = Inner()
    inner.gate = asyncio.Event()
    embedder = batching(inner, slots=1)  # one request in flight at a time (the rate limiter's window)
    docs = documents(40, 7)
    first = asyncio.ensure_future(embedder.embed(docs[0]))
    while not inner.requests:
        await asyncio.sleep(0.01)
    rest = [asyncio.ensure_future(embedder.embed(doc)) for doc in docs[1:]]
    while embedder._queued_inputs < 39 * 7:  # every other document counted and queued behind the first request
        await asyncio.sleep(0.01)
    inner.gate.set()
    results = [await first] + [await task for task in rest]
    for doc, vectors in zip(docs, results, strict=True):
        np.testing.assert_array_equal(vectors, await inner.hash.embed(doc))
    assert [len(r) for r in inner.requests] == [7, 39 * 7]


async def test_requests_respect_the_input_and_token_limits_and_split_a_large_document() -> None:
    inner = Inner()
    embedder = batching(inner, max_inputs=50, max_tokens=8191 * 2)
    docs = documents(3, 70)
    results = await asyncio.gather(*(embedder.embed(doc) for doc in docs))
    assert all(len(r) <= 50 for r in inner.requests)
    assert sorted(text for request in inner.requests for text in request) == sorted(t for doc in docs for t in doc)
    for doc, vectors in zip(docs, results, strict=True):
        np.testing.assert_array_equal(vectors, await inner.hash.embed(doc))
    long_texts = [f"{i} " + "word " * 8000 for i in range(3)]
    assert all(8000 < get_tokenizer().count(text) <= 8191 for text in long_texts)
    before = len(inner.requests)
    await asyncio.gather(*(embedder.embed([text]) for text in long_texts))
    assert len(inner.requests) - before >= 2 and all(tokens <= 8191 * 2 for tokens in inner.tokens)


async def test_a_rejected_input_fails_only_its_document() -> None:
    inner = Inner()
    embedder = batching(inner)
    docs = documents(10, 3)
    docs[4][1] = "a BAD chunk"
    results = await asyncio.gather(*(embedder.embed(doc) for doc in docs), return_exceptions=True)
    assert isinstance(results[4], BadInputError)
    assert all(isinstance(r, np.ndarray) and r.shape == (3, 16) for i, r in enumerate(results) if i != 4)


async def test_inputs_are_checked_per_document_before_anything_is_sent() -> None:
    inner = Inner()
    embedder = batching(inner)
    results = await asyncio.gather(embedder.embed(["fine"]), embedder.embed(["ok", ""]), return_exceptions=True)
    assert isinstance(results[0], np.ndarray) and isinstance(results[1], BadInputError)
    with pytest.raises(BadInputError, match="over the 8191-token limit"):
        await embedder.embed(["word " * 9000])
    assert inner.requests == [["fine"]]


@pytest.mark.parametrize("error", [TransientError, ConfigurationError])
async def test_a_failed_request_fails_every_document_in_it(error: type[Exception]) -> None:
    inner = Inner(fail=error)
    embedder = batching(inner)
    results = await asyncio.gather(*(embedder.embed(doc) for doc in documents(5, 2)), return_exceptions=True)
    assert all(isinstance(r, error) for r in results)


async def test_a_cancelled_document_sends_nothing_more_and_the_others_go_on() -> None:
    inner = Inner(latency=0.05)
    embedder = batching(inner, max_inputs=4)
    first = asyncio.ensure_future(embedder.embed(["a", "b", "c", "d"]))
    await asyncio.sleep(0.01)  # the first request is out; the next document waits in the queue
    doomed = asyncio.ensure_future(embedder.embed([f"doomed {i}" for i in range(12)]))
    survivor = asyncio.ensure_future(embedder.embed(["e", "f"]))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await first).shape == (4, 16) and (await survivor).shape == (2, 16)
    assert not any(text.startswith("doomed") for request in inner.requests for text in request)
    await embedder.close()


class NoEncoding:
    """A tokenizer that must not be used: ``embed_counted`` trusts the caller's counts."""

    name = get_tokenizer().name

    def count(self, text: str) -> int:
        raise AssertionError("counted again")

    encode = decode = count


async def test_embed_counted_carries_the_callers_counts_without_encoding_again() -> None:
    inner = Inner()
    embedder = BatchingEmbedder(inner, tokenizer=NoEncoding(), max_inputs=2048, max_tokens=100_000)  # type: ignore[arg-type]
    assert embedder.tokenizer_name == get_tokenizer().name
    texts = ["first chunk", "second chunk"]
    vectors = await embedder.embed_counted(texts, [5, 7])
    np.testing.assert_array_equal(vectors, await inner.hash.embed(texts))
    assert inner.tokens == [12]
    with pytest.raises(BadInputError, match="input 1 of 2 has 9000 tokens"):
        await embedder.embed_counted(texts, [5, 9000])
    with pytest.raises(ValueError, match="2 texts but 1 token counts"):
        await embedder.embed_counted(texts, [5])
    await embedder.close()
