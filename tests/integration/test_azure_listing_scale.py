"""Listing an Azure AI Search index past the service's 100,000-result ``$skip`` ceiling, on the strict fake.

The fake answers at most 1,000 results per response and refuses ``skip`` > 100,000 with 400 (as the service does), so
a listing that paged with ``$skip`` alone could not get past 100,000 documents. 150,000+ records are put straight
into the fake's store (ingesting that many would take minutes): copies of one document written through the real
writer, under other keys, with ``last_indexed`` values that repeat (ties across pages) and some without one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.keys import chunk_key, document_key
from tests.contract.index_contract import DIMENSIONS, FOX, INDEXED_AT, put, vec
from tests.fakes.search_server import FakeSearchServer
from tests.fakes.search_store import format_datetime

DOCUMENTS = 150_500


@pytest.fixture
def server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer() as fake:
        yield fake


def fill(server: FakeSearchServer, name: str, count: int, *, without_value: int = 0) -> set[str]:
    """``count`` more records (chunk 0 rows) copied from FOX's; 3 documents share each ``last_indexed`` value, the
    first ``without_value`` have none. Returns their source ids."""
    index = server.indexes[name]
    template = index.documents[chunk_key(document_key(FOX), 0)]
    ids = set()
    for n in range(count):
        source_id = f"/bulk/{n:07d}.txt"
        key = chunk_key(document_key(source_id), 0)
        moment = None if n < without_value else format_datetime(INDEXED_AT + timedelta(milliseconds=n // 3))
        document = {**template, "id": key, "parent_id": document_key(source_id), "source_id": source_id}
        document |= {"source_path": source_id, "last_indexed": moment}
        index.documents[key] = document
        index.terms[key] = {}
        ids.add(source_id)
    return ids


async def test_lists_150_000_documents_past_the_skip_ceiling(server: FakeSearchServer) -> None:
    name = f"listing-{uuid.uuid4().hex[:12]}"
    index = AzureSearchIndex(server.url, name, DIMENSIONS, credential=AzureKeyCredential(server.api_key))
    try:
        await index.ensure()
        await put(index, FOX, ("The quick brown fox", vec(1, 0, 0, 0)))
        expected = fill(server, name, DOCUMENTS - 1, without_value=1_500) | {FOX}
        before, errors = server.counters()["requests_search"], server.counters()["errors"]
        listed = [record.source_id async for record in index.list_documents()]
        assert len(listed) == len(set(listed)) == DOCUMENTS
        assert set(listed) == expected
        requests = server.counters()["requests_search"] - before
        assert requests <= DOCUMENTS // 1000 + 3  # full pages: one request per 1,000 documents
        assert server.counters()["errors"] == errors  # no 400 for a skip past 100,000
        assert [r async for r in index.list_documents(prefix="/bulk/00001")] != []  # prefix still applies
        stats = await index.stats()
        assert stats.documents == DOCUMENTS
    finally:
        await index.close()
