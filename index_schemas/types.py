"""The index definition as this project's own small frozen types: fields, vector search, semantic and scoring settings.

No SDK here: a definition converts to and from its REST shape (``to_wire`` / ``definition_from_wire``, the JSON
Azure AI Search documents for ``PUT /indexes``), and each backend converts at its own edge (the Azure backend builds
the SDK's ``SearchIndex`` from the wire shape; the local store derives its tables from the fields). Anything a served
definition holds that these types do not model (CORS, suggesters, another algorithm kind...) is kept, as wire JSON,
in the ``extra`` of the object it belongs to, so reading a definition back and writing it again loses nothing and
``index_schemas.diff`` still sees every difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

VECTOR_TYPE = "Collection(Edm.Single)"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _rest(wire: Mapping[str, Any], known: tuple[str, ...]) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in wire.items() if k not in known})


def _some(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class IndexField:
    """One top-level field. ``type`` is the full EDM type (``Collection(Edm.Single)`` for a vector)."""

    name: str
    type: str
    key: bool = False
    searchable: bool = False
    filterable: bool = False
    sortable: bool = False
    facetable: bool = False
    retrievable: bool = True
    stored: bool | None = None
    dimensions: int | None = None
    vector_profile: str | None = None
    analyzer: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    _WIRE = ("name", "type", "key", "searchable", "filterable", "sortable", "facetable", "retrievable", "stored",
             "dimensions", "vectorSearchProfile", "analyzer")  # fmt: skip

    def to_wire(self) -> dict[str, Any]:
        flags = {
            "key": self.key,
            "searchable": self.searchable,
            "filterable": self.filterable,
            "facetable": self.facetable,
            "sortable": self.sortable,
            "retrievable": self.retrievable,
        }
        optional = _some(stored=self.stored, dimensions=self.dimensions, analyzer=self.analyzer)
        if self.vector_profile is not None:
            optional["vectorSearchProfile"] = self.vector_profile
        return {"name": self.name, "type": self.type, **flags, **optional, **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> IndexField:
        return cls(
            name=str(wire["name"]),
            type=str(wire["type"]),
            key=bool(wire.get("key")),
            searchable=bool(wire.get("searchable")),
            filterable=bool(wire.get("filterable")),
            sortable=bool(wire.get("sortable")),
            facetable=bool(wire.get("facetable")),
            retrievable=wire.get("retrievable") is not False,
            stored=wire.get("stored"),
            dimensions=wire.get("dimensions"),
            vector_profile=wire.get("vectorSearchProfile"),
            analyzer=wire.get("analyzer"),
            extra=_rest(wire, cls._WIRE),
        )


@dataclass(frozen=True)
class HnswAlgorithm:
    """An HNSW vector algorithm; an algorithm of another kind read from a service keeps its JSON in ``extra``."""

    name: str
    m: int = 4
    ef_construction: int = 400
    ef_search: int = 500
    metric: str = "cosine"
    kind: str = "hnsw"
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        if self.kind != "hnsw":
            return {"name": self.name, "kind": self.kind, **self.extra}
        parameters = {"m": self.m, "efConstruction": self.ef_construction, "efSearch": self.ef_search}
        hnsw = {**parameters, "metric": self.metric}
        return {"name": self.name, "hnswParameters": hnsw, "kind": "hnsw", **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> HnswAlgorithm:
        kind = str(wire.get("kind") or "hnsw")
        if kind != "hnsw" or not isinstance(wire.get("hnswParameters"), Mapping):
            return cls(name=str(wire["name"]), kind=kind, extra=_rest(wire, ("name", "kind")))
        params = wire["hnswParameters"]
        return cls(
            name=str(wire["name"]),
            m=params.get("m", 4),
            ef_construction=params.get("efConstruction", 400),
            ef_search=params.get("efSearch", 500),
            metric=params.get("metric", "cosine"),
            extra=_rest(wire, ("name", "kind", "hnswParameters")),
        )


@dataclass(frozen=True)
class VectorProfile:
    name: str
    algorithm: str
    vectorizer: str | None = None
    compression: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        names = _some(vectorizer=self.vectorizer, compression=self.compression)
        return {"name": self.name, "algorithm": self.algorithm, **names, **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> VectorProfile:
        return cls(
            name=str(wire["name"]),
            algorithm=str(wire.get("algorithm")),
            vectorizer=wire.get("vectorizer"),
            compression=wire.get("compression"),
            extra=_rest(wire, ("name", "algorithm", "vectorizer", "compression")),
        )


@dataclass(frozen=True)
class OpenAIVectorizer:
    """The Azure OpenAI deployment the service calls to embed text queries (kind ``azureOpenAI``)."""

    name: str
    resource_url: str
    deployment: str
    model_name: str
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        parameters = {"resourceUri": self.resource_url, "deploymentId": self.deployment, "modelName": self.model_name}
        return {"name": self.name, "azureOpenAIParameters": parameters, "kind": "azureOpenAI", **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> OpenAIVectorizer:
        params = wire.get("azureOpenAIParameters") or {}
        return cls(
            name=str(wire["name"]),
            resource_url=str(params.get("resourceUri", "")),
            deployment=str(params.get("deploymentId", "")),
            model_name=str(params.get("modelName", "")),
            extra=_rest(wire, ("name", "azureOpenAIParameters", "kind")),
        )


@dataclass(frozen=True)
class Rescoring:
    enabled: bool = True
    oversampling: float = 4.0
    storage_method: str = "preserveOriginals"

    def to_wire(self) -> dict[str, Any]:
        return {
            "enableRescoring": self.enabled,
            "defaultOversampling": self.oversampling,
            "rescoreStorageMethod": self.storage_method,
        }


@dataclass(frozen=True)
class Compression:
    """Vector compression: ``kind`` is ``scalarQuantization`` (int8) or ``binaryQuantization``."""

    name: str
    kind: str
    rescoring: Rescoring | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name}
        if self.kind == "scalarQuantization" and "scalarQuantizationParameters" not in self.extra:
            body["scalarQuantizationParameters"] = {"quantizedDataType": "int8"}
        if self.rescoring is not None:
            body["rescoringOptions"] = self.rescoring.to_wire()
        return {**body, "kind": self.kind, **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Compression:
        options = wire.get("rescoringOptions")
        known = ("name", "kind", "rescoringOptions") if _is_rescoring(options) else ("name", "kind")
        rescoring = None
        if _is_rescoring(options):
            rescoring = Rescoring(
                options["enableRescoring"], options["defaultOversampling"], options["rescoreStorageMethod"]
            )
        return cls(name=str(wire["name"]), kind=str(wire.get("kind")), rescoring=rescoring, extra=_rest(wire, known))


def _is_rescoring(options: Any) -> bool:
    wanted = {"enableRescoring", "defaultOversampling", "rescoreStorageMethod"}
    return isinstance(options, Mapping) and set(options) == wanted


@dataclass(frozen=True)
class VectorSearch:
    algorithms: tuple[HnswAlgorithm, ...] = ()
    profiles: tuple[VectorProfile, ...] = ()
    vectorizers: tuple[OpenAIVectorizer, ...] = ()
    compressions: tuple[Compression, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        parts = {
            "algorithms": [a.to_wire() for a in self.algorithms],
            "profiles": [p.to_wire() for p in self.profiles],
            "vectorizers": [v.to_wire() for v in self.vectorizers],
            "compressions": [c.to_wire() for c in self.compressions],
        }
        return {**{k: v for k, v in parts.items() if v}, **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> VectorSearch:
        vectorizers = wire.get("vectorizers") or []
        if any(v.get("kind") != "azureOpenAI" for v in vectorizers):  # a kind we do not model: keep it as JSON
            return cls(extra=MappingProxyType(dict(wire)))
        return cls(
            algorithms=tuple(HnswAlgorithm.from_wire(a) for a in wire.get("algorithms") or []),
            profiles=tuple(VectorProfile.from_wire(p) for p in wire.get("profiles") or []),
            vectorizers=tuple(OpenAIVectorizer.from_wire(v) for v in vectorizers),
            compressions=tuple(Compression.from_wire(c) for c in wire.get("compressions") or []),
            extra=_rest(wire, ("algorithms", "profiles", "vectorizers", "compressions")),
        )


@dataclass(frozen=True)
class SemanticConfig:
    """One semantic configuration: a title field, ordered content fields and keywords fields."""

    name: str
    title_field: str | None = None
    content_fields: tuple[str, ...] = ()
    keywords_fields: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.title_field is not None:
            fields["titleField"] = {"fieldName": self.title_field}
        if self.content_fields:
            fields["prioritizedContentFields"] = [{"fieldName": f} for f in self.content_fields]
        if self.keywords_fields:
            fields["prioritizedKeywordsFields"] = [{"fieldName": f} for f in self.keywords_fields]
        return {"name": self.name, "prioritizedFields": fields}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> SemanticConfig:
        fields = wire.get("prioritizedFields") or {}
        title = fields.get("titleField") or {}
        return cls(
            name=str(wire["name"]),
            title_field=title.get("fieldName"),
            content_fields=tuple(f["fieldName"] for f in fields.get("prioritizedContentFields") or []),
            keywords_fields=tuple(f["fieldName"] for f in fields.get("prioritizedKeywordsFields") or []),
        )


@dataclass(frozen=True)
class ScoringProfile:
    """A scoring profile; this project uses text weights only (other parts are kept as JSON in ``extra``)."""

    name: str
    text_weights: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    def to_wire(self) -> dict[str, Any]:
        text = {"text": {"weights": dict(self.text_weights)}} if self.text_weights else {}
        return {"name": self.name, **text, **self.extra}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> ScoringProfile:
        weights = (wire.get("text") or {}).get("weights") or {}
        extra = _rest(wire, ("name", "text"))
        return cls(name=str(wire["name"]), text_weights=MappingProxyType(dict(weights)), extra=extra)


@dataclass(frozen=True)
class IndexDefinition:
    """A whole index definition. ``semantic_default`` names the default semantic configuration."""

    name: str
    fields: tuple[IndexField, ...]
    vector_search: VectorSearch | None = None
    semantic_configurations: tuple[SemanticConfig, ...] = ()
    semantic_default: str | None = None
    scoring_profiles: tuple[ScoringProfile, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)

    _WIRE = ("name", "fields", "vectorSearch", "semantic", "scoringProfiles")

    def get_field(self, name: str) -> IndexField | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_wire(self) -> dict[str, Any]:
        """The REST JSON of this definition (what ``SearchIndex.as_dict()`` gives for the same index)."""
        body: dict[str, Any] = {"name": self.name, "fields": [f.to_wire() for f in self.fields]}
        if self.vector_search is not None:
            body["vectorSearch"] = self.vector_search.to_wire()
        if self.semantic_configurations or self.semantic_default:
            semantic: dict[str, Any] = _some(defaultConfiguration=self.semantic_default)
            semantic["configurations"] = [c.to_wire() for c in self.semantic_configurations]
            body["semantic"] = semantic
        if self.scoring_profiles:
            body["scoringProfiles"] = [p.to_wire() for p in self.scoring_profiles]
        return {**body, **self.extra}


def definition_from_wire(wire: Mapping[str, Any]) -> IndexDefinition:
    """An ``IndexDefinition`` from REST JSON (a served definition, or one stored by the local store)."""
    if any(_is_complex(f) for f in wire.get("fields") or []):
        fields: tuple[IndexField, ...] = ()
        extra = _rest(wire, ("name",))
    else:
        fields = tuple(IndexField.from_wire(f) for f in wire.get("fields") or [])
        extra = _rest(wire, IndexDefinition._WIRE)
        semantic = wire.get("semantic") or {}
        vector = wire.get("vectorSearch")
        return IndexDefinition(
            name=str(wire["name"]),
            fields=fields,
            vector_search=VectorSearch.from_wire(vector) if vector is not None else None,
            semantic_configurations=tuple(SemanticConfig.from_wire(c) for c in semantic.get("configurations") or []),
            semantic_default=semantic.get("defaultConfiguration"),
            scoring_profiles=tuple(ScoringProfile.from_wire(p) for p in wire.get("scoringProfiles") or []),
            extra=extra,
        )
    return IndexDefinition(name=str(wire["name"]), fields=fields, extra=extra)


def _is_complex(wire: Mapping[str, Any]) -> bool:
    return "ComplexType" in str(wire.get("type", ""))
