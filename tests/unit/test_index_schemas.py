"""Schema v1: the fields, vector search and semantic configuration both backends rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.search.documents.indexes.models import SearchIndex

from index_schemas import (
    LATEST,
    TO_DOCUMENT,
    VERSIONS,
    IndexDefinition,
    SchemaError,
    SchemaParams,
    VectorizerParams,
    field_specs,
    physical_name,
    v1,
)
from index_schemas.types import definition_from_wire
from tests.contract.index_contract import make_document, vec

VECTORIZER = VectorizerParams("https://example.openai.azure.com", "embeddings", "text-embedding-3-small")


def build(**changes: object) -> IndexDefinition:
    params = {"name": "grounding-v1", "dimensions": 384, **changes}
    return v1.build(SchemaParams(**params))


def fields(index: IndexDefinition) -> dict[str, Any]:
    return {f.name: f for f in index.fields}


def test_registry_points_at_v3_and_keeps_v1() -> None:
    assert LATEST == 3
    assert VERSIONS[1] is v1.build
    assert TO_DOCUMENT[1] is v1.to_document


def test_field_names_and_types() -> None:
    types = {name: str(getattr(f.type, "value", f.type)) for name, f in fields(build()).items()}
    assert types == {
        "id": "Edm.String",
        "parent_id": "Edm.String",
        "source_id": "Edm.String",
        "source_path": "Edm.String",
        "title": "Edm.String",
        "content": "Edm.String",
        "ordinal": "Edm.Int32",
        "page_start": "Edm.Int32",
        "page_end": "Edm.Int32",
        "start": "Edm.Int32",
        "end": "Edm.Int32",
        "groups": "Collection(Edm.String)",
        "chunk_hash": "Edm.String",
        "document_hash": "Edm.String",
        "fingerprint": "Edm.String",
        "chunk_count": "Edm.Int32",
        "last_indexed": "Edm.DateTimeOffset",
        "embedding": "Collection(Edm.Single)",
    }
    assert set(types) == {str(name) for name in v1.Field}


def test_field_attributes() -> None:
    specs = {s.name: s for s in field_specs(build())}
    assert [name for name, s in specs.items() if s.key] == ["id"]
    assert {name for name, s in specs.items() if s.searchable} == {"title", "content", "embedding"}
    assert {name for name, s in specs.items() if s.filterable} == {
        "id", "parent_id", "source_id", "source_path", "ordinal", "page_start", "page_end", "groups", "chunk_hash",
        "document_hash", "fingerprint", "last_indexed",
    }  # fmt: skip
    assert {name for name, s in specs.items() if s.sortable} == {"ordinal", "last_indexed"}
    assert {name for name, s in specs.items() if s.facetable} == {"source_path", "page_start", "page_end"}
    content = specs["content"]
    assert not (content.filterable or content.sortable or content.facetable)
    assert specs["title"].analyzer == specs["content"].analyzer == "standard.lucene"
    assert specs["groups"].collection and not specs["groups"].retrievable


def test_vector_field_is_wired_to_the_profile() -> None:
    index = build(dimensions=768)
    embedding = fields(index)["embedding"]
    assert embedding.dimensions == 768
    assert embedding.stored is True and embedding.retrievable is True
    assert index.vector_search is not None
    (profile,) = index.vector_search.profiles
    assert embedding.vector_profile == profile.name
    (algorithm,) = index.vector_search.algorithms
    assert profile.algorithm == algorithm.name
    hnsw = algorithm
    assert (hnsw.m, hnsw.ef_construction, hnsw.ef_search, hnsw.metric) == (4, 400, 500, "cosine")
    assert profile.vectorizer is None and profile.compression is None
    assert not index.vector_search.vectorizers and not index.vector_search.compressions


def test_vectorizer_is_optional_and_carries_no_key() -> None:
    index = build(vectorizer=VECTORIZER)
    assert index.vector_search is not None
    (vectorizer,) = index.vector_search.vectorizers
    assert index.vector_search.profiles[0].vectorizer == vectorizer.name
    assert vectorizer.resource_url == VECTORIZER.endpoint
    assert vectorizer.deployment == "embeddings"
    assert vectorizer.model_name == "text-embedding-3-small"
    assert "apiKey" not in vectorizer.to_wire()["azureOpenAIParameters"]


@pytest.mark.parametrize(("kind", "wire_kind"), [("scalar", "scalarQuantization"), ("binary", "binaryQuantization")])
def test_compression_is_optional(kind: str, wire_kind: str) -> None:
    index = build(compression=kind)
    assert index.vector_search is not None
    (compression,) = index.vector_search.compressions
    assert index.vector_search.profiles[0].compression == compression.name
    wire = compression.to_wire()
    assert wire["kind"] == wire_kind
    assert wire["rescoringOptions"]["enableRescoring"] is True
    assert wire["rescoringOptions"]["rescoreStorageMethod"] == "preserveOriginals"


def test_semantic_configuration() -> None:
    index = build()
    (config,) = index.semantic_configurations
    assert index.semantic_default == config.name == "default"
    assert config.title_field == "title"
    assert list(config.content_fields) == ["content"]
    assert not config.keywords_fields


def test_definition_serializes_to_the_rest_shape() -> None:
    definition = build(vectorizer=VECTORIZER, compression="scalar")
    wire = definition.to_wire()
    text = json.dumps(wire)  # must be JSON-serializable as is
    assert wire["name"] == "grounding-v1"
    assert wire["semantic"]["configurations"][0]["prioritizedFields"]["titleField"] == {"fieldName": "title"}
    assert wire["vectorSearch"]["algorithms"][0]["hnswParameters"] == {
        "m": 4, "efConstruction": 400, "efSearch": 500, "metric": "cosine",
    }  # fmt: skip
    embedding = next(f for f in wire["fields"] if f["name"] == "embedding")
    assert (embedding["dimensions"], embedding["vectorSearchProfile"]) == (384, "default")
    assert "apiKey" not in text
    assert SearchIndex(wire).as_dict() == wire  # round-trips through the SDK model
    assert definition_from_wire(wire) == definition and definition_from_wire(wire).to_wire() == wire


def test_to_document_fills_every_field() -> None:
    record, chunks = make_document("/docs/a.txt", [("some text", vec(1, 2, 3, 4))])
    document = v1.to_document(record, chunks[0])
    assert set(document) == {str(name) for name in v1.Field}
    assert document["id"] == chunks[0].key and document["parent_id"] == record.key
    assert document["document_hash"] == record.content_version and document["chunk_count"] == 1
    assert document["groups"] == ["staff"] and document["last_indexed"] == record.indexed_at


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Grounding"},
        {"name": "g"},
        {"name": "a--b"},
        {"dimensions": 0},
        {"dimensions": 4097},
        {"compression": "zstd"},
    ],
)
def test_invalid_params_are_schema_errors(changes: dict[str, object]) -> None:
    with pytest.raises(SchemaError):
        build(**changes)


def test_vectorizer_params_must_not_be_empty() -> None:
    with pytest.raises(SchemaError, match="deployment"):
        VectorizerParams("https://example.openai.azure.com", " ", "text-embedding-3-small")


def test_physical_name() -> None:
    assert physical_name("grounding", 1) == "grounding-v1"
    with pytest.raises(SchemaError):
        physical_name("grounding", 99)
    with pytest.raises(SchemaError):
        physical_name("Grounding", 1)
