"""Single-document updates from the blob and Event Grid triggers, between full reindex runs.

A created or updated blob is ingested (transient errors are raised so the host retries it; bad input is recorded in
the runs table's ``live`` partition and not retried). A deleted blob leaves the index, unless a blob of the same
name exists again by the time the (possibly late, possibly redelivered) event is handled. A deleted directory
(hierarchical namespace) removes every indexed document under it whose blob is gone.
"""

from __future__ import annotations

import logging

from ingestion.errors import BadInputError
from ingestion.keys import document_key
from ingestion.models import DocumentResult, Outcome
from ingestion.pipeline import Pipeline
from ingestion.runs.current import CurrentPipeline, current_of
from ingestion.runs.records import DocumentMark
from ingestion.runs.store import RunStore
from ingestion.sources.blob import BlobContainerSource, blob_source_id, parse_blob_url

log = logging.getLogger(__name__)


class LiveUpdates:
    def __init__(self, *, pipeline: Pipeline | CurrentPipeline, source: BlobContainerSource, store: RunStore) -> None:
        self.current = current_of(pipeline)
        self.source = source
        self.store = store

    @property
    def pipeline(self) -> Pipeline:
        return self.current.pipeline

    async def ingest(self, container: str, name: str) -> DocumentResult | None:
        """Bring blob ``container/name`` up to date in the index; None when it is not one of the source's documents."""
        if container != self.source.container or not name.startswith(self.source.prefix):
            log.warning("blob %s/%s is outside the source %s: ignored", container, name, self.source.scope)
            return None
        source_id = blob_source_id(self.source.account_name, container, name)
        item = await self.source.get(source_id)
        if item is None:  # deleted since the event, or not a document (hidden name, folder placeholder)
            log.info("blob %s/%s is gone or not a document: nothing to ingest", container, name)
            return None
        result = await self.pipeline.ingest(self.source, item, raise_transient=True)
        key = document_key(source_id)
        if result.outcome is Outcome.FAILED:
            await self.store.set_live_failure(key, DocumentMark(item.path, "failed", error=result.error))
        else:
            await self.store.clear_live_failure(key)
        return result

    async def refresh(self, name: str) -> DocumentResult | None:
        """An immediate refresh of blob ``name`` of the source's container (``POST /api/reindex {"path": ...}``):
        ingested when it exists (an ACL-only change costs no embedding), removed from the index when it does not;
        None when the name is outside the source. Transient errors are raised."""
        container = self.source.container
        if not name.startswith(self.source.prefix):
            return None
        source_id = blob_source_id(self.source.account_name, container, name)
        if await self.source.get(source_id) is None:
            return await self.pipeline.delete(source_id, source_path=f"{container}/{name}")
        return await self.ingest(container, name)

    async def delete(self, url: str) -> DocumentResult | None:
        """Drop the blob at ``url`` from the index unless it exists again; None when the URL is not the source's."""
        source_id = self._source_id(url)
        if source_id is None:
            return None
        if await self.source.get(source_id) is not None:
            log.info("%s exists again: not deleted from the index", url.split("?", 1)[0])
            return None
        result = await self.pipeline.delete(source_id, source_path=source_id.split("/", 1)[-1])
        await self.store.clear_live_failure(document_key(source_id))
        return result

    async def delete_directory(self, url: str) -> list[DocumentResult]:
        """Drop every indexed document under the directory at ``url`` whose blob no longer exists."""
        prefix = self._source_id(url)
        if prefix is None:
            return []
        prefix = prefix.rstrip("/") + "/"
        candidates = [doc async for doc in self.pipeline.index.list_documents(prefix=prefix)]
        results = []
        for doc in candidates:
            if await self.source.get(doc.source_id) is None:
                results.append(await self.pipeline.delete(doc.source_id, source_path=doc.source_path))
                await self.store.clear_live_failure(doc.key)
        return results

    def _source_id(self, url: str) -> str | None:
        try:
            account, container, name = parse_blob_url(url)
        except BadInputError as error:
            log.error("ignored an event: %s", error)
            return None
        if account != self.source.account_name or container != self.source.container:
            log.warning("event for %s/%s is outside the source %s: ignored", account, container, self.source.scope)
            return None
        if not name.startswith(self.source.prefix):
            return None
        return blob_source_id(account, container, name)
