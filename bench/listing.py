"""Listing an Azure AI Search index of 150,000+ documents: keyset pages (now) vs ``$skip`` paging (before).

    .venv/bin/python bench/listing.py [--documents 150000]

The documents are put straight into the fake's store (copies of one record written through the real writer); the
fake answers 1,000 results per response and refuses ``skip`` > 100,000 with 400, as the service does. Prints the
documents each approach listed, its requests and seconds. The fake's own time per request is not the service's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azure.core.credentials import AzureKeyCredential

from ingestion.errors import IngestionError
from ingestion.indexing.azure import listing as azure_listing
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.keys import chunk_key, document_key
from tests.contract.index_contract import make_document
from tests.fakes.search_server import FakeSearchServer
from tests.fakes.search_store import format_datetime


def fill(server: FakeSearchServer, name: str, count: int) -> None:
    index = server.indexes[name]
    template = index.documents[chunk_key(document_key("/seed.txt"), 0)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        source_id = f"/bulk/{n:07d}.txt"
        key = chunk_key(document_key(source_id), 0)
        document = {**template, "id": key, "parent_id": document_key(source_id), "source_id": source_id}
        document |= {"source_path": source_id, "last_indexed": format_datetime(start + timedelta(milliseconds=n))}
        index.documents[key] = document
        index.terms[key] = {}
    index.revision += 1


async def skip_paging(index: AzureSearchIndex) -> int:
    """The listing before issue 11: one query, ``@search.nextPageParameters`` (``skip``) until the end."""
    body: dict[str, Any] | None = {"filter": "ordinal eq 0", "select": "id", "top": 100_000}
    count = 0
    while body is not None:
        page = await azure_listing._post_search(index._client(), index.name, body, what="list documents")
        count += len(page.get("value") or [])
        following = page.get("@search.nextPageParameters")
        body = following if isinstance(following, dict) else None
        if body is not None and count >= 100_000:
            body["skip"] = count  # what the service's next page would ask for
    return count


async def main(args: argparse.Namespace) -> None:
    with FakeSearchServer() as server:
        name = f"listing-{uuid.uuid4().hex[:8]}"
        index = AzureSearchIndex(server.url, name, 4, credential=AzureKeyCredential(server.api_key))
        await index.ensure()
        record, chunks = make_document("/seed.txt", [("seed", np.ones(4, dtype=np.float32))])
        await index.replace_document(record, chunks)
        fill(server, name, args.documents - 1)
        print(f"index: {args.documents:,} documents (fake Azure AI Search: 1,000 per page, skip <= 100,000)")
        print(f"{'approach':<12} {'listed':>9} {'requests':>9} {'seconds':>8}  outcome")
        for label, run in (("keyset", None), ("skip paging", skip_paging)):
            before = server.counters()["requests_search"]
            started = time.perf_counter()
            try:
                if run is None:
                    listed = len({r.key async for r in index.list_documents()})
                else:
                    listed = await run(index)
                outcome = "complete" if listed == args.documents else "stops at the 100,000 skip ceiling"
            except IngestionError as error:
                listed, outcome = 0, f"failed: {str(error)[:70]}"
            seconds = time.perf_counter() - started
            requests = server.counters()["requests_search"] - before
            print(f"{label:<12} {listed:>9,} {requests:>9} {seconds:>8.1f}  {outcome}")
        await index.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=150_000)
    asyncio.run(main(parser.parse_args()))
