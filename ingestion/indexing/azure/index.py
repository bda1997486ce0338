"""The Azure AI Search index: ``AzureSearchIndex`` implements ``ingestion.indexing.base.Index`` with the async
clients of azure-search-documents 12.0.0 (REST api-version 2026-04-01).

One search document per chunk (``index_schemas``; ``LATEST`` unless told a version). There is no separate record
table: every chunk carries its document's record (``document_hash`` = ``record.content_version``, ``fingerprint``,
``chunk_count``, ``source_id``, ``last_indexed``), and **chunk 0 is the commit record**: ``get_document`` reads
chunk ``<parent>_0`` and ``list_documents`` reads every chunk with ``ordinal eq 0``.

``replace_document`` therefore writes in this order, each step confirmed item by item (``batches``):

1. upload every chunk except chunk 0 (batches of <= 1,000 actions and <= 16 MB of JSON, retried within bounds);
2. find the document's stored chunk keys (``parent_id eq '<key>'``, every page) and delete those not in the new set;
   the service is near-real-time, so when this process wrote the document moments ago the listing is repeated
   until it shows that write (``visibility``), else an older tail could escape the delete;
3. upload chunk 0 last: only now does ``get_document`` return the new record.

Crash and failure cases (Azure AI Search has no transactions; the next run repairs what a failed one left):

- fails or dies during 1 or 2: the old chunk 0 still holds the old ``document_hash`` / ``fingerprint`` (or there is
  no chunk 0 for a new document), so the next run sees the document as changed and redoes it. Until then searches
  may see a mix of new chunks and old ones (chunk 0 and any old tail not yet deleted); vectors stay valid because
  ``chunk_hash`` names the embedding space, so ``get_vectors`` may offer any of them for reuse.
- a chunk refused with 400 (DocumentRejectedError): steps 2 and 3 do not run, the document is not recorded.
- fails writing chunk 0 (3): as above, the old record stays; the new chunks are in place and are rewritten next run.
  A *timed-out* write of chunk 0 may still have been applied: reported as failed, yet recorded, which is harmless
  because every other chunk had been confirmed before chunk 0 was sent.
- dies after 3: the document is done; nothing is left to repair.
- ``delete_document`` deletes chunk 0 last too, so a failed delete leaves the record listed and the next sync deletes
  the rest. Two concurrent ``replace_document`` calls for one key are not isolated from each other (no transactions):
  the pipeline never issues them.

Listings have no size limit: ``listing`` reads them in keyset order on ``last_indexed`` (the service's ``$skip``
stops at 100,000).
``Edm.DateTimeOffset`` keeps milliseconds, so ``indexed_at`` is stored (and returned) truncated to milliseconds.

Auth: ``AzureKeyCredential`` when an API key is given, else ``DefaultAzureCredential`` (created on first use). Over
plain http a token is refused by azure-core unless told otherwise; that is allowed here for loopback hosts only
(emulators and fakes). Queries go through azure-core's retry policy (POST searches included, as they are reads);
``search`` uses ``SearchClient.search``, listings read raw pages (``listing``: the SDK's per-field model
conversion is too slow for vectors), and indexing requests are sent by ``batches`` with its own bounded retries,
shared between concurrent documents by ``shared_batches``. Every attempt passes ``circuit`` (fail fast when the
service does not answer at all). SDK errors become ``ingestion.errors`` (``errors``) before they leave this package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.search.documents.aio import SearchClient
from azure.search.documents.indexes.aio import SearchIndexClient
from azure.search.documents.indexes.models import SearchIndex

from index_schemas import LATEST, TO_DOCUMENT, VectorizerParams, tracks_acl
from index_schemas.v1 import SEMANTIC_CONFIGURATION, Field
from index_schemas.v3 import Field as AclField
from ingestion.acl import Acl, require_acl_fields
from ingestion.circuit import DEFAULT_DOWN_AFTER_SECONDS, Circuit
from ingestion.cloud.credentials import default_credential
from ingestion.endpoints import require_tls
from ingestion.errors import ConfigurationError
from ingestion.indexing.azure.batches import API_VERSION, MAX_ACTIONS, MAX_BYTES, BatchSender, RetryPolicy, encode
from ingestion.indexing.azure.circuit import CircuitPolicy
from ingestion.indexing.azure.definitions import to_search_index
from ingestion.indexing.azure.errors import translate
from ingestion.indexing.azure.listing import READ_METHODS, list_rows
from ingestion.indexing.azure.query import (
    RECORD_FIELDS,
    acl_merges,
    check_chunks,
    equals,
    json_document,
    record_from,
    timestamp,
)
from ingestion.indexing.azure.searching import SearchQueries
from ingestion.indexing.azure.shared_batches import DEFAULT_INTERVAL_SECONDS, SharedBatchSender
from ingestion.indexing.azure.transport import LOOPBACK, AllowHttpTokens
from ingestion.indexing.azure.visibility import OwnWrites
from ingestion.indexing.base import IndexStats
from ingestion.indexing.definitions import build_definition
from ingestion.indexing.fusion import ExactTermRule
from ingestion.keys import chunk_key
from ingestion.models import DocumentRecord, IndexChunk
from ingestion.settings import Settings


class AzureSearchIndex(SearchQueries):
    """Index (or alias) ``index_name`` on the service at ``endpoint`` with ``dimensions``-long vectors.

    ``credential`` is an ``AzureKeyCredential`` or an async token credential; None means ``DefaultAzureCredential``.
    ``version`` is the schema version the index follows (default ``index_schemas.LATEST``): ``ensure`` creates that
    version's definition and chunks are written with its ``TO_DOCUMENT``. ``semantic`` forces semantic ranking of
    TEXT and HYBRID queries on or off (None: on when the index defines the ``default`` semantic configuration).
    ``vectorizer`` and ``compression`` shape the definition ``ensure`` creates (``wiring.schema_params``). Bad names,
    versions, dimensions or endpoints raise ConfigurationError; nothing talks to the service until the first call.
    """

    def __init__(
        self,
        endpoint: str,
        index_name: str,
        dimensions: int,
        *,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        version: int | None = None,
        semantic: bool | None = None,
        vectorizer: VectorizerParams | None = None,
        compression: str | None = None,
        vector_weight: float = 1.0,
        exact_term_vector_weight: float | None = None,
        max_batch_actions: int = MAX_ACTIONS,
        max_batch_bytes: int = MAX_BYTES,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 30.0,
        timeout_seconds: float = 60.0,
        settle_seconds: float | None = None,
        service_down_seconds: float = DEFAULT_DOWN_AFTER_SECONDS,
        batch_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self.version = LATEST if version is None else version
        self.definition = build_definition(
            self.version, index_name, dimensions, vectorizer=vectorizer, compression=compression
        )
        require_tls("AZURE_SEARCH_ENDPOINT", endpoint)  # api-key or token: TLS, or loopback only
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"AZURE_SEARCH_ENDPOINT={endpoint!r} is not an http(s) URL")
        loopback = parts.hostname in LOOPBACK
        if parts.scheme == "http" and not loopback and not isinstance(credential, AzureKeyCredential):
            raise ConfigurationError("AZURE_SEARCH_ENDPOINT must use https when authenticating with a token")
        if max_attempts < 1 or backoff_seconds < 0 or timeout_seconds <= 0:
            raise ValueError("max_attempts must be >= 1, backoff_seconds >= 0 and timeout_seconds > 0")
        self.name = index_name
        self.endpoint = endpoint.rstrip("/")
        self.dimensions = dimensions
        self._credential = credential
        self._own_credential = credential is None
        self._http_tokens = parts.scheme == "http" and loopback
        self._semantic = semantic
        if not vector_weight > 0:
            raise ValueError(f"vector_weight must be > 0, got {vector_weight}")
        self.vector_weight = vector_weight
        self.exact_term_rule = None if exact_term_vector_weight is None else ExactTermRule(exact_term_vector_weight)
        self._policy = RetryPolicy(max_attempts=max_attempts, base=backoff_seconds, cap=backoff_max_seconds)
        self._batch_limits = (max_batch_actions, max_batch_bytes)
        self._batch_interval = batch_interval_seconds
        self._timeout = timeout_seconds
        self._search: SearchClient | None = None
        self._indexes: SearchIndexClient | None = None
        self._sender: SharedBatchSender | None = None
        self._in_flight: Callable[[], int] | None = None
        self._to_document = TO_DOCUMENT[self.version]
        self._own_writes = OwnWrites(settle_seconds)
        self.settle_seconds = self._own_writes.settle_seconds
        self._acl = tracks_acl(self.version)
        self._record_fields = [*RECORD_FIELDS, AclField.ACL_HASH] if self._acl else list(RECORD_FIELDS)
        self.circuit = Circuit(f"Azure AI Search at {self.endpoint}", down_after=service_down_seconds)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, dimensions: int, index_name: str | None = None, **options: Any
    ) -> AzureSearchIndex:
        """From AZURE_SEARCH_ENDPOINT, AZURE_SEARCH_INDEX (unless ``index_name``) and AZURE_SEARCH_API_KEY."""
        if not settings.azure_search_endpoint:
            raise ConfigurationError("AZURE_SEARCH_ENDPOINT is required for the Azure AI Search index")
        key = settings.azure_search_api_key
        credential = AzureKeyCredential(key.get()) if key is not None else None
        name = index_name or settings.azure_search_index
        options.setdefault("vector_weight", settings.hybrid_vector_weight)
        options.setdefault("service_down_seconds", settings.service_down_seconds)
        if settings.hybrid_fusion == "exact-term":
            options.setdefault("exact_term_vector_weight", settings.hybrid_exact_term_vector_weight)
        return cls(settings.azure_search_endpoint, name, dimensions, credential=credential, **options)

    # -- clients -------------------------------------------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "api_version": API_VERSION,
            "retry_total": self._policy.max_attempts - 1,
            "retry_backoff_factor": self._policy.base,
            "retry_backoff_max": self._policy.cap,
            "connection_timeout": self._timeout,
            "read_timeout": self._timeout,
        }
        if self._http_tokens and not isinstance(self._credential, AzureKeyCredential):
            options["per_call_policies"] = [AllowHttpTokens()]
        options["per_retry_policies"] = [CircuitPolicy(self.circuit)]
        return options

    def _get_credential(self) -> AzureKeyCredential | AsyncTokenCredential:
        if self._credential is None:
            self._credential = default_credential()
        return self._credential

    def _client(self) -> SearchClient:
        if self._search is None:
            self._search = SearchClient(self.endpoint, self.name, self._get_credential(), **self._options())
        return self._search

    def _index_client(self) -> SearchIndexClient:
        if self._indexes is None:
            self._indexes = SearchIndexClient(self.endpoint, self._get_credential(), **self._options())
        return self._indexes

    def _batches(self) -> SharedBatchSender:
        """One sender per index object, shared by every document written through it (``batching``)."""
        if self._sender is None:
            actions, size = self._batch_limits
            sender = BatchSender(self._client(), self.name, policy=self._policy, max_actions=actions, max_bytes=size)
            self._sender = SharedBatchSender(sender, interval=self._batch_interval, in_flight=self._in_flight)
        return self._sender

    def pace_by(self, in_flight: Callable[[], int]) -> None:
        """Shared requests wait for more writers only while some of ``in_flight()`` documents are not already
        waiting on a write (``indexing.base.PacedWrites``)."""
        self._in_flight = in_flight
        if self._sender is not None:
            self._sender.in_flight = in_flight

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.close()
        for client in (self._search, self._indexes):
            if client is not None:
                await client.close()
        self._search = self._indexes = self._sender = None
        if self._own_credential and self._credential is not None:
            close = getattr(self._credential, "close", None)
            if close is not None:
                await close()
            self._credential = None

    # -- definition ----------------------------------------------------------------------------------------------------
    async def ensure(self) -> None:
        """Create the index from schema v1 unless an index or alias has this name; never change an existing one."""
        what = f"ensure index {self.name}"
        try:
            try:
                existing = await self._index_client().get_index(self.name)
            except ResourceNotFoundError:
                try:
                    existing = await self._index_client().create_index(to_search_index(self.definition))
                except ResourceExistsError:  # created meanwhile by another worker
                    existing = await self._index_client().get_index(self.name)
        except AzureError as error:
            raise translate(error, what=what) from None
        self._adopt(existing)

    def _adopt(self, definition: SearchIndex) -> None:
        """Check an existing definition fits (fields, vector dimensions) and learn whether it ranks semantically."""
        fields = {str(f.name): f for f in definition.fields or []}
        missing = [str(f.name) for f in self.definition.fields if str(f.name) not in fields]
        if missing:
            raise ConfigurationError(f"index {self.name} lacks field(s) {', '.join(missing)} of schema v{self.version}")
        found = fields[Field.EMBEDDING].vector_search_dimensions
        if found != self.dimensions:
            raise ConfigurationError(
                f"index {self.name} stores {found}-dimension vectors but the embedder makes {self.dimensions}; "
                "build a new index version"
            )
        if self._semantic is None:
            configurations = (definition.semantic_search.configurations or []) if definition.semantic_search else []
            self._semantic = any(c.name == SEMANTIC_CONFIGURATION for c in configurations)

    async def _uses_semantic(self) -> bool:
        if self._semantic is None:
            try:
                self._adopt(await self._index_client().get_index(self.name))
            except AzureError as error:
                raise translate(error, what=f"read index {self.name}") from None
        return bool(self._semantic)

    # -- reads ---------------------------------------------------------------------------------------------------------
    def _rows(self, *, what: str, filter: str, select: list[str]) -> AsyncIterator[dict[str, Any]]:
        return list_rows(self._client(), self.name, filter=filter, select=select, what=what)

    async def _chunk_keys(self, parent_key: str, *, what: str) -> set[str]:
        """The document's stored chunk keys, as of a refresh newer than this process's own last write of it."""

        async def read() -> set[str]:
            rows = self._rows(what=what, filter=equals(Field.PARENT_ID, parent_key), select=[Field.ID])
            return {str(row[Field.ID]) async for row in rows}

        return await self._own_writes.listing(parent_key, read)

    async def get_document(self, parent_key: str) -> DocumentRecord | None:
        try:
            found = await self._client().get_document(
                chunk_key(parent_key, 0), selected_fields=self._record_fields, retry_on_methods=READ_METHODS
            )
        except ResourceNotFoundError as error:
            if _index_missing(error):
                raise translate(error, what=f"read document {parent_key}") from None
            return None
        except AzureError as error:
            raise translate(error, what=f"read document {parent_key}") from None
        return record_from(found)

    async def get_vectors(self, parent_key: str) -> dict[str, np.ndarray]:
        select = [Field.CHUNK_HASH, Field.EMBEDDING]
        rows = self._rows(
            what=f"read vectors of {parent_key}", filter=equals(Field.PARENT_ID, parent_key), select=select
        )
        return {
            str(row[Field.CHUNK_HASH]): np.asarray(row[Field.EMBEDDING], dtype=np.float32)
            async for row in rows
            if row.get(Field.EMBEDDING) is not None
        }

    async def list_documents(self, *, prefix: str = "") -> AsyncIterator[DocumentRecord]:
        # OData has no startswith for filters: every record is read and the prefix is applied here.
        seen: set[str] = set()
        rows = self._rows(what="list documents", filter=f"{Field.ORDINAL} eq 0", select=self._record_fields)
        async for row in rows:
            record = record_from(row)
            if record.source_id.startswith(prefix) and record.key not in seen:
                seen.add(record.key)
                yield record

    async def stats(self) -> IndexStats:
        what = f"read statistics of {self.name}"
        try:
            client = self._client()
            chunks = await client.get_document_count(retry_on_methods=READ_METHODS)
            records = await client.search(
                search_text=None, filter=f"{Field.ORDINAL} eq 0", top=0, include_total_count=True,
                retry_on_methods=READ_METHODS,
            )  # fmt: skip
            documents = await records.get_count()
        except AzureError as error:
            raise translate(error, what=what) from None
        return IndexStats(name=self.name, documents=int(documents or 0), chunks=int(chunks))

    # -- writes --------------------------------------------------------------------------------------------------------
    async def replace_document(self, record: DocumentRecord, chunks: Sequence[IndexChunk]) -> None:
        what = f"write document {record.source_path}"
        commit = chunk_key(record.key, 0)
        chunks = list(chunks)
        check_chunks(record, chunks, self.dimensions, commit)
        record = dataclasses.replace(record, indexed_at=timestamp(record.indexed_at))
        sender = self._batches()
        actions = [encode("upload", json_document(self._to_document(record, chunk))) for chunk in chunks]
        for action in actions:
            sender.check_size(action, what=what)
        with self._own_writes.changing(record.key):
            await sender.send([a for a in actions if a.key != commit], what=what)
            keep = {a.key for a in actions}
            stale = sorted((await self._chunk_keys(record.key, what=what)) - keep)
            await sender.send([encode("delete", {Field.ID: key}) for key in stale], what=what)
            await sender.send([a for a in actions if a.key == commit], what=what)
        self._own_writes.wrote(record.key, present=keep, absent=set(stale))

    async def update_acl(self, parent_key: str, acl: Acl) -> bool:
        """A ``merge`` of ``groups``, ``oids`` and ``acl_hash`` into every stored chunk, chunk 0 last (see the module
        docstring): the vectors stay because v3 stores them (``stored: true``); a definition that does not is refused,
        as a merge would silently drop its vectors."""
        what = f"update the ACL of {parent_key}"
        require_acl_fields(self._acl, index=self.name, version=self.version, what=what)
        embedding = next(f for f in self.definition.fields if f.name == Field.EMBEDDING)
        if embedding.stored is False:
            raise ConfigurationError(f"{what}: {self.name} does not store its vectors; a merge would drop them")
        keys, commit = await self._chunk_keys(parent_key, what=what), chunk_key(parent_key, 0)
        if commit not in keys:
            return False
        actions = [encode("merge", json_document(document)) for document in acl_merges(sorted(keys), acl)]
        await self._batches().send([a for a in actions if a.key != commit], what=what)
        await self._batches().send([a for a in actions if a.key == commit], what=what)
        return True

    async def delete_document(self, parent_key: str) -> bool:
        what = f"delete document {parent_key}"
        keys = await self._chunk_keys(parent_key, what=what)
        if not keys:
            return False
        commit = chunk_key(parent_key, 0)
        sender = self._batches()
        with self._own_writes.changing(parent_key):
            await sender.send([encode("delete", {Field.ID: key}) for key in sorted(keys - {commit})], what=what)
            if commit in keys:
                await sender.send([encode("delete", {Field.ID: commit})], what=what)
        self._own_writes.wrote(parent_key, present=set(), absent=keys)
        return True


def _index_missing(error: ResourceNotFoundError) -> bool:
    """A 404 for a document lookup means either no such document or no such index; only the body tells which."""
    message = str(getattr(getattr(error, "error", None), "message", "") or "")
    return message.lower().startswith("the index")
