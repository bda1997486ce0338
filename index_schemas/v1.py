"""Index schema version 1: one search document per chunk.

Pure definition: ``build(params)`` returns an azure-search-documents ``SearchIndex`` and talks to nothing. The field
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

from azure.search.documents.indexes.models import (
    AzureOpenAIVectorizer,
    AzureOpenAIVectorizerParameters,
    BinaryQuantizationCompression,
    HnswAlgorithmConfiguration,
    HnswParameters,
    LexicalAnalyzerName,
    RescoringOptions,
    ScalarQuantizationCompression,
    ScalarQuantizationParameters,
    SearchableField,
    SearchField,
    SearchFieldDataType,
    SearchIndex,
    SemanticConfiguration,
    SemanticField,
    SemanticPrioritizedFields,
    SemanticSearch,
    SimpleField,
    VectorSearch,
    VectorSearchCompression,
    VectorSearchProfile,
    VectorSearchVectorizer,
)

from index_schemas.params import SchemaParams
from ingestion.models import DocumentRecord, IndexChunk

VERSION = 1
ALGORITHM = "hnsw"
PROFILE = "default"
VECTORIZER = "aoai"
SEMANTIC_CONFIGURATION = "default"
ANALYZER = LexicalAnalyzerName.STANDARD_LUCENE
HNSW = {"m": 4, "ef_construction": 400, "ef_search": 500, "metric": "cosine"}
# Rescoring reads the preserved full-precision vectors; oversampling 4 fetches 4x candidates before rescoring.
OVERSAMPLING = 4.0

_STRING = SearchFieldDataType.STRING
_INT32 = SearchFieldDataType.INT32
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


def build(params: SchemaParams) -> SearchIndex:
    """The v1 index definition for ``params`` (name, dimensions, optional vectorizer and compression)."""
    return SearchIndex(
        name=params.name,
        fields=_fields(params.dimensions),
        vector_search=_vector_search(params),
        semantic_search=SemanticSearch(
            default_configuration_name=SEMANTIC_CONFIGURATION,
            configurations=[
                SemanticConfiguration(
                    name=SEMANTIC_CONFIGURATION,
                    prioritized_fields=SemanticPrioritizedFields(
                        title_field=SemanticField(field_name=Field.TITLE),
                        content_fields=[SemanticField(field_name=Field.CONTENT)],
                    ),
                )
            ],
        ),
    )


def to_document(record: DocumentRecord, chunk: IndexChunk) -> dict[str, object]:
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
        Field.DOCUMENT_HASH: record.content_hash,
        Field.FINGERPRINT: record.fingerprint,
        Field.CHUNK_COUNT: record.chunk_count,
        Field.LAST_INDEXED: record.indexed_at,
        Field.EMBEDDING: chunk.vector,
    }


def _fields(dimensions: int) -> list[SearchField]:
    return [
        SimpleField(name=Field.ID, type=_STRING, key=True, filterable=True),
        SimpleField(name=Field.PARENT_ID, type=_STRING, filterable=True),
        SimpleField(name=Field.SOURCE_ID, type=_STRING, filterable=True),
        SimpleField(name=Field.SOURCE_PATH, type=_STRING, filterable=True, facetable=True),
        SearchableField(name=Field.TITLE, analyzer_name=ANALYZER),
        SearchableField(name=Field.CONTENT, analyzer_name=ANALYZER),
        SimpleField(name=Field.ORDINAL, type=_INT32, filterable=True, sortable=True),
        SimpleField(name=Field.PAGE_START, type=_INT32, filterable=True, facetable=True),
        SimpleField(name=Field.PAGE_END, type=_INT32, filterable=True, facetable=True),
        SimpleField(name=Field.START, type=_INT32),
        SimpleField(name=Field.END, type=_INT32),
        SimpleField(name=Field.GROUPS, type=_STRINGS, filterable=True, hidden=True),
        SimpleField(name=Field.CHUNK_HASH, type=_STRING, filterable=True),
        SimpleField(name=Field.DOCUMENT_HASH, type=_STRING, filterable=True),
        SimpleField(name=Field.FINGERPRINT, type=_STRING, filterable=True),
        SimpleField(name=Field.CHUNK_COUNT, type=_INT32),
        SimpleField(name=Field.LAST_INDEXED, type=SearchFieldDataType.DATE_TIME_OFFSET, filterable=True, sortable=True),
        SearchField(
            name=Field.EMBEDDING,
            type=_SINGLES,
            searchable=True,
            filterable=False,
            sortable=False,
            facetable=False,
            retrievable=True,
            stored=True,
            vector_search_dimensions=dimensions,
            vector_search_profile_name=PROFILE,
        ),
    ]


def _vector_search(params: SchemaParams) -> VectorSearch:
    vectorizers = _vectorizers(params)
    compressions = _compressions(params.compression)
    return VectorSearch(
        algorithms=[HnswAlgorithmConfiguration(name=ALGORITHM, parameters=HnswParameters(**HNSW))],
        profiles=[
            VectorSearchProfile(
                name=PROFILE,
                algorithm_configuration_name=ALGORITHM,
                vectorizer_name=VECTORIZER if vectorizers else None,
                compression_name=compressions[0].compression_name if compressions else None,
            )
        ],
        vectorizers=vectorizers or None,
        compressions=compressions or None,
    )


def _vectorizers(params: SchemaParams) -> list[VectorSearchVectorizer]:
    if params.vectorizer is None:
        return []
    spec = params.vectorizer
    return [
        AzureOpenAIVectorizer(
            vectorizer_name=VECTORIZER,
            parameters=AzureOpenAIVectorizerParameters(
                resource_url=spec.endpoint, deployment_name=spec.deployment, model_name=spec.model_name
            ),
        )
    ]


def _compressions(kind: str | None) -> list[VectorSearchCompression]:
    rescoring = RescoringOptions(
        enable_rescoring=True, default_oversampling=OVERSAMPLING, rescore_storage_method="preserveOriginals"
    )
    if kind == "scalar":
        return [
            ScalarQuantizationCompression(
                compression_name="scalar-int8",
                parameters=ScalarQuantizationParameters(quantized_data_type="int8"),
                rescoring_options=rescoring,
            )
        ]
    if kind == "binary":
        return [BinaryQuantizationCompression(compression_name="binary", rescoring_options=rescoring)]
    return []
