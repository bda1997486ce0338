"""Index schema version 1: one search document per chunk.

Pure definition: ``build(params)`` returns an ``index_schemas.types.IndexDefinition`` and talks to nothing. The field
names below are the contract both backends share (the local SQLite store derives its tables from this definition):

============== ========================== =============================================================================
field          type                       attributes and meaning
============== ========================== =============================================================================
id             Edm.String                 key, filterable. Chunk key ``<parent key>_<ordinal>`` (ingestion/keys.py)
parent_id      Edm.String                 filterable. Document key: all chunks of one document share it
source_id      Edm.String                 filterable. The source identity the document key derives from
source_path    Edm.String                 filterable, facetable. What results cite (file path or container/blob)
title          Edm.String                 searchable. Heading path ``A > B > C``; the semantic titleField
content        Edm.String                 searchable, NOT filterable (terms are capped at 32,766 bytes). Chunk text
ordinal        Edm.Int32                  filterable, sortable. Position of the chunk in its document, from 0
page_start     Edm.Int32                  filterable, facetable. First page the chunk touches (null: no pages)
page_end       Edm.Int32                  filterable, facetable. Last page the chunk touches
start, end     Edm.Int32                  Character offsets of the chunk in the cracked text
groups         Collection(Edm.String)     filterable, not retrievable. Groups allowed to see the chunk (trimming)
chunk_hash     Edm.String                 filterable. SHA-256 of the embedded text: equal hashes may share a vector
document_hash  Edm.String                 filterable. The document's content hash (source version) when indexed
fingerprint    Edm.String                 filterable. Tokenizer, chunking, model, dimensions and schema that shaped it
chunk_count    Edm.Int32                  Number of chunks the document had when indexed
last_indexed   Edm.DateTimeOffset         filterable, sortable. When the document was indexed
embedding      Collection(Edm.Single)     searchable vector of ``params.dimensions``, profile ``default``; stored and
                                          retrievable so an unchanged chunk's vector can be reused without embedding
============== ========================== =============================================================================

Text fields use the default ``standard.lucene`` analyzer, set explicitly. Vectors: HNSW with m=4, efConstruction=400,
efSearch=500 and cosine (explicit, not service defaults), optional int8 scalar or binary compression with rescoring
on preserved originals, and an optional Azure OpenAI vectorizer so the service can embed text queries itself.

Semantic configuration ``default``: title = ``title``, content = [``content``], no keywords fields. ``source_path``
was considered for keywords but it is a path (mount points, user folders, generated names), not the tags or category
terms keywords fields are meant for, and it would spend the ranker's keyword budget on noise. Semantic
configurations change in place, so keywords can be added later without a rebuild.
"""

from __future__ import annotations

from enum import StrEnum

from index_schemas.documents import ChunkLike, RecordLike
from index_schemas.params import SchemaParams
from index_schemas.types import (
    Compression,
    HnswAlgorithm,
    IndexDefinition,
    IndexField,
    OpenAIVectorizer,
    Rescoring,
    SemanticConfig,
    VectorProfile,
    VectorSearch,
)

VERSION = 1
ALGORITHM = "hnsw"
PROFILE = "default"
VECTORIZER = "aoai"
SEMANTIC_CONFIGURATION = "default"
ANALYZER = "standard.lucene"
HNSW = {"m": 4, "ef_construction": 400, "ef_search": 500, "metric": "cosine"}
# Rescoring reads the preserved full-precision vectors; oversampling 4 fetches 4x candidates before rescoring.
OVERSAMPLING = 4.0

_STRING = "Edm.String"
_INT32 = "Edm.Int32"
_STRINGS = "Collection(Edm.String)"
_SINGLES = "Collection(Edm.Single)"


class Field(StrEnum):
    """The field names of schema v1 (see the module docstring for what each holds)."""

    ID = "id"
    PARENT_ID = "parent_id"
    SOURCE_ID = "source_id"
    SOURCE_PATH = "source_path"
    TITLE = "title"
    CONTENT = "content"
    ORDINAL = "ordinal"
    PAGE_START = "page_start"
    PAGE_END = "page_end"
    START = "start"
    END = "end"
    GROUPS = "groups"
    CHUNK_HASH = "chunk_hash"
    DOCUMENT_HASH = "document_hash"
    FINGERPRINT = "fingerprint"
    CHUNK_COUNT = "chunk_count"
    LAST_INDEXED = "last_indexed"
    EMBEDDING = "embedding"


def build(params: SchemaParams) -> IndexDefinition:
    """The v1 index definition for ``params`` (name, dimensions, optional vectorizer and compression)."""
    return IndexDefinition(
        name=params.name,
        fields=_fields(params.dimensions),
        vector_search=_vector_search(params),
        semantic_configurations=(
            SemanticConfig(name=SEMANTIC_CONFIGURATION, title_field=Field.TITLE, content_fields=(Field.CONTENT,)),
        ),
        semantic_default=SEMANTIC_CONFIGURATION,
    )


def to_document(record: RecordLike, chunk: ChunkLike) -> dict[str, object]:
    """The v1 search document for one chunk of ``record``: field name -> Python value.

    ``embedding`` is the chunk's numpy vector and ``last_indexed`` is ``record.indexed_at`` (a datetime or None);
    JSON writers convert them (``.tolist()``, ISO 8601), the local store encodes them its own way.
    """
    return {
        Field.ID: chunk.key,
        Field.PARENT_ID: chunk.parent_key,
        Field.SOURCE_ID: record.source_id,
        Field.SOURCE_PATH: chunk.source_path,
        Field.TITLE: chunk.title,
        Field.CONTENT: chunk.content,
        Field.ORDINAL: chunk.ordinal,
        Field.PAGE_START: chunk.page_start,
        Field.PAGE_END: chunk.page_end,
        Field.START: chunk.start,
        Field.END: chunk.end,
        Field.GROUPS: list(chunk.groups),
        Field.CHUNK_HASH: chunk.chunk_hash,
        Field.DOCUMENT_HASH: record.content_version,
        Field.FINGERPRINT: record.fingerprint,
        Field.CHUNK_COUNT: record.chunk_count,
        Field.LAST_INDEXED: record.indexed_at,
        Field.EMBEDDING: chunk.vector,
    }


def _fields(dimensions: int) -> tuple[IndexField, ...]:
    return (
        IndexField(Field.ID, _STRING, key=True, filterable=True),
        IndexField(Field.PARENT_ID, _STRING, filterable=True),
        IndexField(Field.SOURCE_ID, _STRING, filterable=True),
        IndexField(Field.SOURCE_PATH, _STRING, filterable=True, facetable=True),
        IndexField(Field.TITLE, _STRING, searchable=True, analyzer=ANALYZER),
        IndexField(Field.CONTENT, _STRING, searchable=True, analyzer=ANALYZER),
        IndexField(Field.ORDINAL, _INT32, filterable=True, sortable=True),
        IndexField(Field.PAGE_START, _INT32, filterable=True, facetable=True),
        IndexField(Field.PAGE_END, _INT32, filterable=True, facetable=True),
        IndexField(Field.START, _INT32),
        IndexField(Field.END, _INT32),
        IndexField(Field.GROUPS, _STRINGS, filterable=True, retrievable=False),
        IndexField(Field.CHUNK_HASH, _STRING, filterable=True),
        IndexField(Field.DOCUMENT_HASH, _STRING, filterable=True),
        IndexField(Field.FINGERPRINT, _STRING, filterable=True),
        IndexField(Field.CHUNK_COUNT, _INT32),
        IndexField(Field.LAST_INDEXED, "Edm.DateTimeOffset", filterable=True, sortable=True),
        IndexField(
            Field.EMBEDDING,
            _SINGLES,
            searchable=True,
            stored=True,
            dimensions=dimensions,
            vector_profile=PROFILE,
        ),
    )


def _vector_search(params: SchemaParams) -> VectorSearch:
    vectorizers = _vectorizers(params)
    compressions = _compressions(params.compression)
    return VectorSearch(
        algorithms=(HnswAlgorithm(ALGORITHM, **HNSW),),  # type: ignore[arg-type]
        profiles=(
            VectorProfile(
                name=PROFILE,
                algorithm=ALGORITHM,
                vectorizer=VECTORIZER if vectorizers else None,
                compression=compressions[0].name if compressions else None,
            ),
        ),
        vectorizers=vectorizers,
        compressions=compressions,
    )


def _vectorizers(params: SchemaParams) -> tuple[OpenAIVectorizer, ...]:
    if params.vectorizer is None:
        return ()
    spec = params.vectorizer
    return (OpenAIVectorizer(VECTORIZER, spec.endpoint, spec.deployment, spec.model_name),)


def _compressions(kind: str | None) -> tuple[Compression, ...]:
    rescoring = Rescoring(enabled=True, oversampling=OVERSAMPLING, storage_method="preserveOriginals")
    if kind == "scalar":
        return (Compression("scalar-int8", "scalarQuantization", rescoring),)
    if kind == "binary":
        return (Compression("binary", "binaryQuantization", rescoring),)
    return ()
