"""Small frozen values that flow between the stages: source -> crack -> chunk -> embed -> index.

Nothing here does I/O. Each stage takes the previous stage's value and returns its own; no stage reaches back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from ingestion.jsonview import as_json


@dataclass(frozen=True)
class SourceItem:
    """One document in a source, before its bytes are read.

    ``source_id`` is the stable identity the document key derives from: for a local folder the absolute POSIX path
    (``/data/docs/a.pdf``), for a blob ``blob:<account>/<container>/<name>``. ``path`` is what the index stores and
    search results cite: the absolute path for a file, ``<container>/<name>`` for a blob. ``content_version`` changes
    whenever the content does (``sha256:<hex>`` for files, the blob's Content-MD5 or ETag otherwise): a version
    marker, not always a hash. The one name for this value across the pipeline and the index record.
    """

    source_id: str
    path: str
    size: int
    last_modified: datetime
    content_version: str
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def extension(self) -> str:
        name = self.name.lower()
        return name.rsplit(".", 1)[-1] if "." in name else ""


@dataclass(frozen=True)
class PageSpan:
    """Text from character ``start`` (inclusive) onwards belongs to page (or slide, or sheet) ``number``."""

    start: int
    number: int


@dataclass(frozen=True)
class CrackedDocument:
    """A document turned into structured text.

    ``text`` is markdown-flavoured: headings as ``#`` lines, tables as markdown pipe tables with a header row and
    a ``|---|`` separator, paragraphs separated by blank lines. ``pages`` is sorted by ``start``; empty when the
    format has no pages. ``title`` is the document's own title when it declares one, else the file name.
    """

    text: str
    title: str
    pages: tuple[PageSpan, ...] = ()
    content_type: str = "text/plain"

    def page_at(self, offset: int) -> int | None:
        """The page number that character ``offset`` falls on, or None for formats without pages."""
        number = None
        for span in self.pages:
            if span.start > offset:
                break
            number = span.number
        return number


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of one document.

    ``text`` is the chunk body, exactly ``document.text[start:end]`` (so offsets are true); ``heading_path`` is the
    chain of headings above it, outermost first. ``tokens`` counts ``text`` with the pipeline tokenizer and never
    exceeds the configured cap. A table split across chunks repeats its header row, so such a chunk's text is the
    header plus rows and ``start``/``end`` span the rows it carries.
    """

    ordinal: int
    text: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    tokens: int
    page_start: int | None = None
    page_end: int | None = None

    @property
    def title(self) -> str:
        return " > ".join(self.heading_path)


@dataclass(frozen=True)
class IndexChunk:
    """What the index stores for one chunk: the chunk plus its keys, hashes and vector."""

    key: str
    parent_key: str
    ordinal: int
    content: str
    title: str
    source_path: str
    chunk_hash: str
    vector: np.ndarray
    page_start: int | None = None
    page_end: int | None = None
    start: int = 0
    end: int = 0
    groups: tuple[str, ...] = ()
    oids: tuple[str, ...] = ()
    """``groups``/``oids``: who may see the chunk (``ingestion.acl``; ``*`` in groups means public)."""


@dataclass(frozen=True)
class DocumentRecord:
    """What the index remembers about one whole document, written only after all its chunks are in.

    ``content_version`` is the source item's ``content_version`` when it was indexed (stored in the index field
    ``document_hash`` and the local column ``content_hash``, names kept for compatibility with existing indexes);
    ``fingerprint`` identifies everything else that shapes the chunks and vectors (tokenizer, chunk settings, embedding
    model and dimensions, schema version). Both unchanged means the document is skipped with zero embedding calls;
    then a different ``acl_hash`` only rewrites the ACL fields.
    """

    key: str
    source_id: str
    source_path: str
    content_version: str
    fingerprint: str
    chunk_count: int
    indexed_at: datetime | None = None
    acl_hash: str | None = None
    """Digest of the ACL the chunks carry (``ingestion.acl.Acl.digest``); None in schema versions before v3."""


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    TEXT = "text"
    VECTOR = "vector"


@dataclass(frozen=True)
class SearchHit:
    key: str
    parent_key: str
    source_path: str
    title: str
    content: str
    score: float
    ordinal: int = 0
    page_start: int | None = None
    page_end: int | None = None
    reranker_score: float | None = None


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True)
class DocumentResult:
    """What happened to one document in a run."""

    source_path: str
    outcome: Outcome
    chunks: int = 0
    tokens_embedded: int = 0
    error: str | None = None


@dataclass
class RunResult:
    """Counts for a whole run; ``failures`` lists ``{source, error}`` one per failed document."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    chunks: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)

    def record(self, result: DocumentResult) -> None:
        if result.outcome is Outcome.DELETED:
            self.deleted += 1
            return
        self.documents += 1
        self.chunks += result.chunks
        self.tokens_embedded += result.tokens_embedded
        if result.outcome is Outcome.ADDED:
            self.added += 1
        elif result.outcome is Outcome.UPDATED:
            self.updated += 1
        elif result.outcome is Outcome.UNCHANGED:
            self.unchanged += 1
        else:
            self.failed += 1
            self.failures.append({"source": result.source_path, "error": result.error or "unknown error"})

    def as_dict(self) -> dict[str, object]:
        return as_json(self, seconds=round(self.seconds, 3))
