"""The search index.

An ``Index`` stores chunks (text, heading path, source path, pages, ACL ``groups``/``oids``, hashes, vector) and one
``DocumentRecord`` per document, and searches them by text (BM25), by vector (k-NN) or both fused with Reciprocal Rank
Fusion, optionally trimmed to what one user may see (``ingestion/acl.py``). It never embeds: callers pass the query
vector. Two implementations share this contract and one test suite
(``tests/contract/index_contract.py``): the local SQLite store and the Azure AI Search writer.

Consistency rule, for every implementation: a document's record is written only after all of its chunks are, and
stale chunks are removed before the record is written. If ``replace_document`` fails part-way the old record stays
(or none, for a new document), so the next run sees the document as changed and redoes it. The local store does the
whole replacement in one transaction, so there the previous version also stays searchable and intact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from index_schemas.v1 import Field
from ingestion.acl import Acl, Principal
from ingestion.models import DocumentRecord, IndexChunk, SearchHit, SearchMode

HIT_FIELDS = (
    Field.ID,
    Field.PARENT_ID,
    Field.SOURCE_PATH,
    Field.TITLE,
    Field.CONTENT,
    Field.ORDINAL,
    Field.PAGE_START,
    Field.PAGE_END,
)
"""The chunk fields a search hit is read from, in this order, on every backend (a ``SearchHit``'s sources)."""
HYBRID_DEPTH = 50
"""Each ranking fused by HYBRID contributes its best ``max(HYBRID_DEPTH, top)`` chunks, in every backend: the same
candidates for any ``top`` up to HYBRID_DEPTH, so a top-5 query returns the first five of a top-50 query (on Azure AI
Search the vector query asks for as many neighbours)."""


def plan_search(
    vector: np.ndarray | None, *, mode: SearchMode, top: int, dimensions: int
) -> tuple[SearchMode, np.ndarray | None, int]:
    """What every backend checks before a search: the mode, the query vector as float32 (None for TEXT) and how many
    candidates each ranking contributes (``max(HYBRID_DEPTH, top)`` for HYBRID, else ``top``). ValueError for
    ``top < 1``, a missing vector in VECTOR / HYBRID mode, or a vector that is not ``dimensions`` finite numbers."""
    mode = SearchMode(mode)
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    query = None
    if mode is not SearchMode.TEXT:
        if vector is None:
            raise ValueError(f"{mode.value} search needs a query vector")
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (dimensions,) or not np.isfinite(query).all():
            raise ValueError(f"query vector must be {dimensions} finite numbers, got shape {query.shape}")
    return mode, query, max(HYBRID_DEPTH, top) if mode is SearchMode.HYBRID else top


@dataclass(frozen=True)
class IndexStats:
    name: str
    documents: int
    chunks: int


class Index(Protocol):
    name: str
    """Physical index name (e.g. ``grounding-v1``)."""
    settle_seconds: float
    """How long an acknowledged write may take to become visible to this index's reads (0: at once). Azure AI Search
    is near-real-time (about 1 s); code that must see a whole build (a migration's verification) waits up to this."""

    async def ensure(self) -> None:
        """Create the index (and its storage) if it does not exist; leave an existing one as it is. Idempotent."""
        ...

    async def get_document(self, parent_key: str) -> DocumentRecord | None:
        """The record written by the last successful ``replace_document`` for this key, or None."""
        ...

    async def get_vectors(self, parent_key: str) -> dict[str, np.ndarray]:
        """``chunk_hash -> vector`` for the chunks currently stored under ``parent_key`` (empty if none)."""
        ...

    async def replace_document(self, record: DocumentRecord, chunks: Sequence[IndexChunk]) -> None:
        """Make the index hold exactly ``chunks`` for ``record.key``, then record the document as done.

        Order: write (upsert) every chunk, delete the document's chunks whose keys are not in ``chunks``, write the
        record. Every chunk must have ``parent_key == record.key`` and a vector of the index's dimensions, else
        ValueError before anything is written. Raises TransientError / DocumentRejectedError; on any error the
        document is not recorded as done.
        """
        ...

    async def update_acl(self, parent_key: str, acl: Acl) -> bool:
        """Give every chunk of the document ``acl`` (``groups``, ``oids``) and record ``acl.digest()`` as its
        ``acl_hash``, chunk 0 (the record) last; nothing is re-embedded and no other field changes. False when the
        document has no record. ConfigurationError when the index's schema has no ACL fields (before v3).
        TransientError as ``replace_document``; a failure part-way leaves the old ``acl_hash`` recorded, so the next
        run sees the ACL as changed and writes it again."""
        ...

    async def delete_document(self, parent_key: str) -> bool:
        """Remove the document's chunks and record. Idempotent; returns whether anything was there."""
        ...

    def list_documents(self, *, prefix: str = "") -> AsyncIterator[DocumentRecord]:
        """Yield every recorded document whose ``source_id`` starts with ``prefix``, each once."""
        ...

    async def search(
        self,
        text: str,
        *,
        vector: np.ndarray | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        top: int = 5,
        source_path: str | None = None,
        principal: Principal | None = None,
    ) -> list[SearchHit]:
        """Best ``top`` chunks, best first.

        ``TEXT`` ranks by BM25 over content and title; ``VECTOR`` by cosine similarity to ``vector``; ``HYBRID`` fuses
        both rankings with RRF (score = sum of 1/(k + rank)). ``VECTOR`` and ``HYBRID`` need ``vector``
        (ValueError otherwise). ``source_path`` keeps only chunks of that document. ``principal`` keeps only chunks
        it may see (``Principal.visible``: public, or its oid or one of its groups listed), applied inside the
        ranking (before ``top``), never after; None is the untrimmed operator's view. ConfigurationError when a
        principal is given and the index's schema has no ACL fields.
        """
        ...

    async def stats(self) -> IndexStats: ...

    async def close(self) -> None: ...


@runtime_checkable
class PacedWrites(Protocol):
    """An index whose writes from many documents share requests (Azure AI Search) and may wait briefly for more
    documents to join one. ``in_flight`` says how many documents are in flight (``budget.ByteBudget.documents``);
    once each of them is already waiting on a write, nothing is held back. The pipeline connects it."""

    def pace_by(self, in_flight: Callable[[], int]) -> None: ...
