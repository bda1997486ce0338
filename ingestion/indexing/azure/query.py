"""Pure helpers of the Azure AI Search writer: OData literals, query text, and search documents <-> our models.

Nothing here talks to the network; ``azure_search`` uses these to build requests and read answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from index_schemas.v1 import Field
from index_schemas.v3 import Field as AclField
from ingestion.acl import Acl
from ingestion.keys import is_valid_key
from ingestion.models import DocumentRecord, IndexChunk, SearchHit

_WORD = re.compile(r"\w+")

RECORD_FIELDS = [
    Field.ID,
    Field.PARENT_ID,
    Field.SOURCE_ID,
    Field.SOURCE_PATH,
    Field.DOCUMENT_HASH,
    Field.FINGERPRINT,
    Field.CHUNK_COUNT,
    Field.LAST_INDEXED,
]
"""What ``get_document`` / ``list_documents`` read from a document's chunk 0 (its commit record)."""


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with ``'`` doubled (``O'Brien`` -> ``'O''Brien'``)."""
    return "'" + value.replace("'", "''") + "'"


def equals(field: str, value: str) -> str:
    return f"{field} eq {odata_string(value)}"


def query_text(text: str) -> str | None:
    """User text as plain words for the *simple* query syntax, or None when it has no words.

    Operator characters (``+ - | " * ( ) ~ \\``...) are dropped rather than escaped: the analyzer splits on them
    anyway, and an empty query would otherwise mean "match everything" (``*``).
    """
    words = _WORD.findall(text)
    return " ".join(words) if words else None


def timestamp(moment: datetime | None) -> datetime:
    """``moment`` (or now) in UTC at millisecond precision, the precision Edm.DateTimeOffset keeps."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def json_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A search document from ``TO_DOCUMENT`` made JSON-ready: vectors as float32 arrays (finite), datetimes as
    ISO 8601 UTC."""
    ready: dict[str, Any] = {}
    for name, value in document.items():
        if isinstance(value, np.ndarray):  # float32 as is: batches.encode writes its shortest exact form
            value = np.ascontiguousarray(value, dtype=np.float32)
            if not np.isfinite(value).all():
                raise ValueError(f"field {name}: a vector with NaN or infinity cannot be indexed")
        elif isinstance(value, datetime):
            value = timestamp(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ready[str(name)] = value
    return ready


def check_chunks(record: DocumentRecord, chunks: list[IndexChunk], dimensions: int, commit_key: str) -> None:
    """ValueError (nothing written yet) unless the chunks belong to ``record``, fit the index and include chunk 0."""
    what = f"document {record.source_path}"
    if not chunks:
        raise ValueError(f"{what}: needs at least one chunk (chunk 0 carries the document's record)")
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.parent_key != record.key:
            raise ValueError(f"{what}: chunk {chunk.key} has parent key {chunk.parent_key}, not {record.key}")
        if not is_valid_key(chunk.key):
            raise ValueError(f"{what}: chunk key {chunk.key!r} is not a valid Azure AI Search key")
        if chunk.key in seen:
            raise ValueError(f"{what}: chunk key {chunk.key} appears twice")
        seen.add(chunk.key)
        vector = np.asarray(chunk.vector)
        if vector.shape != (dimensions,) or vector.dtype.kind not in "fiu" or not np.isfinite(vector).all():
            raise ValueError(
                f"{what}: chunk {chunk.key} needs a finite vector of {dimensions} numbers, got shape {vector.shape}"
            )
    if not any(chunk.key == commit_key and chunk.ordinal == 0 for chunk in chunks):
        raise ValueError(f"{what}: no chunk {commit_key} with ordinal 0 among the chunks")


def record_from(document: Mapping[str, Any]) -> DocumentRecord:
    """The DocumentRecord that chunk 0 carries."""
    indexed = document.get(Field.LAST_INDEXED)
    if isinstance(indexed, str):
        indexed = datetime.fromisoformat(indexed.replace("Z", "+00:00"))
    return DocumentRecord(
        key=str(document[Field.PARENT_ID]),
        source_id=str(document[Field.SOURCE_ID]),
        source_path=str(document[Field.SOURCE_PATH]),
        content_version=str(document[Field.DOCUMENT_HASH]),
        fingerprint=str(document[Field.FINGERPRINT]),
        chunk_count=int(document[Field.CHUNK_COUNT]),
        indexed_at=indexed,
        acl_hash=document.get("acl_hash"),
    )


def hit_from(result: Mapping[str, Any]) -> SearchHit:
    reranker = result.get("@search.reranker_score")
    return SearchHit(
        key=str(result[Field.ID]),
        parent_key=str(result[Field.PARENT_ID]),
        source_path=str(result[Field.SOURCE_PATH]),
        title=str(result.get(Field.TITLE) or ""),
        content=str(result.get(Field.CONTENT) or ""),
        score=float(result["@search.score"]),
        ordinal=int(result.get(Field.ORDINAL) or 0),
        page_start=result.get(Field.PAGE_START),
        page_end=result.get(Field.PAGE_END),
        reranker_score=float(reranker) if reranker is not None else None,
    )


def acl_merges(keys: Iterable[str], acl: Acl) -> list[dict[str, Any]]:
    """One partial (``merge``) document per chunk key setting its ACL fields: ``groups``, ``oids``, ``acl_hash``."""
    fields = {Field.GROUPS: list(acl.groups), AclField.OIDS: list(acl.oids), AclField.ACL_HASH: acl.digest()}
    return [{Field.ID: key, **fields} for key in keys]
