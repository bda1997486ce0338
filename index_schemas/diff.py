"""Every difference between two index definitions, each classified as IN PLACE or REBUILD.

Azure AI Search updates an existing index in place for: new fields, ``retrievable`` / ``searchAnalyzer`` /
``synonymMaps`` on existing fields, scoring profiles, semantic configurations, CORS, the description and the
encryption key, vectorizers, new vector algorithms / profiles / compressions, a profile's vectorizer, HNSW
``efSearch`` and the query-time rescoring options. Anything else needs a new index and a full reindex (REBUILD):
removing, renaming or retyping a field; flipping ``key`` / ``searchable`` / ``filterable`` / ``sortable`` /
``facetable`` / ``stored``; ``analyzer`` / ``indexAnalyzer`` / ``normalizer``; vector ``dimensions`` or a field's
vector profile; an algorithm's kind (exhaustive KNN -> HNSW), metric, ``m`` or ``efConstruction``; compression
parameters; suggesters; custom analyzers, tokenizers and filters (new ones need ``allowIndexDowntime``, which is
downtime) and the similarity algorithm. A setting this module does not know is assumed to need a rebuild.

Definitions are compared in their REST shape (``IndexDefinition.to_wire()``), so a definition built in code and one read
back from the service compare equal: unset values, ``null`` and empty lists are the same thing, a field attribute the
service fills in with its default equals one left out, and the index name and ETag are ignored. Named lists (fields,
profiles, configurations...) are matched by name; a field removed and another added with identical attributes are
reported as one rename.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from index_schemas.types import IndexDefinition


class ChangeKind(StrEnum):
    IN_PLACE = "in place"
    REBUILD = "rebuild"


IN_PLACE, REBUILD = ChangeKind.IN_PLACE, ChangeKind.REBUILD


@dataclass(frozen=True)
class Change:
    """One difference: ``path`` such as ``fields.embedding.dimensions``; ``what`` is added/removed/renamed/changed."""

    path: str
    kind: ChangeKind
    what: str
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        if self.what == "changed":
            return f"{self.path}: {self.before!r} -> {self.after!r} ({self.kind})"
        if self.what == "renamed":
            return f"{self.path}: renamed to {self.after!r} ({self.kind})"
        return f"{self.path}: {self.what} ({self.kind})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": str(self.kind),
            "what": self.what,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class SchemaDiff:
    changes: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def rebuild(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is REBUILD)

    @property
    def in_place(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is IN_PLACE)

    @property
    def kind(self) -> ChangeKind | None:
        """REBUILD if any change needs one, IN_PLACE if there are only in-place changes, None if there are none."""
        if self.rebuild:
            return REBUILD
        return IN_PLACE if self.changes else None

    def as_dict(self) -> dict[str, Any]:
        kind = self.kind
        return {"kind": str(kind) if kind else None, "changes": [c.as_dict() for c in self.changes]}


@dataclass(frozen=True)
class _Rule:
    """How changes to one named list classify: adding an item, removing one, and changing an attribute (dotted path
    inside the item) — ``in_place`` attributes change in place, every other one follows ``changed``."""

    added: ChangeKind
    removed: ChangeKind
    changed: ChangeKind
    in_place: frozenset[str] = field(default_factory=frozenset)


_ALL_IN_PLACE = _Rule(IN_PLACE, IN_PLACE, IN_PLACE)
_ALL_REBUILD = _Rule(REBUILD, REBUILD, REBUILD)
_FIELDS = _Rule(IN_PLACE, REBUILD, REBUILD, frozenset({"retrievable", "searchAnalyzer", "synonymMaps"}))
COLLECTIONS: dict[str, _Rule] = {
    "fields": _FIELDS,
    "scoringProfiles": _ALL_IN_PLACE,
    "semantic.configurations": _ALL_IN_PLACE,
    "vectorSearch.algorithms": _Rule(IN_PLACE, REBUILD, REBUILD, frozenset({"hnswParameters.efSearch"})),
    "vectorSearch.profiles": _Rule(IN_PLACE, REBUILD, REBUILD, frozenset({"vectorizer"})),
    "vectorSearch.vectorizers": _ALL_IN_PLACE,
    "vectorSearch.compressions": _Rule(
        IN_PLACE,
        REBUILD,
        REBUILD,
        frozenset({"rescoringOptions.enableRescoring", "rescoringOptions.defaultOversampling"}),
    ),
    "suggesters": _ALL_REBUILD,
    "analyzers": _ALL_REBUILD,
    "tokenizers": _ALL_REBUILD,
    "tokenFilters": _ALL_REBUILD,
    "charFilters": _ALL_REBUILD,
    "normalizers": _ALL_REBUILD,
}
SCALARS: dict[str, ChangeKind] = {
    "defaultScoringProfile": IN_PLACE,
    "corsOptions": IN_PLACE,
    "description": IN_PLACE,
    "encryptionKey": IN_PLACE,
    "semantic.defaultConfiguration": IN_PLACE,
    "similarity": REBUILD,
}
# Objects whose keys are compared one by one; an unknown key inside them classifies as given here.
CONTAINERS: dict[str, ChangeKind] = {"vectorSearch": REBUILD, "semantic": IN_PLACE}
IGNORED = frozenset({"name", "@odata.etag", "@odata.context", "e_tag"})
_STRING_TYPES = ("Edm.String", "Collection(Edm.String)")


def diff_indexes(old: IndexDefinition | Mapping[str, Any], new: IndexDefinition | Mapping[str, Any]) -> SchemaDiff:
    """Every change that turns ``old`` into ``new``, in a stable order (by path)."""
    before, after = normalize(old), normalize(new)
    changes: list[Change] = []
    for key in sorted((before.keys() | after.keys()) - IGNORED):
        if key in CONTAINERS:
            changes += _diff_container(key, before.get(key, {}), after.get(key, {}))
        else:
            changes += _diff_entry(key, before.get(key), after.get(key), default=REBUILD)
    return SchemaDiff(tuple(changes))


def normalize(definition: IndexDefinition | Mapping[str, Any]) -> dict[str, Any]:
    """The REST shape with field defaults filled in and every null / empty value dropped."""
    wire = definition.to_wire() if isinstance(definition, IndexDefinition) else dict(definition)
    if "fields" in wire:
        wire["fields"] = [_field_defaults(f) for f in wire["fields"] or []]
    return _clean(wire) or {}


def _field_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the service assumes for an attribute left out (it returns them all explicitly)."""
    spec = {k: v for k, v in spec.items() if v is not None}
    kind = str(spec.get("type", ""))
    if kind.startswith("Edm.ComplexType") or kind == "Collection(Edm.ComplexType)":
        return {**spec, "fields": [_field_defaults(f) for f in spec.get("fields") or []]}
    vector = "dimensions" in spec
    simple = not vector
    defaults = {
        "key": False,
        "retrievable": True,
        "stored": True,
        "searchable": vector or kind in _STRING_TYPES,
        "filterable": simple,
        "facetable": simple,
        "sortable": simple and not kind.startswith("Collection("),
    }
    return {**defaults, **spec}


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        cleaned = {str(k): _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None} or None
    if isinstance(value, list | tuple):
        cleaned = [_clean(v) for v in value]
        return [v for v in cleaned if v is not None] or None
    if isinstance(value, str) and type(value) is not str:  # StrEnum values compare as their text
        return str(value)
    return value


def _diff_container(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        path = f"{name}.{key}"
        changes += _diff_entry(path, before.get(key), after.get(key), default=CONTAINERS[name])
    return changes


def _diff_entry(path: str, before: Any, after: Any, *, default: ChangeKind) -> list[Change]:
    if before == after:
        return []
    if path in COLLECTIONS:
        return _diff_collection(path, COLLECTIONS[path], before or [], after or [])
    kind = SCALARS.get(path, default)
    what = "added" if before is None else "removed" if after is None else "changed"
    return [Change(path, kind, what, before, after)]


def _diff_collection(path: str, rule: _Rule, before: list[Any], after: list[Any]) -> list[Change]:
    old, new = _by_name(before), _by_name(after)
    removed = {n: old[n] for n in old.keys() - new.keys()}
    added = {n: new[n] for n in new.keys() - old.keys()}
    changes = _renames(path, rule, removed, added) if rule is _FIELDS else []
    changes += [Change(f"{path}.{n}", rule.removed, "removed", removed[n], None) for n in removed]
    changes += [Change(f"{path}.{n}", rule.added, "added", None, added[n]) for n in added]
    for item_name in old.keys() & new.keys():
        changes += _diff_item(f"{path}.{item_name}", rule, old[item_name], new[item_name])
    return sorted(changes, key=lambda c: c.path)


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {str(item.get("name", index)): item for index, item in enumerate(items)}


def _renames(path: str, rule: _Rule, removed: dict[str, Any], added: dict[str, Any]) -> list[Change]:
    """Pair each removed field with an added one of identical attributes; such pairs leave both dicts."""
    changes = []
    for old_name in sorted(removed):
        shape = {k: v for k, v in removed[old_name].items() if k != "name"}
        match = next((n for n in sorted(added) if {k: v for k, v in added[n].items() if k != "name"} == shape), None)
        if match is not None:
            changes.append(Change(f"{path}.{old_name}", rule.removed, "renamed", old_name, match))
            del added[match]
    for change in changes:
        del removed[change.before]
    return changes


def _diff_item(path: str, rule: _Rule, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    if rule is _FIELDS and (before.get("fields") or after.get("fields")):  # a complex field's sub-fields
        changes += _diff_collection(f"{path}.fields", rule, before.get("fields", []), after.get("fields", []))
        before = {k: v for k, v in before.items() if k != "fields"}
        after = {k: v for k, v in after.items() if k != "fields"}
    old, new = _flatten(before), _flatten(after)
    for attribute in sorted(old.keys() | new.keys()):
        if old.get(attribute) != new.get(attribute):
            kind = IN_PLACE if attribute in rule.in_place else rule.changed
            changes.append(Change(f"{path}.{attribute}", kind, "changed", old.get(attribute), new.get(attribute)))
    return changes


def _flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
