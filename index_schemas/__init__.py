"""Index definitions, one module per schema version, and their registry. Nothing here talks to the network.

``VERSIONS[v](params)`` builds version ``v``'s ``IndexDefinition`` (the project's own types, ``index_schemas.types``;
the Azure backend converts them to the SDK's model at its edge); ``TO_DOCUMENT[v](record, chunk)`` maps one chunk to
that version's search document. An alias (``grounding``) names whichever physical index (``grounding-v1``) is live;
``physical_name`` spells the physical name and ``parse_physical_name`` reads it back. ``field_specs`` flattens a
definition into plain values for backends that are not Azure AI Search (the local SQLite store derives its tables
from them). ``index_schemas.diff`` classifies the changes between two definitions as in place or rebuild.

``LATEST`` is the version a fresh deployment creates and ``schema apply`` / ``schema migrate`` target by default. A
newer registered version is available to ``--to N`` before it is released; releasing it is bumping ``LATEST`` (see
docs/schema-versions.md). ``tracks_acl(v)`` says whether version ``v`` has the access-control fields (v3 on).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from index_schemas import v1, v2, v3
from index_schemas.documents import ChunkLike, RecordLike
from index_schemas.errors import SchemaError
from index_schemas.names import is_valid_index_name
from index_schemas.params import COMPRESSIONS, SchemaParams, VectorizerParams
from index_schemas.types import VECTOR_TYPE, IndexDefinition, IndexField

__all__ = [
    "COMPRESSIONS",
    "LATEST",
    "TO_DOCUMENT",
    "VERSIONS",
    "FieldSpec",
    "IndexDefinition",
    "SchemaError",
    "SchemaParams",
    "VectorizerParams",
    "field_specs",
    "parse_physical_name",
    "physical_name",
    "tracks_acl",
]

VERSIONS: dict[int, Callable[[SchemaParams], IndexDefinition]] = {
    v1.VERSION: v1.build,
    v2.VERSION: v2.build,
    v3.VERSION: v3.build,
}
TO_DOCUMENT: dict[int, Callable[[RecordLike, ChunkLike], dict[str, object]]] = {
    v1.VERSION: v1.to_document,
    v2.VERSION: v2.to_document,
    v3.VERSION: v3.to_document,
}
# v3 (v2's file_type and title-boost, plus the ACL fields) is the released version: fresh deployments create it and
# an older live index reaches it with ``schema migrate --to 3`` (docs/schema-versions.md).
LATEST = 3


@dataclass(frozen=True)
class FieldSpec:
    """One top-level field of a definition as plain values. ``type`` is the item type for collections."""

    name: str
    type: str
    key: bool = False
    searchable: bool = False
    filterable: bool = False
    sortable: bool = False
    facetable: bool = False
    retrievable: bool = True
    collection: bool = False
    dimensions: int | None = None
    analyzer: str | None = None

    @property
    def is_vector(self) -> bool:
        return self.dimensions is not None


def tracks_acl(version: int) -> bool:
    """Whether documents of schema ``version`` carry ``oids`` and the ``acl_hash`` that keeps ACLs current (v3 on):
    only such an index can be trimmed at query time or take an ACL-only update."""
    if version not in VERSIONS:
        raise SchemaError(f"unknown index schema version {version}; known: {sorted(VERSIONS)}")
    names = {str(field.name) for field in VERSIONS[version](SchemaParams(name="acl-probe", dimensions=1)).fields}
    return {str(v3.Field.OIDS), str(v3.Field.ACL_HASH), str(v1.Field.GROUPS)} <= names


def physical_name(alias: str, version: int, *, rebuild: int = 1) -> str:
    """``grounding``, 1 -> ``grounding-v1``; ConfigurationError if the result is not a valid index name.

    ``rebuild`` numbers later rebuilds of one version (new vector dimensions or compression need a new index but no
    new schema version): ``grounding``, 2, rebuild=3 -> ``grounding-v2-r3``.
    """
    if version not in VERSIONS:
        raise SchemaError(f"unknown index schema version {version}; known: {sorted(VERSIONS)}")
    if rebuild < 1:
        raise ValueError(f"rebuild must be >= 1, got {rebuild}")
    name = f"{alias}-v{version}" + (f"-r{rebuild}" if rebuild > 1 else "")
    if not is_valid_index_name(name):
        raise SchemaError(f"{name!r} is not a valid Azure AI Search index name")
    return name


def parse_physical_name(alias: str, name: str) -> tuple[int, int] | None:
    """``(version, rebuild)`` when ``name`` is one of ``alias``'s physical names (``grounding-v2-r3`` -> (2, 3)), else
    None. Unregistered versions parse too: an index may outlive the code that defined it."""
    match = re.fullmatch(re.escape(alias) + r"-v([1-9][0-9]{0,5})(?:-r([2-9]|[1-9][0-9]{1,5}))?", name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 1)


def field_specs(index: IndexDefinition) -> list[FieldSpec]:
    """The top-level fields of ``index`` in definition order (complex fields are not used by any version)."""
    return [_spec(field) for field in index.fields]


def _spec(field: IndexField) -> FieldSpec:
    collection = field.type.startswith("Collection(")
    item_type = field.type[len("Collection(") : -1] if collection else field.type
    return FieldSpec(
        name=field.name,
        type=item_type,
        key=field.key,
        searchable=field.searchable,
        filterable=field.filterable,
        sortable=field.sortable,
        facetable=field.facetable,
        retrievable=field.retrievable,
        collection=collection,
        dimensions=field.dimensions if field.type == VECTOR_TYPE else None,
        analyzer=field.analyzer,
    )
