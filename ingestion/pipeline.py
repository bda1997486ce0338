"""One document end to end, and a whole source with bounded concurrency.

    source.read -> cracker.crack -> chunker.chunk -> embedder.embed -> index.replace_document

For each document the pipeline first asks the source who may see it (``Source.acl``; ``ACL_DEFAULT`` when the source
says nothing, see ingestion/acl.py) and the index what it last recorded: the same content hash and the same pipeline
fingerprint mean the document is skipped with zero embedding calls. A changed ACL (another ``acl_hash``) is written
first, alone (``Index.update_acl``: the ACL fields of every chunk), so it holds even when the content then fails; if
only the ACL changed, that is all: no cracking, no embedding.
Otherwise it is cracked and chunked again, and vectors are reused for every chunk whose embedded text (and embedding
model) is unchanged; only the rest is embedded.
The index writes new chunks, deletes stale ones and only then records the document as done (see indexing/base.py).

``reuse_from`` (a schema migration's live index) lends vectors to documents the target index has no record of yet:
chunk hashes include the embedding model and dimensions, so only vectors of the same embedding space can match.

Failures follow ingestion/errors.py: a bad document is recorded as failed with a one-line reason and the run goes on;
a transient failure (already retried inside the adapters) fails that document too, or is re-raised for callers that have
their own retry (the Functions host); a configuration error stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from index_schemas import LATEST, tracks_acl
from ingestion import telemetry
from ingestion.acl import Acl, AclDefault, resolve
from ingestion.budget import ByteBudget, CrackSlots
from ingestion.chunking import Chunker
from ingestion.chunking.titles import embedded_counts
from ingestion.cracking.base import AnyCracker
from ingestion.embedding.base import CountedEmbedder, Embedder
from ingestion.errors import (
    CONFIGURATION_ERRORS,
    BadInputError,
    DocumentTimeoutError,
    DocumentTooLargeError,
    IngestionError,
    NoTextError,
    ServiceDownError,
    TransientError,
)
from ingestion.indexing.base import Index, PacedWrites
from ingestion.keys import chunk_key, document_key, text_hash
from ingestion.models import (
    Chunk,
    CrackedDocument,
    DocumentRecord,
    DocumentResult,
    IndexChunk,
    Outcome,
    RunResult,
    SourceItem,
)
from ingestion.sources.base import Source, in_scope
from ingestion.tokenizer import Tokenizer

log = logging.getLogger(__name__)

CHUNKER_VERSION = 1

ResultCallback = Callable[[DocumentResult], None]


MAX_DOCUMENTS_IN_FLIGHT = 512
"""Ceiling on documents a run keeps in flight; what normally bounds them is ``max_bytes_in_flight`` (budget.py)."""


@dataclass(frozen=True)
class PipelineOptions:
    max_document_bytes: int = 100 * 1024 * 1024
    max_concurrency: int = 4
    """Documents cracked and chunked at the same moment (CPU-bound work)."""
    embed_headings: bool = True
    schema_version: int = LATEST
    acl_default: AclDefault = AclDefault.PUBLIC
    """What a document gets whose source says nothing about access (``ACL_DEFAULT``)."""
    max_bytes_in_flight: int = 16 * 1024 * 1024
    """Bytes of documents being read, cracked, embedded or written at once, across runs and callers."""
    document_timeout: float | None = 180.0
    """Seconds one document may take end to end before it fails (its crack worker is killed); None: no limit."""
    max_chunks_per_document: int = 20_000
    max_documents_in_flight: int = MAX_DOCUMENTS_IN_FLIGHT
    """A ceiling for ``run`` only (not a setting): what bounds read-ahead is ``max_bytes_in_flight``."""


class Pipeline:
    def __init__(
        self,
        *,
        cracker: AnyCracker,
        chunker: Chunker,
        tokenizer: Tokenizer,
        embedder: Embedder,
        index: Index,
        options: PipelineOptions = PipelineOptions(),
        reuse_from: Index | None = None,
    ) -> None:
        self.cracker = cracker
        self.chunker = chunker
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.index = index
        self.options = options
        self.reuse_from = reuse_from
        self.fingerprint = self.fingerprint_for(options.schema_version)
        self.tracks_acl = tracks_acl(options.schema_version)
        self.budget = ByteBudget(options.max_bytes_in_flight)
        self.crack_slots = CrackSlots(options.max_concurrency)
        if isinstance(index, PacedWrites):  # shared indexing requests wait for more writers only while some can come
            index.pace_by(lambda: self.budget.documents)

    def share_limits(self, other: Pipeline) -> None:
        """Draw on ``other``'s byte budget and crack slots (one process, one set of limits)."""
        self.budget = other.budget
        self.crack_slots = other.crack_slots

    def fingerprint_for(self, schema_version: int) -> str:
        """The fingerprint this pipeline's settings give documents of index schema ``schema_version``."""
        return pipeline_fingerprint(
            tokenizer=self.tokenizer.name,
            max_tokens=self.chunker.max_tokens,
            overlap_tokens=self.chunker.overlap_tokens,
            embed_headings=self.options.embed_headings,
            model_id=self.embedder.model_id,
            dimensions=self.embedder.dimensions,
            schema_version=schema_version,
        )

    # ---- one document -------------------------------------------------------------------------------------------

    async def ingest(self, source: Source, item: SourceItem, *, raise_transient: bool = False) -> DocumentResult:
        """Bring one document up to date in the index and say what happened.

        Bad input becomes a FAILED result with a one-line reason. A transient error becomes a FAILED result too,
        unless ``raise_transient`` (for callers whose host retries, such as a queue trigger). A configuration error
        is always raised. Traced as ``ingest.document`` (ingestion/telemetry/).
        """
        with telemetry.document(item.path) as trace:
            return trace.finish(await self._ingest_reporting(source, item, raise_transient=raise_transient))

    async def _ingest_reporting(self, source: Source, item: SourceItem, *, raise_transient: bool) -> DocumentResult:
        try:
            async with self.budget.hold(item.size):
                return await self._ingest_within_time(source, item)
        except (*CONFIGURATION_ERRORS, ServiceDownError):
            raise
        except BadInputError as exc:
            return self._failed(item, exc)
        except TransientError as exc:
            if raise_transient:
                raise
            return self._failed(item, exc)
        except IngestionError as exc:
            return self._failed(item, exc)
        except Exception as exc:  # a bug, not bad input: report it against this document, keep the run going
            log.exception("unexpected error while ingesting %s", item.path)
            return DocumentResult(item.path, Outcome.FAILED, error=f"{item.path}: internal error: {type(exc).__name__}")

    async def _ingest_within_time(self, source: Source, item: SourceItem) -> DocumentResult:
        limit = self.options.document_timeout
        if limit is None:
            return await self._ingest(source, item)
        try:
            async with asyncio.timeout(limit):
                return await self._ingest(source, item)
        except TimeoutError:
            raise DocumentTimeoutError(
                f"{item.path}: took longer than DOCUMENT_TIMEOUT_SECONDS={limit:g} s; stopped"
            ) from None

    async def _ingest(self, source: Source, item: SourceItem) -> DocumentResult:
        key = document_key(item.source_id)
        acl = resolve(await source.acl(item), self.options.acl_default)
        existing = await self.index.get_document(key)
        acl_changed = existing is not None and self.tracks_acl and existing.acl_hash != acl.digest()
        # A changed ACL is written first, alone: it is current even if the content below fails to crack or embed.
        acl_written = acl_changed and await self.index.update_acl(key, acl)
        if existing and existing.content_version == item.content_version and existing.fingerprint == self.fingerprint:
            if not acl_changed:
                return DocumentResult(item.path, Outcome.UNCHANGED)
            if acl_written:  # an ACL-only change: no cracking, no embedding
                return DocumentResult(item.path, Outcome.UPDATED, chunks=existing.chunk_count)
        document, chunks = await self.chunk_document(source, item)
        if existing:
            reusable = await self.index.get_vectors(key)
        elif self.reuse_from is not None:
            reusable = await self.reuse_from.get_vectors(key)
        else:
            reusable = {}
        index_chunks, tokens = await self._embed(item, key, document, chunks, reusable, acl)
        record = DocumentRecord(
            key=key,
            source_id=item.source_id,
            source_path=item.path,
            content_version=item.content_version,
            fingerprint=self.fingerprint,
            chunk_count=len(index_chunks),
            indexed_at=datetime.now(UTC),
            acl_hash=acl.digest() if self.tracks_acl else None,
        )
        with telemetry.span("ingest.index", chunks=len(index_chunks)):
            await self.index.replace_document(record, index_chunks)
        outcome = Outcome.ADDED if existing is None else Outcome.UPDATED
        return DocumentResult(item.path, outcome, chunks=len(index_chunks), tokens_embedded=tokens)

    async def chunk_document(self, source: Source, item: SourceItem) -> tuple[CrackedDocument, list[Chunk]]:
        """Read, crack and chunk one document (NoTextError when it yields no chunk)."""
        with telemetry.span("ingest.read") as span:
            data = await source.read(item, max_bytes=self.options.max_document_bytes)
            span.set(bytes=len(data))
        telemetry.annotate(bytes=len(data))
        with telemetry.span("ingest.crack") as span:
            document = await self._crack(item, data)
            span.set(pages=len(document.pages), content_type=document.content_type)
        telemetry.annotate(pages=len(document.pages))
        del data
        with telemetry.span("ingest.chunk") as span:
            async with self.crack_slots.slot():
                chunks = await asyncio.to_thread(self.chunker.chunk, document)
            span.set(chunks=len(chunks))
        if not chunks:
            raise NoTextError(f"{item.path}: no extractable text")
        cap = self.options.max_chunks_per_document
        if len(chunks) > cap:
            raise DocumentTooLargeError(f"{item.path}: {len(chunks):,} chunks, over MAX_CHUNKS_PER_DOCUMENT={cap:,}")
        return document, list(chunks)

    def embedding_inputs(self, document: CrackedDocument, chunks: Sequence[Chunk]) -> list[tuple[str, str, str]]:
        """``(title, embedded text, chunk hash)`` for each chunk, in order."""
        fallback = self.chunker.title_of(document)
        titles = [chunk.title or fallback for chunk in chunks]
        texts = [self.embedding_text(title, chunk.text) for title, chunk in zip(titles, chunks, strict=True)]
        return [(title, text, self.chunk_hash(text)) for title, text in zip(titles, texts, strict=True)]

    def embedding_counts(self, titles: Sequence[str], chunks: Sequence[Chunk]) -> list[int]:
        """Token counts of the embedded texts, from the chunker's counts (each chunk is encoded once, there)."""
        embedded = titles if self.options.embed_headings else [""] * len(chunks)
        return embedded_counts(self.tokenizer, embedded, chunks)

    async def _crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        crack = self.cracker.crack
        if asyncio.iscoroutinefunction(crack):
            return await crack(item, data)
        async with self.crack_slots.slot():
            return await asyncio.to_thread(crack, item, data)

    async def _embed(
        self,
        item: SourceItem,
        key: str,
        document: CrackedDocument,
        chunks: Sequence[Chunk],
        reusable: dict[str, Any],
        acl: Acl,
    ) -> tuple[list[IndexChunk], int]:
        inputs = self.embedding_inputs(document, chunks)
        titles = [title for title, _, _ in inputs]
        texts = [text for _, text, _ in inputs]
        hashes = [digest for _, _, digest in inputs]
        missing: dict[str, tuple[str, int]] = {}
        counts = self.embedding_counts(titles, chunks)
        for text, digest, count in zip(texts, hashes, counts, strict=True):
            if digest not in reusable and digest not in missing:
                missing[digest] = (text, count)
        vectors = dict(reusable)
        tokens = 0
        reused = sum(1 for digest in hashes if digest in reusable)
        telemetry.annotate(vectors_reused=reused)
        if missing:
            with telemetry.span("ingest.embed", inputs=len(missing), vectors_reused=reused) as span:
                fresh = await self._embed_texts(list(missing.values()))
                vectors.update(zip(missing.keys(), fresh, strict=True))
                tokens = sum(count for _, count in missing.values())
                span.set(tokens=tokens)
        index_chunks = [
            IndexChunk(
                key=chunk_key(key, chunk.ordinal),
                parent_key=key,
                ordinal=chunk.ordinal,
                content=chunk.text,
                title=title,
                source_path=item.path,
                chunk_hash=digest,
                vector=vectors[digest],
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                start=chunk.start,
                end=chunk.end,
                groups=acl.groups,
                oids=acl.oids,
            )
            for chunk, title, digest in zip(chunks, titles, hashes, strict=True)
        ]
        return index_chunks, tokens

    async def _embed_texts(self, inputs: list[tuple[str, int]]) -> Any:
        texts = [text for text, _ in inputs]
        embedder = self.embedder
        if isinstance(embedder, CountedEmbedder) and embedder.tokenizer_name == self.tokenizer.name:
            return await embedder.embed_counted(texts, [count for _, count in inputs])
        return await embedder.embed(texts)

    def embedding_text(self, title: str, text: str) -> str:
        """What is embedded for a chunk: its heading path (or document title) then its text, when EMBED_HEADINGS."""
        if self.options.embed_headings and title:
            return f"{title}\n\n{text}"
        return text

    def chunk_hash(self, embedded_text: str) -> str:
        """Hash of the embedded text *and* the embedding space: equal hashes can share one vector."""
        return text_hash(f"{self.embedder.model_id}:{self.embedder.dimensions}\n{embedded_text}")

    @staticmethod
    def _failed(item: SourceItem, exc: IngestionError) -> DocumentResult:
        reason = str(exc)
        message = reason if item.path in reason else f"{item.path}: {reason}"
        log.warning("failed: %s", message)
        return DocumentResult(item.path, Outcome.FAILED, error=message)

    async def delete(self, source_id: str, *, source_path: str | None = None) -> DocumentResult:
        """Remove one document's chunks and record (idempotent)."""
        removed = await self.index.delete_document(document_key(source_id))
        return DocumentResult(source_path or source_id, Outcome.DELETED if removed else Outcome.UNCHANGED)

    # ---- a whole source -----------------------------------------------------------------------------------------

    async def run(
        self,
        source: Source,
        *,
        sync_deletes: bool = True,
        on_result: ResultCallback | None = None,
    ) -> RunResult:
        """Ingest every item of ``source``, keeping as many documents in flight as ``max_bytes_in_flight`` allows
        (at most MAX_DOCUMENTS_IN_FLIGHT), so that shared embedding and indexing requests fill up.

        With ``sync_deletes``, index documents under ``source.scope`` that the listing did not return are deleted
        afterwards, but only when the listing completed: a failed listing deletes nothing.
        """
        started = time.perf_counter()
        result = RunResult()
        seen: set[str] = set()
        workers = max(1, self.options.max_documents_in_flight)
        queue: asyncio.Queue[SourceItem | None] = asyncio.Queue(maxsize=workers)

        def record(outcome: DocumentResult) -> None:
            result.record(outcome)
            if on_result:
                on_result(outcome)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                record(await self.ingest(source, item))

        listed = False

        async def produce() -> None:
            nonlocal listed
            try:
                async for item in source.list():
                    seen.add(item.source_id)
                    await queue.put(item)
                listed = True
            except TransientError as exc:
                record(DocumentResult(source.scope, Outcome.FAILED, error=f"{source.scope}: listing failed: {exc}"))
            for _ in range(workers):  # not on cancellation: the task group is tearing down
                await queue.put(None)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                for _ in range(workers):
                    group.create_task(worker())
        except BaseExceptionGroup as errors:  # a configuration error in one worker stops the whole run
            raise errors.exceptions[0] from None
        if sync_deletes and listed:
            await self._delete_missing(source.scope, seen, record)
        result.seconds = time.perf_counter() - started
        return result

    async def _delete_missing(self, scope: str, seen: set[str], record: ResultCallback) -> None:
        stale = [
            doc
            async for doc in self.index.list_documents(prefix=scope)
            if in_scope(doc.source_id, scope) and doc.source_id not in seen
        ]
        for doc in stale:
            if await self.index.delete_document(doc.key):
                record(DocumentResult(doc.source_path, Outcome.DELETED))

    async def close(self) -> None:
        for part in (self.embedder, self.index, self.cracker):
            closer = getattr(part, "close", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()


def pipeline_fingerprint(**parts: object) -> str:
    """A short stable hash of everything besides the content that shapes a document's chunks and vectors."""
    parts = {"chunker_version": CHUNKER_VERSION, **parts}
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
