"""``ingest --container C --prefix P`` with ``P`` not ending in ``/``: the scope is a blob-listing prefix, so a blob
deleted under it is deleted from the index on the next run (it used to be treated as a single-file scope)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.storage.blob.aio import BlobServiceClient

from ingestion.sources.blob import BlobContainerSource
from tests.integration.test_pipeline_local import CountingEmbedder, make_pipeline
from tests.support.azurite import Azurite


@pytest.mark.azurite
async def test_a_prefix_without_a_slash_syncs_deletes(azurite: Azurite, tmp_path: Path) -> None:
    name = f"docs-{uuid.uuid4().hex[:12]}"
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        container = await service.create_container(name)
        for blob in ("docs/a.txt", "docs/b.txt", "docs.txt", "other/c.txt"):
            await container.upload_blob(blob, f"The word of {blob} is zebra.".encode())
        source = BlobContainerSource(name, connection_string=azurite.connection_string, prefix="docs")
        pipeline = make_pipeline(tmp_path / "index.sqlite", CountingEmbedder())
        try:
            await pipeline.index.ensure()
            first = await pipeline.run(source)
            assert (first.added, first.deleted) == (3, 0)  # docs/a, docs/b and docs.txt: blob-listing semantics
            await container.delete_blob("docs/b.txt")
            second = await pipeline.run(source)
            assert (second.unchanged, second.deleted) == (2, 1)
            paths = {doc.source_path async for doc in pipeline.index.list_documents()}
            assert paths == {f"{name}/docs/a.txt", f"{name}/docs.txt"}
        finally:
            await source.close()
            await pipeline.close()
            await service.delete_container(name)
