"""Index schema version 2: v1 plus a ``file_type`` facet and a ``title-boost`` scoring profile.

Both additions change an existing Azure AI Search index IN PLACE (a new field, a new scoring profile), so a live v1
index is upgraded with ``python -m ingestion schema apply --to 2``: no reindex, no embedding. Documents indexed before
the upgrade hold ``file_type = null`` until they are written again; the pipeline fingerprint includes the schema
version, so the next ``ingest`` rewrites every document (reusing every vector: zero tokens) and fills it in.

============== ========================== =============================================================================
field          type                       attributes and meaning
============== ========================== =============================================================================
(v1 fields)                               unchanged, see ``index_schemas/v1.py``
file_type      Edm.String                 filterable, facetable. Lower-case extension of ``source_path`` (``pdf``,
                                          ``docx``, ``html``...), null when the name has none: "only PDFs", and a
                                          facet count per format
============== ========================== =============================================================================

Scoring profile ``title-boost`` (not the default, so ranking only changes for queries that ask for it): a term found
in the heading path weighs twice one found in the chunk text, like the local store's BM25 weights.

Released versions are frozen: v2 is built from ``v1.build`` because v1 never changes once released (``schema status``
reports any drift between a live index and its version's definition).
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from types import MappingProxyType

from index_schemas import v1
from index_schemas.documents import ChunkLike, RecordLike
from index_schemas.params import SchemaParams
from index_schemas.types import IndexDefinition, IndexField, ScoringProfile

VERSION = 2
SCORING_PROFILE = "title-boost"
TITLE_WEIGHT = 2.0
MAX_FILE_TYPE_LENGTH = 16
"""Longer "extensions" (``notes.final-draft-2024``) are not file types: stored as null."""


class Field(StrEnum):
    """The field names v2 adds to v1's (``v1.Field``)."""

    FILE_TYPE = "file_type"


def build(params: SchemaParams) -> IndexDefinition:
    """The v2 index definition for ``params``: v1's, plus ``file_type`` and the ``title-boost`` scoring profile."""
    index = v1.build(params)
    fields = list(index.fields)
    position = [field.name for field in fields].index(v1.Field.SOURCE_PATH) + 1
    fields.insert(position, IndexField(Field.FILE_TYPE, "Edm.String", filterable=True, facetable=True))
    weights = MappingProxyType({str(v1.Field.TITLE): TITLE_WEIGHT})
    profile = ScoringProfile(name=SCORING_PROFILE, text_weights=weights)
    return replace(index, fields=tuple(fields), scoring_profiles=(profile,))


def to_document(record: RecordLike, chunk: ChunkLike) -> dict[str, object]:
    """The v2 search document for one chunk: v1's, plus ``file_type``."""
    return {**v1.to_document(record, chunk), Field.FILE_TYPE: file_type(chunk.source_path)}


def file_type(path: str) -> str | None:
    """``/a/Report.PDF`` -> ``pdf``; None for ``/a/README``, ``/a/.profile`` or an implausibly long extension."""
    name = path.rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not extension or len(extension) > MAX_FILE_TYPE_LENGTH:
        return None
    return extension.lower()
