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


class InFlight:
    """Documents in flight as the pipeline's byte budget counts them: each until its write returned."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __call__(self) -> int:
        return self.count

    async def write_all(self, index: AzureSearchIndex, first: int, count: int) -> None:
        async def one(n: int) -> None:
            record, chunks = make_document(f"/docs/{n:02d}.txt", parts(n))
            await index.replace_document(record, chunks)
            self.count -= 1

        await asyncio.gather(*(one(n) for n in range(first, first + count)))


async def test_nothing_is_held_back_once_every_document_in_flight_is_waiting_on_a_write(
    server: FakeSearchServer,
) -> None:
    """The end of a run: the 20 documents in flight are all writing, so neither step waits for the 60 s interval
    (each step's request goes once the last of them has queued it): two requests for the 40 steps."""
    index = AzureSearchIndex(
        server.url, f"paced-{uuid.uuid4().hex[:8]}", DIMENSIONS,
        credential=AzureKeyCredential(server.api_key), batch_interval_seconds=60,
    )  # fmt: skip
    in_flight = InFlight(20)
    index.pace_by(in_flight)
    await index.ensure()
    try:
        async with asyncio.timeout(30):  # holding back for the interval would take 60 s
            await in_flight.write_all(index, 0, 20)
    finally:
        await index.close()
    uploads = [len(batch.actions) for batch in server.batches if batch.actions]
    assert uploads == [20 * (CHUNKS - 1), 20]  # every document's chunks, then every document's chunk 0


async def test_a_request_waits_for_a_document_still_on_its_way(server: FakeSearchServer) -> None:
    """21 documents in flight, 20 writing: their chunk 0s wait for the 21st document, whose chunks join that
    request; its own chunk 0 then goes at once (it is the last document in flight)."""
    index = AzureSearchIndex(
        server.url, f"paced-{uuid.uuid4().hex[:8]}", DIMENSIONS,
        credential=AzureKeyCredential(server.api_key), batch_interval_seconds=60,
    )  # fmt: skip
    in_flight = InFlight(21)
    index.pace_by(in_flight)
    await index.ensure()

    async def late() -> None:
        await asyncio.sleep(0.5)
        await in_flight.write_all(index, 20, 1)

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(in_flight.write_all(index, 0, 20), late())
    finally:
        await index.close()
    uploads = [len(batch.actions) for batch in server.batches if batch.actions]
    assert uploads == [20 * (CHUNKS - 1), 20 + (CHUNKS - 1), 1]
