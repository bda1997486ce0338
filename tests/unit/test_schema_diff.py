"""index_schemas.diff: every kind of change to an index definition, classified IN PLACE or REBUILD (table tests);
and the registry, schema v2 and physical index names the versions live under."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from azure.search.documents.indexes.models import SearchIndex

import index_schemas
from index_schemas import SchemaParams, VectorizerParams, v1, v2
from index_schemas.diff import IN_PLACE, REBUILD, ChangeKind, SchemaDiff, diff_indexes, normalize
from tests.contract.index_contract import make_document, vec

Wire = dict[str, Any]
VECTORIZER = VectorizerParams("https://example.openai.azure.com", "embeddings", "text-embedding-3-small")


def base(**params: Any) -> Wire:
    return v1.build(SchemaParams(name="grounding-v1", dimensions=384, **params)).to_wire()


def field(wire: Wire, name: str) -> Wire:
    return next(f for f in wire["fields"] if f["name"] == name)


def vector(wire: Wire) -> Wire:
    return wire["vectorSearch"]


def summary(diff: SchemaDiff) -> list[tuple[str, str, str]]:
    return [(c.path, str(c.kind), c.what) for c in diff.changes]


def set_in(path: str, value: Any) -> Callable[[Wire], None]:
    """A mutation that sets ``fields.<name>.<attribute>`` or a top-level key."""
    parts = path.split(".")

    def mutate(wire: Wire) -> None:
        if parts[0] == "fields":
            field(wire, parts[1])[parts[2]] = value
        else:
            wire[parts[0]] = value

    return mutate


def add_field(wire: Wire) -> None:
    wire["fields"].append({"name": "language", "type": "Edm.String", "filterable": True, "facetable": True})


def add_vector_field(wire: Wire) -> None:
    wire["fields"].append({"name": "title_vector", "type": "Collection(Edm.Single)", "searchable": True,
                           "dimensions": 384, "vectorSearchProfile": "default"})  # fmt: skip


def remove_field(wire: Wire) -> None:
    wire["fields"] = [f for f in wire["fields"] if f["name"] != "chunk_count"]


def rename_field(wire: Wire) -> None:
    field(wire, "chunk_count")["name"] = "chunks_in_document"


def add_scoring_profile(wire: Wire) -> None:
    wire["scoringProfiles"] = [{"name": "recent", "text": {"weights": {"title": 3.0}}}]


def add_semantic_configuration(wire: Wire) -> None:
    wire["semantic"]["configurations"].append(
        {"name": "content-only", "prioritizedFields": {"prioritizedContentFields": [{"fieldName": "content"}]}}
    )


def add_keywords_to_semantic(wire: Wire) -> None:
    prioritized = wire["semantic"]["configurations"][0]["prioritizedFields"]
    prioritized["prioritizedKeywordsFields"] = [{"fieldName": "source_path"}]


def remove_semantic(wire: Wire) -> None:
    del wire["semantic"]


def add_algorithm(wire: Wire) -> None:
    vector(wire)["algorithms"].append({"name": "eknn", "kind": "exhaustiveKnn",
                                       "exhaustiveKnnParameters": {"metric": "cosine"}})  # fmt: skip


def add_profile(wire: Wire) -> None:
    vector(wire)["profiles"].append({"name": "exact", "algorithm": "hnsw"})


def back_to_hnsw(wire: Wire) -> None:
    """The base was changed to exhaustive KNN (``with_exhaustive``); the new side is HNSW again, under the same name."""
    vector(wire)["algorithms"] = vector(base())["algorithms"]


def hnsw_parameter(name: str, value: Any) -> Callable[[Wire], None]:
    def mutate(wire: Wire) -> None:
        vector(wire)["algorithms"][0]["hnswParameters"][name] = value

    return mutate


def profile_attribute(name: str, value: Any) -> Callable[[Wire], None]:
    def mutate(wire: Wire) -> None:
        vector(wire)["profiles"][0][name] = value

    return mutate


def rescoring(name: str, value: Any) -> Callable[[Wire], None]:
    def mutate(wire: Wire) -> None:
        vector(wire)["compressions"][0]["rescoringOptions"][name] = value

    return mutate


def quantized_type(wire: Wire) -> None:
    vector(wire)["compressions"][0]["scalarQuantizationParameters"]["quantizedDataType"] = "int4"


def remove_compression(wire: Wire) -> None:
    del vector(wire)["compressions"]
    vector(wire)["profiles"][0].pop("compression")


def add_compression(wire: Wire) -> None:
    vector(wire)["compressions"].append({"name": "bq", "kind": "binaryQuantization"})


def add_vectorizer(wire: Wire) -> None:
    with_vectorizer = base(vectorizer=VECTORIZER)
    vector(wire)["vectorizers"] = vector(with_vectorizer)["vectorizers"]
    vector(wire)["profiles"][0]["vectorizer"] = "aoai"


def add_suggester(wire: Wire) -> None:
    wire["suggesters"] = [{"name": "sg", "sourceFields": ["title"], "searchMode": "analyzingInfixMatching"}]


def add_analyzer(wire: Wire) -> None:
    wire["analyzers"] = [{"name": "folding", "tokenizer": "standard_v2", "tokenFilters": ["asciifolding"],
                          "@odata.type": "#Microsoft.Azure.Search.CustomAnalyzer"}]  # fmt: skip


def set_similarity(wire: Wire) -> None:
    wire["similarity"] = {"k1": 1.3, "b": 0.7, "@odata.type": "#Microsoft.Azure.Search.BM25Similarity"}


def with_exhaustive(wire: Wire) -> None:
    vector(wire)["algorithms"] = [
        {"name": "hnsw", "kind": "exhaustiveKnn", "exhaustiveKnnParameters": {"metric": "cosine"}}
    ]


Case = tuple[Callable[[Wire], None] | None, Callable[[Wire], None], list[tuple[str, ChangeKind, str]]]
CASES: dict[str, Case] = {
    # ---- IN PLACE ----------------------------------------------------------------------------------------------
    "add a field": (None, add_field, [("fields.language", IN_PLACE, "added")]),
    "add a vector field": (None, add_vector_field, [("fields.title_vector", IN_PLACE, "added")]),
    "retrievable flip": (
        None,
        set_in("fields.groups.retrievable", True),
        [("fields.groups.retrievable", IN_PLACE, "changed")],
    ),
    "searchAnalyzer": (
        None,
        set_in("fields.title.searchAnalyzer", "en.lucene"),
        [("fields.title.searchAnalyzer", IN_PLACE, "changed")],
    ),
    "synonym maps": (
        None,
        set_in("fields.content.synonymMaps", ["terms"]),
        [("fields.content.synonymMaps", IN_PLACE, "changed")],
    ),
    "scoring profile": (None, add_scoring_profile, [("scoringProfiles.recent", IN_PLACE, "added")]),
    "default scoring profile": (
        add_scoring_profile,
        set_in("defaultScoringProfile", "recent"),
        [("defaultScoringProfile", IN_PLACE, "added")],
    ),
    "scoring profile removed": (
        add_scoring_profile,
        set_in("scoringProfiles", []),
        [("scoringProfiles.recent", IN_PLACE, "removed")],
    ),
    "semantic configuration": (
        None,
        add_semantic_configuration,
        [("semantic.configurations.content-only", IN_PLACE, "added")],
    ),
    "semantic keywords": (
        None,
        add_keywords_to_semantic,
        [("semantic.configurations.default.prioritizedFields.prioritizedKeywordsFields", IN_PLACE, "changed")],
    ),
    "semantic removed": (
        None,
        remove_semantic,
        [
            ("semantic.configurations.default", IN_PLACE, "removed"),
            ("semantic.defaultConfiguration", IN_PLACE, "removed"),
        ],
    ),
    "CORS": (
        None,
        set_in("corsOptions", {"allowedOrigins": ["https://intranet"], "maxAgeInSeconds": 300}),
        [("corsOptions", IN_PLACE, "added")],
    ),
    "description": (None, set_in("description", "chunks of policy documents"), [("description", IN_PLACE, "added")]),
    "vectorizer": (
        None,
        add_vectorizer,
        [
            ("vectorSearch.profiles.default.vectorizer", IN_PLACE, "changed"),
            ("vectorSearch.vectorizers.aoai", IN_PLACE, "added"),
        ],
    ),
    "efSearch": (
        None,
        hnsw_parameter("efSearch", 800),
        [("vectorSearch.algorithms.hnsw.hnswParameters.efSearch", IN_PLACE, "changed")],
    ),
    "new algorithm": (None, add_algorithm, [("vectorSearch.algorithms.eknn", IN_PLACE, "added")]),
    "new profile": (None, add_profile, [("vectorSearch.profiles.exact", IN_PLACE, "added")]),
    "new compression": (None, add_compression, [("vectorSearch.compressions.bq", IN_PLACE, "added")]),
    "oversampling": (
        None,
        rescoring("defaultOversampling", 8.0),
        [("vectorSearch.compressions.scalar-int8.rescoringOptions.defaultOversampling", IN_PLACE, "changed")],
    ),
    # ---- REBUILD -----------------------------------------------------------------------------------------------
    "remove a field": (None, remove_field, [("fields.chunk_count", REBUILD, "removed")]),
    "rename a field": (None, rename_field, [("fields.chunk_count", REBUILD, "renamed")]),
    "retype a field": (None, set_in("fields.ordinal.type", "Edm.Int64"), [("fields.ordinal.type", REBUILD, "changed")]),
    "searchable flip": (
        None,
        set_in("fields.source_path.searchable", True),
        [("fields.source_path.searchable", REBUILD, "changed")],
    ),
    "filterable flip": (
        None,
        set_in("fields.chunk_count.filterable", True),
        [("fields.chunk_count.filterable", REBUILD, "changed")],
    ),
    "sortable flip": (
        None,
        set_in("fields.page_start.sortable", True),
        [("fields.page_start.sortable", REBUILD, "changed")],
    ),
    "facetable flip": (
        None,
        set_in("fields.source_path.facetable", False),
        [("fields.source_path.facetable", REBUILD, "changed")],
    ),
    "key moves": (None, set_in("fields.chunk_hash.key", True), [("fields.chunk_hash.key", REBUILD, "changed")]),
    "analyzer": (
        None,
        set_in("fields.content.analyzer", "en.microsoft"),
        [("fields.content.analyzer", REBUILD, "changed")],
    ),
    "normalizer": (
        None,
        set_in("fields.source_path.normalizer", "lowercase"),
        [("fields.source_path.normalizer", REBUILD, "changed")],
    ),
    "stored flip": (None, set_in("fields.embedding.stored", False), [("fields.embedding.stored", REBUILD, "changed")]),
    "vector dimensions": (
        None,
        set_in("fields.embedding.dimensions", 256),
        [("fields.embedding.dimensions", REBUILD, "changed")],
    ),
    "field's vector profile": (
        add_profile,
        set_in("fields.embedding.vectorSearchProfile", "exact"),
        [("fields.embedding.vectorSearchProfile", REBUILD, "changed")],
    ),
    "exhaustive -> HNSW": (
        with_exhaustive,
        back_to_hnsw,
        [
            ("vectorSearch.algorithms.hnsw.exhaustiveKnnParameters.metric", REBUILD, "changed"),
            ("vectorSearch.algorithms.hnsw.hnswParameters.efConstruction", REBUILD, "changed"),
            ("vectorSearch.algorithms.hnsw.hnswParameters.efSearch", IN_PLACE, "changed"),
            ("vectorSearch.algorithms.hnsw.hnswParameters.m", REBUILD, "changed"),
            ("vectorSearch.algorithms.hnsw.hnswParameters.metric", REBUILD, "changed"),
            ("vectorSearch.algorithms.hnsw.kind", REBUILD, "changed"),
        ],
    ),
    "metric": (
        None,
        hnsw_parameter("metric", "dotProduct"),
        [("vectorSearch.algorithms.hnsw.hnswParameters.metric", REBUILD, "changed")],
    ),
    "HNSW m": (None, hnsw_parameter("m", 8), [("vectorSearch.algorithms.hnsw.hnswParameters.m", REBUILD, "changed")]),
    "efConstruction": (
        None,
        hnsw_parameter("efConstruction", 600),
        [("vectorSearch.algorithms.hnsw.hnswParameters.efConstruction", REBUILD, "changed")],
    ),
    "profile's algorithm": (
        add_algorithm,
        profile_attribute("algorithm", "eknn"),
        [("vectorSearch.profiles.default.algorithm", REBUILD, "changed")],
    ),
    "remove an algorithm": (
        add_algorithm,
        lambda w: vector(w)["algorithms"].pop(),
        [("vectorSearch.algorithms.eknn", REBUILD, "removed")],
    ),
    "compression parameters": (
        None,
        quantized_type,
        [("vectorSearch.compressions.scalar-int8.scalarQuantizationParameters.quantizedDataType", REBUILD, "changed")],
    ),
    "rescore storage": (
        None,
        rescoring("rescoreStorageMethod", "discardOriginals"),
        [("vectorSearch.compressions.scalar-int8.rescoringOptions.rescoreStorageMethod", REBUILD, "changed")],
    ),
    "remove compression": (
        None,
        remove_compression,
        [
            ("vectorSearch.compressions.scalar-int8", REBUILD, "removed"),
            ("vectorSearch.profiles.default.compression", REBUILD, "changed"),
        ],
    ),
    "suggester": (None, add_suggester, [("suggesters.sg", REBUILD, "added")]),
    "custom analyzer": (None, add_analyzer, [("analyzers.folding", REBUILD, "added")]),
    "similarity": (None, set_similarity, [("similarity", REBUILD, "added")]),
    "unknown setting": (None, set_in("futureFeature", {"enabled": True}), [("futureFeature", REBUILD, "added")]),
}


@pytest.mark.parametrize("name", CASES)
def test_every_change_is_classified(name: str) -> None:
    prepare, mutate, expected = CASES[name]
    old = base(compression="scalar")
    if prepare is not None:
        prepare(old)
    new = copy.deepcopy(old)
    mutate(new)
    diff = diff_indexes(old, new)
    assert summary(diff) == [(path, str(kind), what) for path, kind, what in expected]
    kinds = {kind for _, kind, _ in expected}
    assert diff.kind is (REBUILD if REBUILD in kinds else IN_PLACE)
    assert bool(diff.rebuild) is (REBUILD in kinds)
    json.dumps(diff.as_dict())  # JSON output of `schema diff --json`


def test_v1_to_v2_is_in_place() -> None:
    old = v1.build(SchemaParams(name="grounding-v1", dimensions=384))
    new = v2.build(SchemaParams(name="grounding-v2", dimensions=384))
    diff = diff_indexes(old, new)
    assert summary(diff) == [
        ("fields.file_type", "in place", "added"),
        ("scoringProfiles.title-boost", "in place", "added"),
    ]
    assert diff.kind is IN_PLACE and diff.rebuild == ()


def test_changing_dimensions_between_versions_is_a_rebuild() -> None:
    diff = diff_indexes(v2.build(SchemaParams("grounding-v2", 384)), v2.build(SchemaParams("grounding-v2", 256)))
    assert summary(diff) == [("fields.embedding.dimensions", "rebuild", "changed")]
    assert (diff.changes[0].before, diff.changes[0].after) == (384, 256)


def test_equal_definitions_have_no_changes_whatever_their_names() -> None:
    a = v2.build(SchemaParams("grounding-v2", 384, vectorizer=VECTORIZER, compression="binary"))
    b = v2.build(SchemaParams("other-v9", 384, vectorizer=VECTORIZER, compression="binary"))
    diff = diff_indexes(a, b)
    assert not diff and diff.kind is None and diff.as_dict() == {"kind": None, "changes": []}


def test_a_definition_read_back_from_the_service_equals_the_one_built_in_code() -> None:
    """The service returns every attribute explicitly, nulls and empty lists included, plus an ETag."""
    built = v1.build(SchemaParams("grounding-v1", 384))
    served = built.to_wire()
    served["@odata.etag"] = '"0x8DC"'
    served["scoringProfiles"], served["suggesters"], served["analyzers"], served["corsOptions"] = [], [], [], None
    for spec in served["fields"]:
        spec.update({"synonymMaps": [], "searchAnalyzer": None, "indexAnalyzer": None, "normalizer": None})
        spec.setdefault("stored", True)
        spec.setdefault("analyzer", None)
    served["fields"].reverse()  # order is not part of the comparison
    served["vectorSearch"]["vectorizers"] = []
    assert not diff_indexes(built, SearchIndex(served))


def test_attributes_left_out_take_the_service_defaults() -> None:
    explicit = {"fields": [{"name": "id", "type": "Edm.String", "key": True, "searchable": True, "filterable": True,
                            "sortable": True, "facetable": True, "retrievable": True, "stored": True}]}  # fmt: skip
    implicit = {"fields": [{"name": "id", "type": "Edm.String", "key": True}]}
    assert not diff_indexes(explicit, implicit)
    assert normalize(implicit)["fields"][0]["sortable"] is True
    tags = {"fields": [{"name": "tags", "type": "Collection(Edm.String)"}]}
    assert normalize(tags)["fields"][0]["sortable"] is False


def test_complex_sub_fields_follow_the_field_rules() -> None:
    def address(*subfields: Wire) -> Wire:
        return {"fields": [{"name": "address", "type": "Edm.ComplexType", "fields": list(subfields)}]}

    city = {"name": "city", "type": "Edm.String", "filterable": True}
    zip_code = {"name": "zip", "type": "Edm.String"}
    assert summary(diff_indexes(address(city), address(city, zip_code))) == [
        ("fields.address.fields.zip", "in place", "added")
    ]
    assert summary(diff_indexes(address(city, zip_code), address(city))) == [
        ("fields.address.fields.zip", "rebuild", "removed")
    ]
    assert summary(diff_indexes(address(city), address({**city, "filterable": False}))) == [
        ("fields.address.fields.city.filterable", "rebuild", "changed")
    ]


def test_rename_is_only_detected_for_identical_attributes() -> None:
    old = base()
    new = copy.deepcopy(old)
    field(new, "chunk_count")["name"] = "chunks_in_document"
    field(new, "chunks_in_document")["filterable"] = True
    assert summary(diff_indexes(old, new)) == [
        ("fields.chunk_count", "rebuild", "removed"),
        ("fields.chunks_in_document", "in place", "added"),
    ]
    stop = copy.deepcopy(old)
    field(stop, "end")["name"] = "stop"
    (change,) = diff_indexes(old, stop).changes
    assert (change.before, change.after) == ("end", "stop")
    assert change.describe() == "fields.end: renamed to 'stop' (rebuild)"


def test_descriptions_name_the_change() -> None:
    old = base()
    new = copy.deepcopy(old)
    field(new, "embedding")["dimensions"] = 256
    (change,) = diff_indexes(old, new).changes
    assert change.describe() == "fields.embedding.dimensions: 384 -> 256 (rebuild)"
    assert change.as_dict() == {
        "path": "fields.embedding.dimensions", "kind": "rebuild", "what": "changed", "before": 384, "after": 256,
    }  # fmt: skip


# ---- the registry, v2 and physical names ---------------------------------------------------------------------------


def test_registry_holds_v1_v2_v3_and_latest_is_released() -> None:
    assert sorted(index_schemas.VERSIONS) == sorted(index_schemas.TO_DOCUMENT) == [1, 2, 3]
    assert index_schemas.VERSIONS[2] is v2.build and index_schemas.TO_DOCUMENT[2] is v2.to_document
    assert index_schemas.LATEST in index_schemas.VERSIONS


def test_v2_adds_a_file_type_facet_and_a_title_boost_profile() -> None:
    index = v2.build(SchemaParams("grounding-v2", 384))
    specs = {s.name: s for s in index_schemas.field_specs(index)}
    assert list(specs)[:5] == ["id", "parent_id", "source_id", "source_path", "file_type"]
    file_type = specs["file_type"]
    assert (file_type.type, file_type.filterable, file_type.facetable, file_type.searchable) == (
        "Edm.String", True, True, False,
    )  # fmt: skip
    (profile,) = index.scoring_profiles
    assert profile.to_wire() == {"name": "title-boost", "text": {"weights": {"title": 2.0}}}
    assert "defaultScoringProfile" not in index.to_wire()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/docs/Report.PDF", "pdf"),
        ("container/folder/slides.pptx", "pptx"),
        ("/docs/archive.tar.gz", "gz"),
        ("/docs/README", None),
        ("/docs/.profile", None),
        ("/docs/trailing.", None),
        ("/docs/notes.final-draft-of-2024", None),
    ],
)
def test_file_type(path: str, expected: str | None) -> None:
    assert v2.file_type(path) == expected


def test_v2_documents_carry_the_file_type() -> None:
    record, chunks = make_document("/docs/a.txt", [("some text", vec(1, 2, 3, 4))])
    document = v2.to_document(record, chunks[0])
    assert document == {**v1.to_document(record, chunks[0]), "file_type": "txt"}


@pytest.mark.parametrize(
    ("version", "rebuild", "name"),
    [(1, 1, "grounding-v1"), (2, 1, "grounding-v2"), (2, 2, "grounding-v2-r2"), (1, 12, "grounding-v1-r12")],
)
def test_physical_names_round_trip(version: int, rebuild: int, name: str) -> None:
    assert index_schemas.physical_name("grounding", version, rebuild=rebuild) == name
    assert index_schemas.parse_physical_name("grounding", name) == (version, rebuild)


@pytest.mark.parametrize(
    "name", ["grounding", "grounding-v0", "grounding-v01", "grounding-v1-r1", "grounding-v1-r", "grounding2-v1", "x-v1"]
)
def test_other_names_are_not_physical_names_of_the_alias(name: str) -> None:
    assert index_schemas.parse_physical_name("grounding", name) is None
