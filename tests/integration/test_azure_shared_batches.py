"""Index actions of concurrent documents share indexing requests; each document keeps its order and its own fate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion.errors import DocumentRejectedError
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.keys import chunk_key, document_key
from tests.contract.index_contract import DIMENSIONS, make_document
from tests.fakes.search_server import FakeSearchServer

DOCUMENTS = 60
CHUNKS = 5


@pytest.fixture
def server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer() as fake:
        yield fake


def parts(n: int) -> list[tuple[str, np.ndarray]]:
    return [(f"document {n} part {p}", np.full(DIMENSIONS, p + 1, dtype=np.float32)) for p in range(CHUNKS)]


async def test_documents_share_requests_in_order_and_a_rejected_item_fails_only_its_document(
    server: FakeSearchServer,
) -> None:
    index = AzureSearchIndex(
        server.url, f"shared-{uuid.uuid4().hex[:8]}", DIMENSIONS,
        credential=AzureKeyCredential(server.api_key), batch_interval_seconds=0.3,
    )  # fmt: skip
    await index.ensure()
    documents = [make_document(f"/docs/{n:02d}.txt", parts(n)) for n in range(DOCUMENTS)]
    bad_key = chunk_key(document_key("/docs/07.txt"), 2)
    server.fail_items([bad_key], status=400)
    try:
        results = await asyncio.gather(
            *(index.replace_document(record, chunks) for record, chunks in documents), return_exceptions=True
        )
        for n, result in enumerate(results):
            assert (isinstance(result, DocumentRejectedError) and bad_key in str(result)) if n == 7 else result is None
        for n, (record, _) in enumerate(documents):
            assert (await index.get_document(record.key) is None) == (n == 7)
    finally:
        await index.close()
    uploads = [batch for batch in server.batches if batch.actions]
    actions = sum(len(batch.actions) for batch in uploads)
    assert actions == DOCUMENTS * CHUNKS - 1  # all but the rejected document's chunk 0
    assert len(uploads) <= 6  # not one or two requests per document (120): a few shared ones
    assert server.counters()["duplicate_key_batches"] == 0
    # Each recorded document's chunk 0 (its commit) went in a later request than every other chunk of it.
    position = {key: i for i, batch in enumerate(uploads) for _, key in batch.actions}
    for n, (record, chunks) in enumerate(documents):
        if n != 7:
            commit = position[chunk_key(record.key, 0)]
            assert all(position[c.key] < commit for c in chunks if c.ordinal > 0)
    assert chunk_key(document_key("/docs/07.txt"), 0) not in position  # the rejected document never committed
